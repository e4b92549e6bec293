#!/usr/bin/env bash
# run.sh [PASSES [BENCHTIME]]: runs every benchmark of this module PASSES
# times (default 6) at BENCHTIME (default 1s), one whole pass after another
# so that the implementations of a row alternate in time, and saves
#   results/DATE.txt            the raw go test output (benchstat input)
#   results/DATE-benchstat.txt  benchstat -col /impl, and the median ratios
# Needs benchstat on PATH or in $(go env GOPATH)/bin.
set -euo pipefail
cd "$(dirname "$0")"

passes=${1:-6}
benchtime=${2:-1s}
day=$(date +%F)
raw=results/$day.txt
table=results/$day-benchstat.txt

benchstat=$(command -v benchstat || echo "$(go env GOPATH)/bin/benchstat")
if [ ! -x "$benchstat" ]; then
	echo "run.sh: benchstat not found; go install golang.org/x/perf/cmd/benchstat@latest" >&2
	exit 1
fi

mkdir -p results
go test -c -o results/.bench.test .
trap 'rm -f results/.bench.test' EXIT
: >"$raw"
for i in $(seq "$passes"); do
	echo "run.sh: pass $i of $passes" >&2
	./results/.bench.test -test.run='^$' -test.bench=. -test.benchtime="$benchtime" | tee -a "$raw"
done

{
	echo "# go test -run='^\$' -bench=. -benchtime=$benchtime, $passes passes; raw output in $day.txt"
	echo "# benchstat -col /impl $day.txt"
	echo
	"$benchstat" -col /impl "$raw"
	echo
	echo "# go run ./ratios $day.txt"
	echo
	go run ./ratios "$raw"
} >"$table" 2>&1
echo "run.sh: wrote $raw and $table" >&2
