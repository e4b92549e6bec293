#!/usr/bin/env bash
# Run every fuzz target of the root module for FUZZTIME each.
#
# Usage: scripts/fuzz-smoke.sh [package patterns...]   (default: ./...)
# Environment: FUZZTIME (default 10s), GO (default go).
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
	set -- ./...
fi

# Discover: "import/path FuzzName" lines.
targets=()
while read -r pkg dir; do
	if ! grep -qs '^func Fuzz' "$dir"/*_test.go; then
		continue
	fi
	while read -r name; do
		targets+=("$pkg $name")
	done < <("$GO" test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true)
done < <(GOWORK=off "$GO" list -f '{{.ImportPath}} {{.Dir}}' "$@")

n=${#targets[@]}
echo "fuzz-smoke: $n fuzz targets, each $FUZZTIME"
if [ "$n" -eq 0 ]; then
	exit 0
fi
printf '  %s\n' "${targets[@]}"

failed=()
log=$(mktemp)
trap 'rm -f "$log"' EXIT
start_all=$SECONDS
for t in "${targets[@]}"; do
	pkg=${t% *}
	name=${t#* }
	echo
	echo "--> $pkg $name (fuzztime $FUZZTIME)"
	start=$SECONDS
	ok=false
	for attempt in 1 2; do
		if GOWORK=off "$GO" test -run='^$' -fuzz="^${name}\$" -fuzztime="$FUZZTIME" "$pkg" 2>&1 | tee "$log"; then
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
