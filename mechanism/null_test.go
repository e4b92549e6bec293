package mechanism_test

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/zmtpsec/zmtpsec/internal/testhelp"
	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

var (
	dealerMD = md("Socket-Type", "DEALER", "Identity", "CLI", "X-Hello", "world")
	routerMD = md("Socket-Type", "ROUTER", "Identity", "", "X-Srv", "1")
)

func ready(m zmtp.Metadata) zmtp.Command {
	return zmtp.Command{Name: zmtp.CmdReady, Data: m.Append(nil)}
}

func errorCmd(reason string) zmtp.Command {
	return zmtp.Command{Name: zmtp.CmdError, Data: append([]byte{byte(len(reason))}, reason...)}
}

// TestNullPump runs NULL client and server handshakes against each other.
func TestNullPump(t *testing.T) {
	errRefused := errors.New("refused by the test")
	tests := []struct {
		name           string
		client, server mechanism.Params
		// check inspects the result; the pump has already run.
		check func(t *testing.T, r pumpResult, client, server mechanism.Handshake)
	}{
		{
			name:   "metadata both ways",
			client: mechanism.Params{Metadata: dealerMD},
			server: mechanism.Params{Metadata: routerMD},
			check: func(t *testing.T, r pumpResult, c, s mechanism.Handshake) {
				if r.clientErr != nil || r.serverErr != nil {
					t.Fatalf("errors: client %v, server %v", r.clientErr, r.serverErr)
				}
				if !c.Done() || !s.Done() {
					t.Fatalf("Done: client %v, server %v", c.Done(), s.Done())
				}
				if got := c.Session().PeerMetadata; !reflect.DeepEqual(got, routerMD) {
					t.Errorf("client sees %q, want %q", got, routerMD)
				}
				if got := s.Session().PeerMetadata; !reflect.DeepEqual(got, dealerMD) {
					t.Errorf("server sees %q, want %q", got, dealerMD)
				}
				if c.Session().ZAP != nil || s.Session().ZAP != nil {
					t.Error("ZAP reply without a handler")
				}
				// Each side sends exactly one READY and nothing else.
				wantC := frameBytes(ready(dealerMD))
				if len(r.fromClient) != 1 || !bytes.Equal(frameBytes(r.fromClient[0]), wantC) {
					t.Errorf("client sent %q, want one READY % x", r.fromClient, wantC)
				}
				if len(r.fromServer) != 1 || r.fromServer[0].Name != zmtp.CmdReady {
					t.Errorf("server sent %q, want one READY", r.fromServer)
				}
			},
		},
		{
			name:   "empty metadata",
			client: mechanism.Params{},
			server: mechanism.Params{},
			check: func(t *testing.T, r pumpResult, c, s mechanism.Handshake) {
				if !c.Done() || !s.Done() {
					t.Fatalf("not done: %v %v", r.clientErr, r.serverErr)
				}
				if got := frameBytes(r.fromClient[0]); !bytes.Equal(got, testhelp.Wire(`04 06 05 "READY"`)) {
					t.Errorf("empty READY = % x", got)
				}
				if len(c.Session().PeerMetadata) != 0 {
					t.Errorf("peer metadata %q", c.Session().PeerMetadata)
				}
			},
		},
		{
			name: "client check rejects the server's metadata",
			client: mechanism.Params{Metadata: dealerMD, CheckPeerMetadata: func(m zmtp.Metadata) error {
				if v, _ := m.GetExact("Socket-Type"); string(v) != "ROUTER" {
					return nil
				}
				return errRefused
			}},
			server: mechanism.Params{Metadata: routerMD},
			check: func(t *testing.T, r pumpResult, c, s mechanism.Handshake) {
				var me *mechanism.MetadataError
				if !errors.As(r.clientErr, &me) || me.Mechanism != "NULL" || !errors.Is(r.clientErr, errRefused) {
					t.Fatalf("client error = %v, want a NULL *MetadataError wrapping the check's error", r.clientErr)
				}
				if c.Done() {
					t.Error("client Done after a refusal")
				}
				// Like libzmq, a metadata refusal sends no ERROR.
				for _, cmd := range r.fromClient {
					if cmd.Name == zmtp.CmdError {
						t.Errorf("client sent ERROR for a metadata refusal")
					}
				}
			},
		},
		{
			name:   "server check rejects the client's metadata",
			client: mechanism.Params{Metadata: dealerMD},
			server: mechanism.Params{Metadata: routerMD, CheckPeerMetadata: func(zmtp.Metadata) error { return errRefused }},
			check: func(t *testing.T, r pumpResult, c, s mechanism.Handshake) {
				var me *mechanism.MetadataError
				if !errors.As(r.serverErr, &me) || !errors.Is(r.serverErr, errRefused) {
					t.Fatalf("server error = %v, want *MetadataError", r.serverErr)
				}
				if s.Done() {
					t.Error("server Done after a refusal")
				}
			},
		},
		{
			name:   "ZAP 400 on the server: the client gets PeerError",
			client: mechanism.Params{Metadata: dealerMD},
			server: mechanism.Params{Metadata: routerMD, Domain: "global", ZAP: statusHandler(400)},
			check: func(t *testing.T, r pumpResult, c, s mechanism.Handshake) {
				var ae *mechanism.AuthError
				if !errors.As(r.serverErr, &ae) || ae.Status != 400 {
					t.Fatalf("server error = %v, want *AuthError 400", r.serverErr)
				}
				var pe *mechanism.PeerError
				if !errors.As(r.clientErr, &pe) || pe.Reason != "400" || pe.Status() != zap.StatusAuthenticationError {
					t.Fatalf("client error = %v, want *PeerError 400", r.clientErr)
				}
				if c.Done() || s.Done() {
					t.Error("Done after a refusal")
				}
			},
		},
		{
			name:   "ZAP 300 on the server: nothing sent, the client waits",
			client: mechanism.Params{Metadata: dealerMD},
			server: mechanism.Params{Metadata: routerMD, Domain: "global", ZAP: statusHandler(300)},
			check: func(t *testing.T, r pumpResult, c, s mechanism.Handshake) {
				var ae *mechanism.AuthError
				if !errors.As(r.serverErr, &ae) || ae.Status != 300 {
					t.Fatalf("server error = %v, want *AuthError 300", r.serverErr)
				}
				if len(r.fromServer) != 0 {
					t.Errorf("server sent %q on 300", r.fromServer)
				}
				if r.clientErr != nil || c.Done() {
					t.Errorf("client: err %v, done %v; want still waiting", r.clientErr, c.Done())
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newHandshake(t, mechanism.Null(), tt.client)
			s := newHandshake(t, mechanism.Null(), tt.server)
			tt.check(t, pump(t, c, s), c, s)
		})
	}
}

// TestNullScript feeds one NULL handshake a scripted sequence of commands
// and checks the exact bytes it sends and the typed error it returns.
func TestNullScript(t *testing.T) {
	readyEmpty := zmtp.Command{Name: zmtp.CmdReady}
	ourReady := `04 06 05 "READY"`
	tests := []struct {
		name    string
		noStart bool           // call Handle without Start first
		in      []zmtp.Command // fed after Start, stopping at the first error
		wantOut string         // every frame sent, Start's included
		wantErr func(error) bool
		errDesc string
		done    bool
	}{
		{name: "READY", in: []zmtp.Command{ready(dealerMD)}, wantOut: ourReady, done: true},
		{
			name: "READY twice", in: []zmtp.Command{readyEmpty, readyEmpty}, wantOut: ourReady,
			wantErr: unexpected(nil, "READY"), errDesc: "UnexpectedCommandError{Want: none, Got: READY}",
		},
		{
			name: "ERROR after READY", in: []zmtp.Command{readyEmpty, errorCmd("400")}, wantOut: ourReady,
			wantErr: unexpected(nil, "ERROR"), errDesc: "UnexpectedCommandError{Want: none, Got: ERROR}",
		},
		{
			name: "unknown command", in: []zmtp.Command{{Name: "FOO", Data: []byte("bar")}}, wantOut: ourReady,
			wantErr: unexpected([]string{"READY", "ERROR"}, "FOO"), errDesc: "UnexpectedCommandError{Want: READY ERROR, Got: FOO}",
		},
		{
			name: "HELLO", in: []zmtp.Command{{Name: zmtp.CmdHello, Data: testhelp.Wire(`05 "admin" 06 "secret"`)}}, wantOut: ourReady,
			wantErr: unexpected([]string{"READY", "ERROR"}, "HELLO"), errDesc: "UnexpectedCommandError{Got: HELLO}",
		},
		{
			name: "WELCOME", in: []zmtp.Command{{Name: zmtp.CmdWelcome}}, wantOut: ourReady,
			wantErr: unexpected([]string{"READY", "ERROR"}, "WELCOME"), errDesc: "UnexpectedCommandError{Got: WELCOME}",
		},
		{
			name: "INITIATE", in: []zmtp.Command{{Name: zmtp.CmdInitiate}}, wantOut: ourReady,
			wantErr: unexpected([]string{"READY", "ERROR"}, "INITIATE"), errDesc: "UnexpectedCommandError{Got: INITIATE}",
		},
		{
			name: "PING during the handshake", in: []zmtp.Command{{Name: zmtp.CmdPing, Data: testhelp.Wire("00 00")}}, wantOut: ourReady,
			wantErr: unexpected([]string{"READY", "ERROR"}, "PING"), errDesc: "UnexpectedCommandError{Got: PING}",
		},
		{
			name: "SUBSCRIBE during the handshake", in: []zmtp.Command{{Name: zmtp.CmdSubscribe, Data: []byte("A")}}, wantOut: ourReady,
			wantErr: unexpected([]string{"READY", "ERROR"}, "SUBSCRIBE"), errDesc: "UnexpectedCommandError{Got: SUBSCRIBE}",
		},
		{
			name: "MESSAGE", in: []zmtp.Command{{Name: zmtp.CmdMessage, Data: make([]byte, 33)}}, wantOut: ourReady,
			wantErr: unexpected([]string{"READY", "ERROR"}, "MESSAGE"), errDesc: "UnexpectedCommandError{Got: MESSAGE}",
		},
		{
			name: "lower-case ready", in: []zmtp.Command{{Name: "ready"}}, wantOut: ourReady,
			wantErr: unexpected([]string{"READY", "ERROR"}, "ready"), errDesc: "UnexpectedCommandError{Got: ready}",
		},
		{
			name: "READY before Start", noStart: true, in: []zmtp.Command{readyEmpty},
			wantErr: func(err error) bool { return errors.Is(err, mechanism.ErrNotStarted) }, errDesc: "ErrNotStarted",
		},
		{
			name: "ERROR 400", in: []zmtp.Command{errorCmd("400")}, wantOut: ourReady,
			wantErr: peerErr("400", 400), errDesc: "PeerError 400",
		},
		{
			name: "ERROR 500", in: []zmtp.Command{errorCmd("500")}, wantOut: ourReady,
			wantErr: peerErr("500", 500), errDesc: "PeerError 500",
		},
		{
			name: "ERROR 300", in: []zmtp.Command{errorCmd("300")}, wantOut: ourReady,
			wantErr: peerErr("300", 300), errDesc: "PeerError 300",
		},
		{
			name: "ERROR with free text", in: []zmtp.Command{errorCmd("Invalid socket type")}, wantOut: ourReady,
			wantErr: peerErr("Invalid socket type", 0), errDesc: "PeerError with status 0",
		},
		{
			name: "ERROR with an empty reason", in: []zmtp.Command{errorCmd("")}, wantOut: ourReady,
			wantErr: peerErr("", 0), errDesc: "PeerError with status 0",
		},
		{
			name: "ERROR before READY was read, libzmq PLAIN spelling", in: []zmtp.Command{mustParse(testhelp.Wire(`5E "RROR" 03 "400"`))}, wantOut: ourReady,
			wantErr: peerErr("400", 400), errDesc: "PeerError 400",
		},
		{
			name: "ERROR with no reason length", in: []zmtp.Command{{Name: zmtp.CmdError}}, wantOut: ourReady,
			wantErr: isMalformed, errDesc: "zmtp.ErrMalformed",
		},
		{
			name: "ERROR reason length past the end", in: []zmtp.Command{{Name: zmtp.CmdError, Data: testhelp.Wire(`05 "400"`)}}, wantOut: ourReady,
			wantErr: isMalformed, errDesc: "zmtp.ErrMalformed",
		},
		{
			name: "READY metadata: one trailing byte", in: []zmtp.Command{{Name: zmtp.CmdReady, Data: append(dealerMD.Append(nil), 0x01)}}, wantOut: ourReady,
			wantErr: isMetadataMalformed, errDesc: "*MetadataError wrapping zmtp.ErrMalformed",
		},
		{
			name: "READY metadata: truncated value", in: []zmtp.Command{{Name: zmtp.CmdReady, Data: testhelp.Wire(`0B "Socket-Type" 00 00 00 06 "DEAL"`)}}, wantOut: ourReady,
			wantErr: isMetadataMalformed, errDesc: "*MetadataError wrapping zmtp.ErrMalformed",
		},
		{
			name: "READY metadata: truncated value length", in: []zmtp.Command{{Name: zmtp.CmdReady, Data: testhelp.Wire(`0B "Socket-Type" 00 00`)}}, wantOut: ourReady,
			wantErr: isMetadataMalformed, errDesc: "*MetadataError wrapping zmtp.ErrMalformed",
		},
		{
			name: "READY metadata: name runs past the end", in: []zmtp.Command{{Name: zmtp.CmdReady, Data: testhelp.Wire(`20 "Socket"`)}}, wantOut: ourReady,
			wantErr: isMetadataMalformed, errDesc: "*MetadataError wrapping zmtp.ErrMalformed",
		},
		{
			name: "READY metadata: huge value length", in: []zmtp.Command{{Name: zmtp.CmdReady, Data: testhelp.Wire(`01 "X" FF FF FF FF "v"`)}}, wantOut: ourReady,
			wantErr: isMetadataMalformed, errDesc: "*MetadataError wrapping zmtp.ErrMalformed",
		},
		{
			name: "READY metadata: bad name byte", in: []zmtp.Command{{Name: zmtp.CmdReady, Data: testhelp.Wire(`03 "X" 0A "Y" 00 00 00 00`)}}, wantOut: ourReady,
			wantErr: isMetadataMalformed, errDesc: "*MetadataError wrapping zmtp.ErrMalformed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHandshake(t, mechanism.Null(), mechanism.Params{})
			ctx := context.Background()
			var sent []byte
			var err error
			if !tt.noStart {
				var out []zmtp.Command
				out, err = h.Start(ctx)
				for _, c := range out {
					sent = append(sent, frameBytes(c)...)
				}
				if err != nil {
					t.Fatalf("Start: %v", err)
				}
			}
			for _, cmd := range tt.in {
				var out []zmtp.Command
				out, err = h.Handle(ctx, cmd)
				for _, c := range out {
					sent = append(sent, frameBytes(c)...)
				}
				if err != nil {
					break
				}
			}
			if want := testhelp.Wire(tt.wantOut); !bytes.Equal(sent, want) {
				t.Errorf("sent % x, want % x", sent, want)
			}
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
			} else if err == nil || !tt.wantErr(err) {
				t.Fatalf("err = %#v (%v), want %s", err, err, tt.errDesc)
			}
			if h.Done() != tt.done {
				t.Errorf("Done = %v, want %v", h.Done(), tt.done)
			}
			if err != nil {
				checkFinal(t, h, err)
			}
		})
	}
}

// checkFinal checks that a failed handshake stays failed: Start and Handle
// return the same error and send nothing, and Done stays false.
func checkFinal(t *testing.T, h mechanism.Handshake, first error) {
	t.Helper()
	ctx := context.Background()
	for i, cmd := range []zmtp.Command{{Name: zmtp.CmdReady}, {Name: zmtp.CmdError, Data: testhelp.Wire(`03 "400"`)}, {Name: "FOO"}} {
		out, err := h.Handle(ctx, cmd)
		if err != first || len(out) != 0 {
			t.Errorf("Handle #%d after failure = %q, %v; want nothing and the first error %v", i, out, err, first)
		}
	}
	if out, err := h.Start(ctx); err != first || len(out) != 0 {
		t.Errorf("Start after failure = %q, %v; want nothing and the first error", out, err)
	}
	if h.Done() {
		t.Error("Done after failure")
	}
}

func unexpected(want []string, got string) func(error) bool {
	return func(err error) bool {
		var ue *mechanism.UnexpectedCommandError
		if !errors.As(err, &ue) {
			return false
		}
		return ue.Got == got && len(ue.Want) == len(want) && (len(want) == 0 || reflect.DeepEqual(ue.Want, want))
	}
}

func peerErr(reason string, status zap.StatusCode) func(error) bool {
	return func(err error) bool {
		var pe *mechanism.PeerError
		return errors.As(err, &pe) && pe.Reason == reason && pe.Status() == status
	}
}

func isMalformed(err error) bool { return errors.Is(err, zmtp.ErrMalformed) }

func isMetadataMalformed(err error) bool {
	var me *mechanism.MetadataError
	return errors.As(err, &me) && errors.Is(err, zmtp.ErrMalformed)
}

func mustParse(body []byte) zmtp.Command {
	c, err := zmtp.ParseCommand(body)
	if err != nil {
		panic(err)
	}
	return c
}

// TestNullStartTwice: a second Start is a misuse and fails the handshake.
func TestNullStartTwice(t *testing.T) {
	h := newHandshake(t, mechanism.Null(), mechanism.Params{})
	if _, err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	out, err := h.Start(context.Background())
	if !errors.Is(err, mechanism.ErrAlreadyStarted) || len(out) != 0 {
		t.Fatalf("second Start = %q, %v; want ErrAlreadyStarted", out, err)
	}
	checkFinal(t, h, err)
}

// TestNullBadOwnMetadata: NewHandshake refuses metadata it could not encode.
func TestNullBadOwnMetadata(t *testing.T) {
	_, err := mechanism.Null().NewHandshake(mechanism.Params{Metadata: md("bad name", "x")})
	if err == nil {
		t.Fatal("NewHandshake accepted a property name with a space")
	}
}

func TestNullNameAndRole(t *testing.T) {
	m := mechanism.Null()
	if m.Name() != "NULL" || m.AsServer() {
		t.Fatalf("Name %q AsServer %v", m.Name(), m.AsServer())
	}
}

// TestPeerErrorQuotesReason: control bytes in the peer's reason cannot
// escape into a log line.
func TestPeerErrorQuotesReason(t *testing.T) {
	h := newHandshake(t, mechanism.Null(), mechanism.Params{})
	h.Start(context.Background())
	_, err := h.Handle(context.Background(), errorCmd("a\nb\x1b[31mc\x00"))
	var pe *mechanism.PeerError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v", err)
	}
	msg := err.Error()
	if strings.ContainsAny(msg, "\n\x1b\x00") {
		t.Fatalf("Error() = %q holds raw control bytes", msg)
	}
	if !strings.HasPrefix(msg, "mechanism: ") {
		t.Errorf("Error() = %q, want the mechanism: prefix", msg)
	}
}

func TestUnexpectedCommandErrorQuotesName(t *testing.T) {
	h := newHandshake(t, mechanism.Null(), mechanism.Params{})
	h.Start(context.Background())
	_, err := h.Handle(context.Background(), zmtp.Command{Name: "EVIL\n\x1b"})
	if err == nil || strings.ContainsAny(err.Error(), "\n\x1b") {
		t.Fatalf("err = %q", err)
	}
}
