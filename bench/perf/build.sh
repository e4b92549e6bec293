#!/usr/bin/env bash
# build.sh [DIR]: compiles zmqperf.c, the native libzmq perf peer, into
# DIR/zmqperf, and boxperf.c (libzmq's CURVE crypto alone) into DIR/boxperf
# (default: bench/build, which git ignores). Needs a C compiler ($CC,
# default cc) and pkg-config with libzmq's and libsodium's .pc files (make
# deps at the repository root installs them). No cgo: the binary links libzmq directly.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../build}
cc=${CC:-cc}
for tool in "$cc" pkg-config; do
	if ! command -v "$tool" >/dev/null; then
		echo "build.sh: $tool not found (make deps installs it)" >&2
		exit 1
	fi
done
if ! pkg-config --exists libzmq; then
	echo "build.sh: pkg-config knows no libzmq (make deps installs libzmq3-dev)" >&2
	exit 1
fi
mkdir -p "$out"
# shellcheck disable=SC2046 # pkg-config's output is meant to be split
"$cc" -O2 -std=gnu11 -Wall -Wextra -o "$out/zmqperf" "$here/zmqperf.c" $(pkg-config --cflags --libs libzmq) -lpthread
# boxperf: libzmq's CURVE message crypto alone, on libsodium (which Debian's
# libzmq links, and libzmq3-dev pulls in with its headers).
if pkg-config --exists libsodium; then
	# shellcheck disable=SC2046
	"$cc" -O2 -std=gnu11 -Wall -Wextra -o "$out/boxperf" "$here/boxperf.c" $(pkg-config --cflags --libs libsodium)
else
	echo "build.sh: pkg-config knows no libsodium; boxperf not built (libzmq3-dev pulls in libsodium-dev)" >&2
fi
