package socket_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/socket"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// publishUntil sends m on pub every few milliseconds until sub receives a
// message (subscriptions travel asynchronously, as with libzmq: the slow
// joiner), and returns what sub received first.
func publishUntil(t *testing.T, pub, sub *socket.Socket, m ...string) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		send(t, pub, m...)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		got, err := sub.Recv(ctx)
		cancel()
		if err == nil {
			return strs(got)
		}
	}
	t.Fatalf("nothing received for %q", m)
	return nil
}

func TestPubSubFilter(t *testing.T) {
	pub := newSocket(t, zmtp.PUB, nil)
	ep := bind(t, pub)
	sub := newSocket(t, zmtp.SUB, nil)
	connect(t, sub, ep)
	if err := sub.Subscribe([]byte("A")); err != nil {
		t.Fatal(err)
	}
	publishUntil(t, pub, sub, "A0")
	for _, m := range []string{"B1", "A1", "", "A2"} {
		send(t, pub, m)
	}
	recv(t, sub, "A1")
	recv(t, sub, "A2")
	if err := sub.Send(ctxT(t), msg("x")); !errors.Is(err, socket.ErrNotSupported) {
		t.Fatalf("SUB Send: %v", err)
	}
	if _, err := pub.Recv(ctxT(t)); !errors.Is(err, socket.ErrNotSupported) {
		t.Fatalf("PUB Recv: %v", err)
	}
}

func TestXPubXSub(t *testing.T) {
	xpub := newSocket(t, zmtp.XPUB, nil)
	ep := bind(t, xpub)
	xsub := newSocket(t, zmtp.XSUB, nil)
	connect(t, xsub, ep)
	sub := newSocket(t, zmtp.SUB, nil)
	connect(t, sub, ep)
	waitPeers(t, xpub, 2)
	send(t, xsub, "\x01T")
	recv(t, xpub, "\x01T")
	if err := sub.Subscribe([]byte("T")); err != nil {
		t.Fatal(err)
	}
	publishUntil(t, xpub, sub, "T1") // sub's subscription has arrived: not reported, T had one
	// XSUB's cancellation is not reported while sub holds T; its data is.
	send(t, xsub, "\x00T")
	send(t, xsub, "data")
	recv(t, xpub, "data")
	// When the last holder of T leaves, the unsubscription is reported.
	sub.Close()
	recv(t, xpub, "\x00T")
}
