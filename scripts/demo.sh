#!/usr/bin/env bash
# make demo: zmtpcat, netcat for ZMTP, on loopback, in three acts:
#   1. NULL REQ/REP over tcp: an echo server and a client.
#   2. NULL PUB/SUB: a subscriber sees only the topic it subscribed to.
#   3. CURVE with a ZAP authenticator over a client-certificate directory:
#      an allowed client, started before the server, connects once it is
#      there and talks; an unknown one is refused with ZAP 400, and a
#      removed certificate takes effect on the next handshake.
# Each act is a function; add one by writing it and listing it at the end.
# Needs only Go. Run from anywhere; finishes in a few seconds.
set -euo pipefail

cd "$(dirname "$0")/.."
GO=${GO:-go}
work=$(mktemp -d)
pids=()
cleanup() {
	exec 3>&-
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\n== %s ==\n' "$*"; }
show() { printf '$ %s\n' "$*"; }
fail() {
	echo "demo: $*" >&2
	exit 1
}

# serve NAME ARGS...: starts `zmtpcat -bind ARGS` in the background, its
# stdin from NAME.in (default /dev/null), stdout and stderr into NAME.out
# and NAME.err; waits until it listens and sets ep to its endpoint and
# server to its process id. Give it
# port 0: the system picks a free port and zmtpcat says which.
serve() {
	local name=$1
	shift
	local in=/dev/null
	[ -e "$name.in" ] && in=$name.in
	show "zmtpcat -bind $*"
	zmtpcat -bind "$@" <"$in" >"$name.out" 2>"$name.err" 3>&- &
	server=$!
	pids+=("$server")
	ep=
	for _ in $(seq 200); do
		ep=$(sed -n 's/^zmtpcat: listening on //p' "$name.err")
		[ -n "$ep" ] && break
		kill -0 "$server" 2>/dev/null || fail "$name did not start: $(cat "$name.err")"
		sleep 0.02
	done
	[ -n "$ep" ] || fail "$name did not start listening"
	echo "(listening on $ep)"
}

build() {
	say "building zmtpcat and curvekeygen"
	"$GO" build -o "$work/bin/" ./cmd/zmtpcat ./cmd/curvekeygen
	export PATH="$work/bin:$PATH"
	cd "$work"
}

null_reqrep() {
	say "NULL REQ/REP over tcp"
	echo "An echo server (REP) answers each request with the request itself."
	serve rep -type REP -echo tcp://127.0.0.1:0
	printf 'hello\nmultipart\tmessage\ncheerio\n' >req.in
	echo "A REQ client sends three requests, one per line (a TAB separates frames), and waits for three replies:"
	show "zmtpcat -type REQ -n 3 $ep < req.in"
	zmtpcat -type REQ -n 3 "$ep" <req.in
	echo "What the server printed (the REQ envelope stripped):"
	cat rep.out
	echo "Its log, one line per connection:"
	cat rep.err
}

null_pubsub() {
	say "NULL PUB/SUB with a subscription filter"
	echo "A publisher (PUB) sends sport.* and weather.* lines; the subscriber wants weather. only."
	mkfifo pub.in
	exec 3<>pub.in # the publisher's stdin: we write its lines on fd 3
	serve pub -type PUB tcp://127.0.0.1:0
	local pub=$server
	show "zmtpcat -type SUB -subscribe weather. -n 3 $ep"
	zmtpcat -type SUB -subscribe weather. -n 3 "$ep" >sub.out 2>sub.err 3>&- &
	local sub=$!
	pids+=("$sub")
	# A subscription reaches the publisher a moment after the connection:
	# publish until the subscriber has its three messages.
	local i=0
	while kill -0 "$sub" 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -le 250 ] || fail "the subscriber got nothing: $(cat sub.err)"
		printf 'sport.%d\tgoal!\nweather.%d\tsunny\n' "$i" "$i" >&3
		sleep 0.02
	done
	wait "$sub" || fail "the subscriber failed: $(cat sub.err)"
	echo "The subscriber printed (no sport):"
	cat sub.out
	grep -q sport sub.out && fail "the filter let sport through"
	exec 3>&- # the end of the publisher's stdin: it sends what is queued and exits 0
	wait "$pub" || fail "the publisher failed: $(cat pub.err)"
}

curve_zap() {
	say "CURVE with a ZAP authenticator over a certificate directory"
	echo "Certificates: one for the server, one for alice (allowed), one for mallory (not)."
	show "curvekeygen -cert server -dir certs -meta name=demo-server"
	curvekeygen -cert server -dir certs -meta name=demo-server
	show "curvekeygen -cert alice -dir alice -meta name=alice -meta email=alice@example.invalid"
	curvekeygen -cert alice -dir alice -meta name=alice -meta email=alice@example.invalid
	show "curvekeygen -cert mallory -dir mallory -meta name=mallory"
	curvekeygen -cert mallory -dir mallory -meta name=mallory
	mkdir clients
	cp alice/alice.key clients/
	echo "clients/ holds the public certificates the server accepts: $(ls clients)"

	echo "alice starts first, before any server: like a libzmq socket, zmtpcat connects once the"
	echo "server is there. She has her certificate and the server's public key; three messages go round."
	echo "(The server listens on a Unix socket this time, so that the endpoint is known in advance.)"
	ep=ipc://$PWD/curve.sock
	printf 'hello from alice\nmultipart\tmessage\tparts\nthe end\n' >alice.in
	show "zmtpcat -identity alice -mechanism curve -cert alice/alice.key_secret -server-key certs/server.key -n 3 $ep < alice.in &"
	zmtpcat -identity alice -mechanism curve -cert alice/alice.key_secret -server-key certs/server.key -n 3 "$ep" <alice.in >alice.out 2>alice.err 3>&- &
	local alice=$!
	pids+=("$alice")
	sleep 0.3
	kill -0 "$alice" 2>/dev/null || fail "alice did not wait for the server: $(cat alice.err)"
	echo "A CURVE server (ROUTER, echo) asks ZAP about every client key:"
	serve curve -type ROUTER -echo -mechanism curve -curve-server -cert certs/server.key_secret -client-certs clients "$ep"
	wait "$alice" || fail "alice failed: $(cat alice.err)"
	echo "alice printed the echoes:"
	cat alice.out
	echo "and her log (her first attempt found nobody listening):"
	cat alice.err

	echo "mallory's key is not in clients/: ZAP answers 400 and the server sends ERROR (exit status 1):"
	show "echo hi | zmtpcat -mechanism curve -cert mallory/mallory.key_secret -server-key certs/server.key -n 1 $ep"
	if echo hi | zmtpcat -mechanism curve -cert mallory/mallory.key_secret -server-key certs/server.key -n 1 "$ep"; then
		fail "mallory was let in"
	fi

	echo "alice's certificate is removed; the server scans the directory again every second:"
	show "rm clients/alice.key; sleep 1.5"
	rm clients/alice.key
	sleep 1.5
	show "echo hi | zmtpcat -mechanism curve -cert alice/alice.key_secret -server-key certs/server.key -n 1 $ep"
	if echo hi | zmtpcat -mechanism curve -cert alice/alice.key_secret -server-key certs/server.key -n 1 "$ep"; then
		fail "a removed certificate still let alice in"
	fi

	echo "What the server printed (a ROUTER: the first frame is the client's routing id):"
	cat curve.out
	echo "Its log: alice's User-Id (her key in Z85), the refusals:"
	cat curve.err
}

build
null_reqrep
null_pubsub
curve_zap
say "demo done"
