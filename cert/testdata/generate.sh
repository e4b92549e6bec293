#!/bin/sh
# generate.sh writes the golden certificate files in testdata/pyzmq and
# testdata/czmq with the real tools. It was run once; the output is
# committed and the tests only read it. Run it from cert/testdata on Debian 12
# with the packages python3-zmq (pyzmq 24.0.1, libzmq 4.3.4) and libczmq-dev
# (CZMQ 4.2.1) installed:
#
#	apt-get install -y python3-zmq libczmq-dev gcc pkg-config
#	sh generate.sh
#
# Running it again makes new keys and timestamps; the tests read the keys
# from the files, except for the CZMQ client, which uses the published
# libzmq test key pair.
set -eu
cd "$(dirname "$0")"
rm -rf pyzmq czmq
mkdir pyzmq czmq

# pyzmq: zmq.auth.create_certificates, with Debian's Python (not a pyenv one).
/usr/bin/python3 -c 'import zmq.auth; zmq.auth.create_certificates("pyzmq", "client", metadata={"name":"example-client","email":"client@example.invalid"})'
/usr/bin/python3 -c 'import zmq.auth; zmq.auth.create_certificates("pyzmq", "server")'

# CZMQ: zcert_save from a small C program.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gcc -Wall -o "$tmp/czmq_cert" czmq_cert.c $(pkg-config --cflags --libs libczmq libzmq)
"$tmp/czmq_cert" czmq

/usr/bin/python3 -c 'import zmq; print("pyzmq", zmq.__version__, "libzmq", zmq.zmq_version())'
echo "CZMQ $(pkg-config --modversion libczmq)"
ls -l pyzmq czmq
