#!/usr/bin/env bash
# Run every fuzz target of the root module and of the nested gssapi module
# for FUZZTIME each.
#
# Usage: scripts/fuzz-smoke.sh [package patterns...]
#        (default: ./... ./gssapi/..., that is the root module, whose ./...
#        stops at nested modules, and the gssapi module)
# Environment: FUZZTIME (default 10s), GO (default go).
#
# A pattern is a path from the repository's root (./zap, ./gssapi/...); it
# is listed and fuzzed in the module that holds it, the nearest directory
# above it with a go.mod, so that a nested module's packages are built with
# its own go.mod. conformance/ and bench/ (cgo, libzmq) have no fuzz
# targets and are not searched.
#
# Targets are found automatically: a package is a candidate when one of its
# _test.go files has a line starting with "func Fuzz", and its targets are
# what `go test -list '^Fuzz'` reports. Go fuzzes one target of one package
# per run, so each target is a run of its own. The generated corpus goes to
# GOCACHE; Go writes to the package's testdata/fuzz only when a target fails
# (the failing input, to be committed as a regression test once fixed).
#
# Every target runs even when an earlier one fails; the exit status is 1 if
# any failed.
set -euo pipefail

GO="${GO:-go}"
FUZZTIME="${FUZZTIME:-10s}"

cd "$(dirname "$0")/.."

if [ "$#" -eq 0 ]; then
	set -- ./... ./gssapi/...
fi

# module_of prints the module directory holding a pattern's directory (the
# nearest one above it with a go.mod) and the pattern relative to it.
module_of() {
	local p=${1#./} d m
	p=${p%/}
	case $p in
	... | "") d=. p=... ;;
	*/...) d=${p%/...} ;;
	*) d=$p ;;
	esac
	m=$d
	while [ "$m" != . ] && [ ! -f "$m/go.mod" ]; do
		m=$(dirname "$m")
	done
	if [ "$m" = . ]; then
		echo ". ./$p"
	elif [ "$p" = "$m" ]; then
		echo "$m ."
	else
		echo "$m ./${p#"$m"/}"
	fi
}

# Discover: "moduledir import/path FuzzName" lines.
targets=()
for pattern in "$@"; do
	read -r mod rel < <(module_of "$pattern")
	while read -r pkg dir; do
		if ! grep -qs '^func Fuzz' "$dir"/*_test.go; then
			continue
		fi
		while read -r name; do
			targets+=("$mod $pkg $name")
		done < <(cd "$mod" && GOWORK=off "$GO" test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true)
	done < <(cd "$mod" && GOWORK=off "$GO" list -f '{{.ImportPath}} {{.Dir}}' "$rel")
done

n=${#targets[@]}
echo "fuzz-smoke: $n fuzz targets, each $FUZZTIME"
if [ "$n" -eq 0 ]; then
	exit 0
fi
for t in "${targets[@]}"; do
	echo "  ${t#* }"
done

failed=()
log=$(mktemp)
trap 'rm -f "$log"' EXIT
start_all=$SECONDS
for t in "${targets[@]}"; do
	read -r mod pkg name <<<"$t"
	echo
	echo "--> $pkg $name (fuzztime $FUZZTIME)"
	start=$SECONDS
	ok=false
	for attempt in 1 2; do
		if (cd "$mod" && GOWORK=off "$GO" test -run='^$' -fuzz="^${name}\$" -fuzztime="$FUZZTIME" "$pkg") 2>&1 | tee "$log"; then
			ok=true
			break
		fi
		# Go 1.26's fuzzing coordinator sometimes ends a run with "context
		# deadline exceeded" when -fuzztime runs out while a worker is busy,
		# without any failing input (none is written to testdata). That is
		# not a finding; run the target once more. A real failure writes
		# its input and is never retried.
		if [ "$attempt" -eq 1 ] && grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written to' "$log"; then
			echo "fuzz-smoke: $name: the fuzzing engine timed out with no failing input; running it again"
			continue
		fi
		break
	done
	if $ok; then
		echo "<-- ok   $pkg $name in $((SECONDS - start))s"
	else
		echo "<-- FAIL $pkg $name in $((SECONDS - start))s"
		failed+=("$pkg $name")
	fi
done

echo
echo "fuzz-smoke: $n fuzz targets, each $FUZZTIME, in $((SECONDS - start_all))s total"
if [ "${#failed[@]}" -gt 0 ]; then
	echo "fuzz-smoke: ${#failed[@]} failed (the failing input is in the package's testdata/fuzz/<target>/):"
	printf '  %s\n' "${failed[@]}"
	exit 1
fi
