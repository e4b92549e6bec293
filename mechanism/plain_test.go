package mechanism_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/zmtpsec/zmtpsec/internal/testhelp"
	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

func plainClient(t *testing.T, user, pass string) mechanism.Mechanism {
	t.Helper()
	m, err := mechanism.PlainClient(user, pass)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func allFrames(cmds []zmtp.Command) []byte {
	var b []byte
	for _, c := range cmds {
		b = append(b, frameBytes(c)...)
	}
	return b
}

// TestPlainPump runs PLAIN client and server handshakes against each other
// and checks the exact bytes each side sends (docs/wire-format.md#plain).
func TestPlainPump(t *testing.T) {
	hello := `04 13 05 "HELLO" 05 "admin" 06 "secret"`
	welcome := `04 08 07 "WELCOME"`
	tests := []struct {
		name       string
		handler    *recorder
		noHandler  bool
		rfcError   bool   // PlainRFCError
		wantClient string // every frame the client sends
		wantServer string // every frame the server sends
		check      func(t *testing.T, r pumpResult, c, s mechanism.Handshake)
	}{
		{
			name:       "200",
			handler:    &recorder{reply: &zap.Reply{StatusCode: 200, UserID: "admin", Metadata: md("X-Role", "ops")}},
			wantClient: hello + ` 04 40 08 "INITIATE"` + ` 0B "Socket-Type" 00 00 00 06 "DEALER" 08 "Identity" 00 00 00 03 "CLI" 07 "X-Hello" 00 00 00 05 "world"`,
			wantServer: welcome + ` 04 34 05 "READY" 0B "Socket-Type" 00 00 00 06 "ROUTER" 08 "Identity" 00 00 00 00 05 "X-Srv" 00 00 00 01 "1"`,
			check: func(t *testing.T, r pumpResult, c, s mechanism.Handshake) {
				if r.clientErr != nil || r.serverErr != nil || !c.Done() || !s.Done() {
					t.Fatalf("client %v done %v, server %v done %v", r.clientErr, c.Done(), r.serverErr, s.Done())
				}
				if !reflect.DeepEqual(c.Session().PeerMetadata, routerMD) || !reflect.DeepEqual(s.Session().PeerMetadata, dealerMD) {
					t.Errorf("metadata: client sees %q, server sees %q", c.Session().PeerMetadata, s.Session().PeerMetadata)
				}
				if z := s.Session().ZAP; z == nil || z.UserID != "admin" {
					t.Errorf("server Session().ZAP = %+v", z)
				}
				if c.Session().ZAP != nil {
					t.Error("client Session().ZAP set")
				}
			},
		},
		{
			name:       "400",
			handler:    &recorder{reply: &zap.Reply{StatusCode: 400, StatusText: "wrong password"}},
			wantClient: hello,
			// libzmq's PLAIN ERROR, byte for byte as libzmq 4.3.4 sends it.
			wantServer: `04 09 5E "RROR" 03 "400"`,
			check: func(t *testing.T, r pumpResult, c, s mechanism.Handshake) {
				var ae *mechanism.AuthError
				if !errors.As(r.serverErr, &ae) || ae.Status != 400 || ae.Mechanism != "PLAIN" {
					t.Errorf("server err = %v", r.serverErr)
				}
				var pe *mechanism.PeerError
				if !errors.As(r.clientErr, &pe) || pe.Status() != 400 || pe.Mechanism != "PLAIN" {
					t.Errorf("client err = %v", r.clientErr)
				}
			},
		},
		{
			name:       "500 from a handler error",
			handler:    &recorder{err: errors.New("boom")},
			wantClient: hello,
			wantServer: `04 09 5E "RROR" 03 "500"`,
			check: func(t *testing.T, r pumpResult, c, s mechanism.Handshake) {
				var pe *mechanism.PeerError
				if !errors.As(r.clientErr, &pe) || pe.Status() != 500 {
					t.Errorf("client err = %v", r.clientErr)
				}
			},
		},
		{
			name:       "400 in the RFC form",
			rfcError:   true,
			handler:    &recorder{reply: &zap.Reply{StatusCode: 400}},
			wantClient: hello,
			wantServer: `04 0A 05 "ERROR" 03 "400"`,
			check: func(t *testing.T, r pumpResult, c, s mechanism.Handshake) {
				var pe *mechanism.PeerError
				if !errors.As(r.clientErr, &pe) || pe.Status() != 400 {
					t.Errorf("client err = %v", r.clientErr)
				}
			},
		},
		{
			name:       "300",
			handler:    &recorder{reply: &zap.Reply{StatusCode: 300}},
			wantClient: hello,
			wantServer: ``,
			check: func(t *testing.T, r pumpResult, c, s mechanism.Handshake) {
				var ae *mechanism.AuthError
				if !errors.As(r.serverErr, &ae) || ae.Status != 300 {
					t.Errorf("server err = %v", r.serverErr)
				}
				if r.clientErr != nil || c.Done() {
					t.Errorf("client: %v, Done %v; want still waiting", r.clientErr, c.Done())
				}
			},
		},
		{
			name:       "no handler",
			noHandler:  true,
			wantClient: hello,
			wantServer: ``,
			check: func(t *testing.T, r pumpResult, c, s mechanism.Handshake) {
				if !errors.Is(r.serverErr, mechanism.ErrNoZAPHandler) {
					t.Errorf("server err = %v, want ErrNoZAPHandler", r.serverErr)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := mechanism.Params{Metadata: routerMD, Domain: "", PeerAddress: "127.0.0.1"}
			if !tt.noHandler {
				sp.ZAP = tt.handler
			}
			c := newHandshake(t, plainClient(t, "admin", "secret"), mechanism.Params{Metadata: dealerMD})
			var opts []mechanism.PlainServerOption
			if tt.rfcError {
				opts = append(opts, mechanism.PlainRFCError())
			}
			s := newHandshake(t, mechanism.PlainServer(opts...), sp)
			r := pump(t, c, s)
			if got, want := allFrames(r.fromClient), testhelp.Wire(tt.wantClient); !bytes.Equal(got, want) {
				t.Errorf("client sent\n% x\nwant\n% x", got, want)
			}
			if got, want := allFrames(r.fromServer), testhelp.Wire(tt.wantServer); !bytes.Equal(got, want) {
				t.Errorf("server sent\n% x\nwant\n% x", got, want)
			}
			tt.check(t, r, c, s)
			if tt.handler != nil {
				if len(tt.handler.reqs) != 1 {
					t.Fatalf("handler called %d times", len(tt.handler.reqs))
				}
				req := tt.handler.reqs[0]
				if req.Mechanism != "PLAIN" || req.Version != "1.0" || string(req.RequestID) != "1" ||
					req.Address != "127.0.0.1" || len(req.Credentials) != 2 ||
					string(req.Credentials[0]) != "admin" || string(req.Credentials[1]) != "secret" {
					t.Errorf("request = %+v", req)
				}
			}
		})
	}
}

// TestPlainServerScript feeds a PLAIN server out-of-order and malformed
// commands.
func TestPlainServerScript(t *testing.T) {
	okHello := zmtp.Command{Name: zmtp.CmdHello, Data: testhelp.Wire(`05 "admin" 06 "secret"`)}
	tests := []struct {
		name    string
		in      []zmtp.Command
		wantErr func(error) bool
	}{
		{"INITIATE first", []zmtp.Command{{Name: zmtp.CmdInitiate}}, unexpected([]string{"HELLO"}, "INITIATE")},
		{"READY first", []zmtp.Command{{Name: zmtp.CmdReady}}, unexpected([]string{"HELLO"}, "READY")},
		{"ERROR first", []zmtp.Command{errorCmd("400")}, unexpected([]string{"HELLO"}, "ERROR")},
		{"HELLO twice", []zmtp.Command{okHello, okHello}, unexpected([]string{"INITIATE"}, "HELLO")},
		{"command after INITIATE", []zmtp.Command{okHello, {Name: zmtp.CmdInitiate}, {Name: zmtp.CmdInitiate}}, unexpected(nil, "INITIATE")},
		{"HELLO empty", []zmtp.Command{{Name: zmtp.CmdHello}}, isMalformed},
		{"HELLO password too short", []zmtp.Command{{Name: zmtp.CmdHello, Data: testhelp.Wire(`05 "admin" 07 "secret"`)}}, isMalformed},
		{"HELLO trailing byte", []zmtp.Command{{Name: zmtp.CmdHello, Data: testhelp.Wire(`05 "admin" 06 "secret" 00`)}}, isMalformed},
		{"HELLO username past the end", []zmtp.Command{{Name: zmtp.CmdHello, Data: testhelp.Wire(`09 "admin"`)}}, isMalformed},
		{"INITIATE with bad metadata", []zmtp.Command{okHello, {Name: zmtp.CmdInitiate, Data: testhelp.Wire(`01`)}}, isMetadataMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{reply: &zap.Reply{StatusCode: 200}}
			h := newHandshake(t, mechanism.PlainServer(), mechanism.Params{ZAP: rec})
			if out, err := h.Start(context.Background()); err != nil || len(out) != 0 {
				t.Fatalf("Start = %q, %v; the server waits for HELLO", out, err)
			}
			var err error
			for _, cmd := range tt.in {
				if _, err = h.Handle(context.Background(), cmd); err != nil {
					break
				}
			}
			if err == nil || !tt.wantErr(err) {
				t.Fatalf("err = %v", err)
			}
			checkFinal(t, h, err)
		})
	}
}

// TestPlainClientScript feeds a PLAIN client what a server might send.
func TestPlainClientScript(t *testing.T) {
	welcome := zmtp.Command{Name: zmtp.CmdWelcome}
	tests := []struct {
		name    string
		in      []zmtp.Command
		wantErr func(error) bool
		done    bool
	}{
		{"WELCOME READY", []zmtp.Command{welcome, ready(routerMD)}, nil, true},
		{"READY before WELCOME", []zmtp.Command{ready(nil)}, unexpected([]string{"WELCOME", "ERROR"}, "READY"), false},
		{"HELLO", []zmtp.Command{{Name: zmtp.CmdHello}}, unexpected([]string{"WELCOME", "ERROR"}, "HELLO"), false},
		{"WELCOME twice", []zmtp.Command{welcome, welcome}, unexpected([]string{"READY", "ERROR"}, "WELCOME"), false},
		{"after READY", []zmtp.Command{welcome, ready(nil), ready(nil)}, unexpected(nil, "READY"), true},
		{"WELCOME with data", []zmtp.Command{{Name: zmtp.CmdWelcome, Data: []byte{0}}}, isMalformed, false},
		{"ERROR instead of WELCOME", []zmtp.Command{errorCmd("400")}, peerErr("400", 400), false},
		{"ERROR instead of READY", []zmtp.Command{welcome, errorCmd("500")}, peerErr("500", 500), false},
		{"libzmq's PLAIN ERROR", []zmtp.Command{mustParse(testhelp.Wire(`5E "RROR" 03 "400"`))}, peerErr("400", 400), false},
		{"bad READY metadata", []zmtp.Command{welcome, {Name: zmtp.CmdReady, Data: testhelp.Wire(`05 "X"`)}}, isMetadataMalformed, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHandshake(t, plainClient(t, "u", "p"), mechanism.Params{})
			if _, err := h.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			var err error
			for i, cmd := range tt.in {
				if _, err = h.Handle(context.Background(), cmd); err != nil {
					break
				}
				if tt.done && i == 1 && !h.Done() {
					t.Fatal("not Done after READY")
				}
			}
			if tt.wantErr == nil {
				if err != nil || !h.Done() {
					t.Fatalf("err = %v, Done %v", err, h.Done())
				}
				return
			}
			if err == nil || !tt.wantErr(err) {
				t.Fatalf("err = %v", err)
			}
			checkFinal(t, h, err)
		})
	}
}

func TestPlainClientLimits(t *testing.T) {
	long := strings.Repeat("x", 256)
	if _, err := mechanism.PlainClient(long, ""); err == nil {
		t.Error("256-byte username accepted")
	}
	if _, err := mechanism.PlainClient("", long); err == nil {
		t.Error("256-byte password accepted")
	}
	m, err := mechanism.PlainClient(long[:255], long[:255])
	if err != nil {
		t.Fatal(err)
	}
	h := newHandshake(t, m, mechanism.Params{})
	out, _ := h.Start(context.Background())
	if len(out) != 1 || out[0].Len() != 1+5+2+255+255 {
		t.Fatalf("HELLO of %d bytes", out[0].Len())
	}
}

// TestPlainClientDoesNotPrintPassword: %v and %+v of the mechanism keep the
// password out of logs.
func TestPlainClientDoesNotPrintPassword(t *testing.T) {
	m := plainClient(t, "admin", "hunter2")
	for _, f := range []string{"%v", "%+v", "%s"} {
		if s := fmt.Sprintf(f, m); strings.Contains(s, "hunter2") {
			t.Errorf("%s prints the password: %s", f, s)
		}
	}
	if m.Name() != "PLAIN" || m.AsServer() || !mechanism.PlainServer().AsServer() {
		t.Error("PLAIN names or roles")
	}
}
