#!/usr/bin/env bash
# run-native.sh [-quick] [-reps N] [-layer socket|conn]
#
# zmtpsec against native libzmq 4.x, two processes per measurement: for each
# figure, the receiver and the sender of one implementation (cmd/zmtpperf,
# perf/zmqperf.c linked to libzmq, or gozmqperf on go-zeromq/zmq4) on
# 127.0.0.1, one implementation after the other, -reps times (default 5),
# the order of the implementations reversed every other repetition. Each
# ratio zmtpsec/other is taken within one repetition, and the table gives
# the median, min and max of those ratios (nativeratios). The raw RESULT
# lines, the setting and the table go to results/DATE-native.txt.
#
#   -quick        one repetition with small counts, a smoke test of every
#                 setup (about 15 s); output in build/native-quick.txt
#   -reps N       repetitions (default 5)
#   -layer L      zmtpsec over package socket (default) or a bare
#                 transport.Conn (conn)
#
# Needs go, a C compiler and libzmq with pkg-config (make deps). Binaries go
# to build/ (ignored by git).
set -euo pipefail
cd "$(dirname "$0")"

reps=5
quick=0
layer=socket
while [ $# -gt 0 ]; do
	case $1 in
	-quick) quick=1 reps=1 ;;
	-reps) reps=${2:?-reps needs a number}; shift ;;
	-layer) layer=${2:?-layer needs socket or conn}; shift ;;
	*) sed -n '2,20s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
	esac
	shift
done
case $layer in socket | conn) ;; *) echo "run-native.sh: -layer $layer: want socket or conn" >&2; exit 2 ;; esac

began=$(date +%s)
build=build
mkdir -p "$build"
echo "run-native.sh: building into bench/$build" >&2
./perf/build.sh "$build"
go build -o "$build/boxperf-go" ./boxperf
go build -o "$build/zmtpperf" github.com/zmtpsec/zmtpsec/cmd/zmtpperf
go build -o "$build/gozmqperf" ./gozmqperf
go build -o "$build/nativeratios" ./nativeratios

if [ "$quick" = 1 ]; then
	out=$build/native-quick.txt
else
	mkdir -p results
	out=results/$(date +%F)-native.txt
	n=2
	while [ -e "$out" ]; do out=results/$(date +%F)-native-$n.txt; n=$((n + 1)); done
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The figures: name, kind (thr, lat, conn), mechanism, payload size, count
# (messages, round trips, or connections per client), quick count, clients.
# Counts give runs of about 1 to 3 s each on a 2-core machine.
figures=(
	"thr_null_16 thr null 16 8000000 50000 1"
	"thr_null_1k thr null 1024 800000 20000 1"
	"thr_null_64k thr null 65536 20000 500 1"
	"thr_curve_16 thr curve 16 2000000 20000 1"
	"thr_curve_1k thr curve 1024 250000 5000 1"
	"thr_curve_64k thr curve 65536 8000 200 1"
	"lat_null_64 lat null 64 15000 300 1"
	"lat_curve_64 lat curve 64 15000 300 1"
	"conn_curve_1 conn curve 16 800 20 1"
	"conn_curve_2 conn curve 16 500 10 2"
	"box_curve_16 box curve 16 3000000 20000 1"
	"box_curve_1k box curve 1024 300000 2000 1"
	"box_curve_64k box curve 65536 5000 50 1"
)
# The box figures are not a race between ZMTP stacks: they time the CURVE
# message crypto alone in one process (perf/boxperf.c on libsodium, which
# libzmq uses, against boxperf/ on zmtpsec's internal/box), so that the
# crypto's own speed ratio stands beside the CURVE throughput it bounds.
# go-zeromq/zmq4 takes part in thr_null_16 (NULL only, and slow: its own count).
gozmq_fig=thr_null_16
gozmq_count=100000
gozmq_quick=5000

{
	echo "# run-native.sh ${*:-(no flags)}, $(date -u "+%F %T UTC")"
	echo "# commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (uncommitted changes)')"
	echo "# machine: nproc $(nproc), $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(uname -sr)"
	echo "# go: $(go env GOVERSION); libzmq: $(pkg-config --modversion libzmq); cc: $(${CC:-cc} --version | head -1)"
	echo "# zmtpsec layer: $layer; repetitions: $reps; quick: $quick"
	echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out"

# run_one FIG REP IMPL KIND MECH SIZE COUNT CLIENTS: one measurement, the
# binding side started first; its RESULT lines go to $out, tagged with the
# figure and the repetition, or a FAIL line.
run_one() {
	local fig=$1 rep=$2 impl=$3 kind=$4 mech=$5 size=$6 count=$7 clients=$8
	local srv cli bin extra=() args
	if [ "$kind" = box ]; then
		run_box "$@"
		return
	fi
	case $kind in
	thr) srv=local_thr cli=remote_thr ;;
	lat) srv=local_lat cli=remote_lat ;;
	conn) srv=conn_srv cli=conn_cli ;;
	esac
	case $impl in
	zmtpsec) bin=$build/zmtpperf extra=(-layer "$layer") ;;
	libzmq) bin=$build/zmqperf ;;
	gozmq) bin=$build/gozmqperf ;;
	esac
	args=(-mechanism "$mech" -size "$size" -count "$count" -timeout 30s)
	if [ "$kind" = conn ]; then args+=(-clients "$clients"); fi
	: >"$tmp/srv.out"
	timeout 300 "$bin" "$srv" -endpoint 'tcp://127.0.0.1:*' "${args[@]}" "${extra[@]}" >"$tmp/srv.out" 2>"$tmp/srv.err" &
	local spid=$! ep="" i src=0 crc=0
	for i in $(seq 1000); do # up to about 10 s for the READY line
		ep=$(sed -n 's/^READY endpoint=//p' "$tmp/srv.out")
		if [ -n "$ep" ] || ! kill -0 "$spid" 2>/dev/null; then break; fi
		sleep 0.01
	done
	if [ -z "$ep" ]; then
		kill "$spid" 2>/dev/null || true
		wait "$spid" || true
		echo "FAIL fig=$fig rep=$rep impl=$impl: $srv did not get ready" >>"$out"
		echo "run-native.sh: $fig rep $rep $impl: $srv did not get ready: $(cat "$tmp/srv.err")" >&2
		return
	fi
	timeout 300 "$bin" "$cli" -endpoint "$ep" "${args[@]}" "${extra[@]}" >"$tmp/cli.out" 2>"$tmp/cli.err" || crc=$?
	wait "$spid" || src=$?
	if [ "$src" != 0 ] || [ "$crc" != 0 ]; then
		echo "FAIL fig=$fig rep=$rep impl=$impl: $srv exit $src, $cli exit $crc" >>"$out"
		echo "run-native.sh: $fig rep $rep $impl failed: $srv exit $src, $cli exit $crc" >&2
		cat "$tmp/srv.err" "$tmp/cli.err" >&2
		return
	fi
	cat "$tmp/srv.out" "$tmp/cli.out" | sed -n "s/^RESULT /RESULT fig=$fig rep=$rep /p" >>"$out"
	# The measuring side's human line, as progress.
	local measuring=$srv
	if [ "$kind" != thr ]; then measuring=$cli; fi
	echo "rep $rep/$reps $fig $impl: $(grep -h "^$measuring: " "$tmp/srv.out" "$tmp/cli.out" || true)" >&2
}

# run_box FIG REP IMPL KIND MECH SIZE COUNT: one crypto-alone measurement
# (one process; IMPL zmtpsec or libsodium).
run_box() {
	local fig=$1 rep=$2 impl=$3 size=$6 count=$7 bin crc=0
	case $impl in
	zmtpsec) bin=$build/boxperf-go ;;
	libsodium) bin=$build/boxperf ;;
	esac
	timeout 300 "$bin" -size "$size" -count "$count" >"$tmp/box.out" 2>"$tmp/box.err" || crc=$?
	if [ "$crc" != 0 ]; then
		echo "FAIL fig=$fig rep=$rep impl=$impl: boxperf exit $crc" >>"$out"
		echo "run-native.sh: $fig rep $rep $impl failed: $(cat "$tmp/box.err")" >&2
		return
	fi
	sed -n "s/^RESULT /RESULT fig=$fig rep=$rep /p" "$tmp/box.out" >>"$out"
	echo "rep $rep/$reps $fig $impl: $(grep -h '^box_thr: ' "$tmp/box.out" || true)" >&2
}

for rep in $(seq "$reps"); do
	for f in "${figures[@]}"; do
		read -r fig kind mech size count qcount clients <<<"$f"
		if [ "$quick" = 1 ]; then count=$qcount; fi
		impls=(zmtpsec libzmq)
		if [ "$kind" = box ]; then impls=(zmtpsec libsodium); fi
		if [ "$fig" = "$gozmq_fig" ]; then impls+=(gozmq); fi
		if [ $((rep % 2)) = 0 ]; then # reversed every other repetition
			local_rev=()
			for ((i = ${#impls[@]} - 1; i >= 0; i--)); do local_rev+=("${impls[i]}"); done
			impls=("${local_rev[@]}")
		fi
		for impl in "${impls[@]}"; do
			c=$count
			if [ "$impl" = gozmq ]; then
				c=$gozmq_count
				if [ "$quick" = 1 ]; then c=$gozmq_quick; fi
			fi
			run_one "$fig" "$rep" "$impl" "$kind" "$mech" "$size" "$c" "$clients"
		done
	done
done

elapsed=$(($(date +%s) - began))
{
	echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg); driver runtime: ${elapsed} s"
	echo
	"$build/nativeratios" "$out"
} >"$tmp/table"
cat "$tmp/table" >>"$out"
cat "$tmp/table"
echo "run-native.sh: wrote bench/$out in ${elapsed} s" >&2
if grep -q '^FAIL ' "$out"; then
	echo "run-native.sh: some runs failed (FAIL lines in bench/$out)" >&2
	exit 1
fi
