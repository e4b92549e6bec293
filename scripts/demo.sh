#!/usr/bin/env bash
# The README's main job: a CURVE server with an in-process ZAP authenticator
# over a client-certificate directory, on loopback, and its clients: an
# allowed one exchanges messages (the server shows its User-Id), an unknown
# one is refused with ZAP 400. Needs only Go. Run from anywhere: make demo.
set -euo pipefail

cd "$(dirname "$0")/.."
GO=${GO:-go}
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

# free_port prints a TCP port nobody listens on.
free_port() {
	"$GO" run ./scripts/freeport 2>/dev/null || echo $((20000 + RANDOM % 20000))
}

say "building zmtpcat and curvekeygen"
"$GO" build -o "$work/bin/" ./cmd/zmtpcat ./cmd/curvekeygen
export PATH="$work/bin:$PATH"
cd "$work"

say "certificates: one for the server, one for alice (allowed), one for mallory (not)"
run curvekeygen -cert server -dir certs -meta name=demo-server
run curvekeygen -cert alice -dir alice -meta name=alice -meta email=alice@example.invalid
run curvekeygen -cert mallory -dir mallory -meta name=mallory
run mkdir clients
run cp alice/alice.key clients/
echo "clients/ holds the public certificates the server accepts: $(ls clients)"

port=$(cd - >/dev/null && free_port)
ep="tcp://127.0.0.1:$port"
say "a CURVE server (ROUTER, echo) on $ep, asking ZAP about every client key"
printf '$ %s\n' "zmtpcat -bind -type ROUTER -echo -mechanism curve -curve-server -cert certs/server.key_secret -client-certs clients $ep"
zmtpcat -bind -type ROUTER -echo -mechanism curve -curve-server -cert certs/server.key_secret -client-certs clients "$ep" \
	>server.out 2>server.err </dev/null &
pids+=($!)
for _ in $(seq 100); do grep -q 'listening on' server.err 2>/dev/null && break; sleep 0.05; done

say "alice connects with her certificate and the server's public key; three messages go round"
printf 'hello from alice\nmultipart\tmessage\tparts\nthe end\n' >alice.in
printf '$ %s\n' "zmtpcat -identity alice -mechanism curve -cert alice/alice.key_secret -server-key certs/server.key -n 3 $ep < alice.in"
zmtpcat -identity alice -mechanism curve -cert alice/alice.key_secret -server-key certs/server.key -n 3 "$ep" <alice.in

say "mallory's key is not in clients/: ZAP answers 400 and the server sends ERROR"
printf '$ %s\n' "echo hi | zmtpcat -mechanism curve -cert mallory/mallory.key_secret -server-key certs/server.key -n 1 $ep"
if echo hi | zmtpcat -mechanism curve -cert mallory/mallory.key_secret -server-key certs/server.key -n 1 "$ep"; then
	echo "demo: mallory was let in" >&2
	exit 1
fi

say "alice's certificate is removed; the directory is re-read on the next handshake"
run rm clients/alice.key
printf '$ %s\n' "echo hi | zmtpcat -mechanism curve -cert alice/alice.key_secret -server-key certs/server.key -n 1 $ep"
if echo hi | zmtpcat -mechanism curve -cert alice/alice.key_secret -server-key certs/server.key -n 1 "$ep" 2>alice2.err; then
	echo "demo: a removed certificate still let alice in" >&2
	exit 1
fi
cat alice2.err

sleep 0.2
say "what the server printed (a ROUTER: the first frame is the client's routing id)"
cat server.out
say "the server's log: alice's User-Id (her key in Z85), mallory's refusal"
cat server.err

say "demo done"
