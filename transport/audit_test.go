package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"

	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

func TestClassify(t *testing.T) {
	hs := func(step HandshakeStep, err error) error { return &HandshakeError{Step: step, Err: err} }
	tests := []struct {
		err   error
		want  Outcome
		count bool // counts towards a ban
	}{
		{hs(StepAuthentication, &mechanism.AuthError{Mechanism: "PLAIN", Status: 400}), OutcomeFailedAuth, true},
		{hs(StepAuthentication, &mechanism.AuthError{Mechanism: "PLAIN", Status: 300, Text: ZAPBusyText}), OutcomeFailedAuth, false},
		{hs(StepAuthentication, &mechanism.AuthError{Mechanism: "NULL", Status: 500, Err: &zap.Error{Reason: "handler failed", Err: ErrZAPTimeout}}), OutcomeFailedAuth, false},
		{hs(StepAuthentication, &ServerRefusedError{Mechanism: "CURVE", Status: 400, Err: &mechanism.PeerError{Mechanism: "CURVE", Reason: "400"}}), OutcomeFailedAuth, true},
		{hs(StepSecurity, &mechanism.PeerError{Mechanism: "PLAIN", Reason: "no"}), OutcomeFailedProtocol, true},
		{hs(StepVerify, errors.New("not you")), OutcomeFailedAuth, true},
		{hs(StepGreeting, io.EOF), OutcomeFailedNoDetail, true},
		{hs(StepGreeting, io.ErrUnexpectedEOF), OutcomeFailedNoDetail, true},
		{hs(StepSecurity, fmt.Errorf("%w (%w)", context.DeadlineExceeded, os.ErrDeadlineExceeded)), OutcomeFailedNoDetail, true},
		{hs(StepStart, errNotStarted), OutcomeFailedNoDetail, false},
		{hs(StepGreeting, &net.OpError{Op: "read", Err: net.ErrClosed}), OutcomeFailedNoDetail, false},
		{hs(StepSecurity, fmt.Errorf("%w (%w)", context.Canceled, io.EOF)), OutcomeFailedNoDetail, false},
		{configError("bad"), OutcomeFailedNoDetail, false},
		{hs(StepGreeting, &zmtp.MalformedError{What: "greeting"}), OutcomeFailedProtocol, true},
		{hs(StepSecurity, mechanism.ErrCookie), OutcomeFailedProtocol, true},
		{hs(StepSocketType, &SocketTypeError{Local: zmtp.ROUTER, Peer: zmtp.PUB}), OutcomeFailedProtocol, true},
		{hs(StepGreeting, &MechanismMismatchError{Local: "CURVE", Peer: "NULL"}), OutcomeFailedProtocol, true},
	}
	for i, tt := range tests {
		got := classify(tt.err)
		if got != tt.want {
			t.Errorf("%d: classify(%v) = %v, want %v", i, tt.err, got, tt.want)
		}
		ev := HandshakeEvent{Outcome: got, Err: tt.err}
		var ae *mechanism.AuthError
		if errors.As(tt.err, &ae) {
			ev.ZAPStatus = ae.Status
		}
		if c := countsAsFailure(ev); c != tt.count {
			t.Errorf("%d: countsAsFailure(%v) = %v, want %v", i, tt.err, c, tt.count)
		}
	}
	for _, o := range []Outcome{OutcomeSucceeded, OutcomeRefused} {
		if countsAsFailure(HandshakeEvent{Outcome: o}) {
			t.Errorf("%v counts as a failure", o)
		}
	}
	if s := Outcome(0).String(); s != "Outcome(0)" {
		t.Errorf("Outcome(0).String() = %q", s)
	}
}

// TestHandshakeEventTexts: the texts of an event, built only for a hook or
// a logger, name the peer's address and key: on a server, the key ZAP was
// asked about; on a client, the server's key once the handshake succeeded.
func TestHandshakeEventTexts(t *testing.T) {
	ccfg, scfg, cli := curveConfigs(t)
	events := make(chan HandshakeEvent, 2)
	ccfg.OnHandshake = func(ev HandshakeEvent) { events <- ev }
	scfg.OnHandshake = ccfg.OnHandshake
	scfg.ZAPHandler = zap.HandlerFunc(func(context.Context, *zap.Request) (*zap.Reply, error) {
		return &zap.Reply{StatusCode: zap.StatusOK}, nil
	})
	a, b := tcpConns(t)
	c, _ := handshaken(t, a, b, ccfg, scfg)
	serverKey := c.ConnectionState().PeerPublicKey
	for range 2 {
		ev := <-events
		want := struct{ addr, key string }{a.RemoteAddr().String(), serverKey.String()}
		if ev.Server {
			want.addr, want.key = b.RemoteAddr().String(), cli.Public.String()
		}
		if ev.Outcome != OutcomeSucceeded || ev.RemoteAddr != want.addr || ev.PublicKey != want.key {
			t.Errorf("server %v: outcome %v, address %q, key %q; want %q, %q", ev.Server, ev.Outcome, ev.RemoteAddr, ev.PublicKey, want.addr, want.key)
		}
	}
}
