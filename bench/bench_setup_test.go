package bench

import (
	"fmt"
	"testing"
)

// TestStream checks every one-way link the throughput benchmark uses: each
// payload size arrives intact and in order.
func TestStream(t *testing.T) {
	for _, im := range impls {
		for _, m := range mechs {
			if im.stream == nil || !im.supports(m) {
				continue
			}
			t.Run(im.name+"/"+m.name, func(t *testing.T) {
				t.Parallel()
				l := openStream(t, im, m)
				for i, size := range throughputSizes {
					p := payloadOf(size)
					p[0] = byte(i)
					if err := exchange(l.client, l.server, p); err != nil {
						l.abort()
						t.Fatalf("size %d: %v", size, err)
					}
				}
			})
		}
	}
}

// TestReqRep checks every REQ/REP link the round-trip benchmark uses, in
// both directions.
func TestReqRep(t *testing.T) {
	for _, im := range impls {
		for _, m := range mechs {
			if im.reqrep == nil || !im.supports(m) {
				continue
			}
			t.Run(im.name+"/"+m.name, func(t *testing.T) {
				t.Parallel()
				l := openReqRep(t, im, m)
				for _, size := range roundTripSizes {
					p := payloadOf(size)
					if err := exchange(l.client, l.server, p); err != nil {
						l.abort()
						t.Fatalf("size %d request: %v", size, err)
					}
					p[0] = 'R'
					if err := exchange(l.server, l.client, p); err != nil {
						l.abort()
						t.Fatalf("size %d reply: %v", size, err)
					}
				}
			})
		}
	}
}

// TestHandshake checks every dialer the handshake benchmark uses: a few
// whole connections in a row, each echoed its own message.
func TestHandshake(t *testing.T) {
	const conns = 3
	for _, im := range impls {
		for _, m := range mechs {
			if im.handshake == nil || !im.supports(m) {
				continue
			}
			t.Run(im.name+"/"+m.name, func(t *testing.T) {
				t.Parallel()
				dial := im.handshake(t, m, conns)
				for i := 0; i < conns; i++ {
					want := fmt.Appendf(nil, "connection %d", i)
					got, err := dial(want)
					if err != nil {
						t.Fatalf("connection %d: %v", i, err)
					}
					if err := samePayload(got, want); err != nil {
						t.Fatalf("connection %d: %v", i, err)
					}
				}
			})
		}
	}
}

// TestLibzmqVersion logs the libzmq the benchmarks link against.
func TestLibzmqVersion(t *testing.T) {
	t.Logf("libzmq %s", libzmqVersion())
}
