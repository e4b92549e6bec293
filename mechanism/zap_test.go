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

// statusHandler answers every request with status code s.
func statusHandler(s zap.StatusCode) zap.Handler {
	return zap.HandlerFunc(func(_ context.Context, req *zap.Request) (*zap.Reply, error) {
		return &zap.Reply{Version: zap.Version, RequestID: req.RequestID, StatusCode: s, StatusText: "text for " + s.String()}, nil
	})
}

// recorder is a ZAP handler that records its requests and answers with reply
// (or err, or a panic).
type recorder struct {
	reply  *zap.Reply
	err    error
	panics bool
	reqs   []*zap.Request // copies, taken during the call
	raw    []*zap.Request // the requests as the handler got them
	ctxs   []context.Context
}

func (r *recorder) Authenticate(ctx context.Context, req *zap.Request) (*zap.Reply, error) {
	c := *req
	c.Credentials = nil
	for _, b := range req.Credentials {
		c.Credentials = append(c.Credentials, bytes.Clone(b))
	}
	r.reqs = append(r.reqs, &c)
	r.raw = append(r.raw, req)
	r.ctxs = append(r.ctxs, ctx)
	if r.panics {
		panic("handler bug")
	}
	return r.reply, r.err
}

type ctxKey struct{}

// TestNullZAP drives a NULL handshake that has a ZAP handler and a domain,
// the way a libzmq server with ZMQ_ZAP_DOMAIN does: ZAP is asked from Start,
// before READY is sent.
func TestNullZAP(t *testing.T) {
	errHandler := errors.New("database is down")
	okReply := &zap.Reply{
		Version: zap.Version, RequestID: []byte("1"), StatusCode: 200, StatusText: "OK",
		UserID: "alice", Metadata: md("X-Foo", "bar"),
	}
	tests := []struct {
		name     string
		rec      *recorder
		wantOut  string // exact frames Start sends
		status   zap.StatusCode
		checkErr func(t *testing.T, ae *mechanism.AuthError)
	}{
		{name: "200", rec: &recorder{reply: okReply}, wantOut: `04 06 05 "READY"`, status: 200},
		{
			name: "200 with the version left empty", rec: &recorder{reply: &zap.Reply{RequestID: []byte("1"), StatusCode: 200}},
			wantOut: `04 06 05 "READY"`, status: 200,
		},
		{name: "300", rec: &recorder{reply: &zap.Reply{Version: "1.0", StatusCode: 300, StatusText: "busy"}}, wantOut: ``, status: 300,
			checkErr: func(t *testing.T, ae *mechanism.AuthError) {
				if ae.Text != "busy" {
					t.Errorf("Text = %q", ae.Text)
				}
			}},
		{name: "400", rec: &recorder{reply: &zap.Reply{Version: "1.0", StatusCode: 400, StatusText: "no such user"}},
			wantOut: `04 0A 05 "ERROR" 03 "400"`, status: 400,
			checkErr: func(t *testing.T, ae *mechanism.AuthError) {
				if ae.Text != "no such user" || ae.Err != nil {
					t.Errorf("Text %q Err %v", ae.Text, ae.Err)
				}
			}},
		{name: "500", rec: &recorder{reply: &zap.Reply{Version: "1.0", StatusCode: 500}},
			wantOut: `04 0A 05 "ERROR" 03 "500"`, status: 500},
		{name: "handler error", rec: &recorder{err: errHandler}, wantOut: `04 0A 05 "ERROR" 03 "500"`, status: 500,
			checkErr: func(t *testing.T, ae *mechanism.AuthError) {
				var ze *zap.Error
				if !errors.Is(ae, errHandler) || !errors.As(ae, &ze) {
					t.Errorf("AuthError %v does not wrap the handler's error in a *zap.Error", ae)
				}
			}},
		{name: "handler panics", rec: &recorder{panics: true}, wantOut: `04 0A 05 "ERROR" 03 "500"`, status: 500,
			checkErr: func(t *testing.T, ae *mechanism.AuthError) {
				var ze *zap.Error
				if !errors.As(ae, &ze) || !strings.Contains(ae.Error(), "panic") {
					t.Errorf("AuthError %v does not report the panic", ae)
				}
			}},
		{name: "nil reply", rec: &recorder{}, wantOut: `04 0A 05 "ERROR" 03 "500"`, status: 500},
		{name: "invalid status 201", rec: &recorder{reply: &zap.Reply{Version: "1.0", StatusCode: 201}},
			wantOut: `04 0A 05 "ERROR" 03 "500"`, status: 500},
		{name: "wrong version", rec: &recorder{reply: &zap.Reply{Version: "2.0", StatusCode: 200}},
			wantOut: `04 0A 05 "ERROR" 03 "500"`, status: 500},
		{name: "user id over 255 bytes", rec: &recorder{reply: &zap.Reply{StatusCode: 200, UserID: strings.Repeat("u", 256)}},
			wantOut: `04 0A 05 "ERROR" 03 "500"`, status: 500},
		{name: "invalid reply metadata", rec: &recorder{reply: &zap.Reply{StatusCode: 200, Metadata: md("bad name", "v")}},
			wantOut: `04 0A 05 "ERROR" 03 "500"`, status: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			identity := []byte("SRV")
			h := newHandshake(t, mechanism.Null(), mechanism.Params{
				ZAP: tt.rec, Domain: "global", PeerAddress: "192.0.2.7", Identity: identity,
			})
			ctx := context.WithValue(context.Background(), ctxKey{}, "mine")
			out, err := h.Start(ctx)

			// The request, whatever the outcome.
			if len(tt.rec.reqs) != 1 {
				t.Fatalf("handler called %d times, want once", len(tt.rec.reqs))
			}
			req := tt.rec.reqs[0]
			want := &zap.Request{
				Version: "1.0", RequestID: []byte("1"), Domain: "global", Address: "192.0.2.7",
				Identity: []byte("SRV"), Mechanism: "NULL",
			}
			if req.Version != want.Version || !bytes.Equal(req.RequestID, want.RequestID) ||
				req.Domain != want.Domain || req.Address != want.Address ||
				!bytes.Equal(req.Identity, want.Identity) || req.Mechanism != want.Mechanism ||
				len(req.Credentials) != 0 {
				t.Errorf("request = %+v, want %+v", req, want)
			}
			if tt.rec.ctxs[0].Value(ctxKey{}) != "mine" {
				t.Error("handler did not get the caller's context")
			}
			// The handler owns its request: scribbling on it does not reach
			// our configuration.
			if len(req.Identity) > 0 {
				req.Identity[0] = 'X'
			}
			if string(identity) != "SRV" {
				t.Error("the request's Identity aliases Params.Identity")
			}
			// Nor does scribbling on the request id reach the next request.
			if len(req.RequestID) > 0 {
				req.RequestID[0] = 'X'
			}
			next := &recorder{reply: &zap.Reply{StatusCode: 200}}
			h2 := newHandshake(t, mechanism.Null(), mechanism.Params{ZAP: next, Domain: "global"})
			h2.Start(ctx)
			if len(next.reqs) != 1 || string(next.reqs[0].RequestID) != "1" {
				t.Error("a handler's write to RequestID reached the next request")
			}

			var sent []byte
			for _, c := range out {
				sent = append(sent, frameBytes(c)...)
			}
			if w := testhelp.Wire(tt.wantOut); !bytes.Equal(sent, w) {
				t.Errorf("sent % x, want % x", sent, w)
			}

			if tt.status == 200 {
				if err != nil {
					t.Fatalf("Start: %v", err)
				}
				if _, err := h.Handle(ctx, ready(dealerMD)); err != nil {
					t.Fatalf("Handle(READY): %v", err)
				}
				if !h.Done() {
					t.Fatal("not Done after READY")
				}
				s := h.Session()
				if s.ZAP == nil || s.ZAP.StatusCode != 200 {
					t.Fatalf("Session().ZAP = %+v, want the 200 reply", s.ZAP)
				}
				if tt.rec.reply == okReply && (s.ZAP.UserID != "alice" || !reflect.DeepEqual(s.ZAP.Metadata, okReply.Metadata)) {
					t.Errorf("Session().ZAP = %+v", s.ZAP)
				}
				if !reflect.DeepEqual(s.PeerMetadata, dealerMD) {
					t.Errorf("PeerMetadata = %q", s.PeerMetadata)
				}
				return
			}
			var ae *mechanism.AuthError
			if !errors.As(err, &ae) || ae.Status != tt.status || ae.Mechanism != "NULL" {
				t.Fatalf("Start err = %v, want *AuthError with status %d", err, tt.status)
			}
			if tt.checkErr != nil {
				tt.checkErr(t, ae)
			}
			// The reason sent to the peer is the bare status, never the
			// handler's text or error.
			for _, c := range out {
				if c.Name != zmtp.CmdError {
					t.Errorf("sent %s on refusal", c.Name)
				}
			}
			checkFinal(t, h, err)
			if len(tt.rec.reqs) != 1 {
				t.Errorf("handler asked again after failure (%d calls)", len(tt.rec.reqs))
			}
		})
	}
}

// TestNullZAPNotAsked: with no domain, or with no handler, NULL does not ask
// ZAP, as libzmq (without ZMQ_ZAP_ENFORCE_DOMAIN) does not.
func TestNullZAPNotAsked(t *testing.T) {
	for _, tt := range []struct {
		name string
		p    mechanism.Params
		rec  *recorder
	}{
		{name: "handler, no domain", rec: &recorder{reply: &zap.Reply{StatusCode: 400}}},
		{name: "domain, no handler", p: mechanism.Params{Domain: "global"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.p
			if tt.rec != nil {
				p.ZAP = tt.rec
			}
			h := newHandshake(t, mechanism.Null(), p)
			out, err := h.Start(context.Background())
			if err != nil || len(out) != 1 || out[0].Name != zmtp.CmdReady {
				t.Fatalf("Start = %q, %v; want READY", out, err)
			}
			if _, err := h.Handle(context.Background(), ready(nil)); err != nil || !h.Done() {
				t.Fatalf("Handle(READY) = %v, Done %v", err, h.Done())
			}
			if tt.rec != nil && len(tt.rec.reqs) != 0 {
				t.Error("handler called without a domain")
			}
			if h.Session().ZAP != nil {
				t.Error("Session().ZAP set though ZAP was not asked")
			}
		})
	}
}

// TestAuthErrorText: the local error says what happened and quotes the
// handler's text.
func TestAuthErrorText(t *testing.T) {
	e := &mechanism.AuthError{Mechanism: "NULL", Status: 400, Text: "bad\nuser"}
	s := e.Error()
	if !strings.HasPrefix(s, "mechanism: NULL:") || !strings.Contains(s, "400") || strings.Contains(s, "\n") {
		t.Fatalf("Error() = %q", s)
	}
}

// TestPlainZAPPasswordZeroed: the copy of the PLAIN password handed to the
// ZAP handler is zeroed once the handler has returned, and left alone when
// the handshake's context ended during the call (the handler, cut off,
// may still be reading it).
func TestPlainZAPPasswordZeroed(t *testing.T) {
	for _, cutOff := range []bool{false, true} {
		ctx, cancel := context.WithCancel(context.Background())
		rec := &recorder{reply: &zap.Reply{StatusCode: zap.StatusOK}}
		var handler zap.Handler = rec
		if cutOff {
			handler = zap.HandlerFunc(func(hctx context.Context, r *zap.Request) (*zap.Reply, error) {
				cancel()
				return rec.Authenticate(hctx, r)
			})
		}
		s := newHandshake(t, mechanism.PlainServer(), mechanism.Params{Metadata: routerMD, ZAP: handler})
		if _, err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		hello := zmtp.Command{Name: zmtp.CmdHello, Data: testhelp.Wire(`05 "admin" 06 "secret"`)}
		if _, err := s.Handle(ctx, hello); err != nil {
			t.Fatalf("cut off %v: HELLO: %v", cutOff, err)
		}
		cancel()
		if len(rec.raw) != 1 || len(rec.raw[0].Credentials) != 2 {
			t.Fatalf("cut off %v: handler got %+v", cutOff, rec.raw)
		}
		pw := rec.raw[0].Credentials[1]
		zeroed := bytes.Equal(pw, make([]byte, len("secret")))
		if zeroed == cutOff {
			t.Errorf("cut off %v: the handler's password copy is %q afterwards", cutOff, pw)
		}
		if string(rec.raw[0].Credentials[0]) != "admin" || string(hello.Data[7:]) != "secret" {
			t.Errorf("cut off %v: the user name or the HELLO itself was changed", cutOff)
		}
	}
}

// TestAskZAP: the exported AskZAP, as an out-of-module mechanism (GSSAPI)
// calls it, fills the request exactly as libzmq's GSSAPI server does
// (docs/wire-format.md#zap-request: one credential, the client's
// principal), hands the handler copies, and turns every status but 200
// into an *AuthError without any command to send.
func TestAskZAP(t *testing.T) {
	ctx := context.WithValue(context.Background(), ctxKey{}, "mine")
	params := func(h zap.Handler) (*mechanism.Params, [][]byte) {
		return &mechanism.Params{ZAP: h, Domain: "global", PeerAddress: "127.0.0.1", Identity: []byte("SRV")},
			[][]byte{[]byte("alice@ZMTP.TEST")}
	}
	t.Run("200", func(t *testing.T) {
		rec := &recorder{reply: &zap.Reply{StatusCode: 200, UserID: "alice", Metadata: md("X-Realm", "ZMTP.TEST")}}
		p, creds := params(rec)
		rep, err := mechanism.AskZAP(ctx, mechanism.GSSAPIName, p, creds)
		if err != nil || rep == nil || rep.UserID != "alice" || !reflect.DeepEqual(rep.Metadata, md("X-Realm", "ZMTP.TEST")) {
			t.Fatalf("AskZAP = %+v, %v", rep, err)
		}
		if len(rec.raw) != 1 || rec.ctxs[0].Value(ctxKey{}) != "mine" {
			t.Fatalf("handler called %d times, or without our context", len(rec.raw))
		}
		// The request frames libzmq 4.3.4's GSSAPI server sends, with our
		// domain, address and identity.
		want := [][]byte{[]byte("1.0"), []byte("1"), []byte("global"), []byte("127.0.0.1"), []byte("SRV"), []byte("GSSAPI"), []byte("alice@ZMTP.TEST")}
		if got := rec.reqs[0].Frames(); !reflect.DeepEqual(got, want) {
			t.Errorf("request frames %q, want %q", got, want)
		}
		// The handler's request holds copies: neither the caller's
		// credentials nor its identity change under it, nor it under them.
		creds[0][0], p.Identity[0] = 'X', 'X'
		raw := rec.raw[0]
		if string(raw.Credentials[0]) != "alice@ZMTP.TEST" || string(raw.Identity) != "SRV" {
			t.Errorf("the request aliases the caller's buffers: %q %q", raw.Credentials[0], raw.Identity)
		}
	})
	for _, tt := range []struct {
		name   string
		rec    *recorder
		status zap.StatusCode
		text   string
	}{
		{"300", &recorder{reply: &zap.Reply{StatusCode: 300, StatusText: "busy"}}, 300, "busy"},
		{"400", &recorder{reply: &zap.Reply{StatusCode: 400, StatusText: "no such principal"}}, 400, "no such principal"},
		{"500", &recorder{reply: &zap.Reply{StatusCode: 500}}, 500, ""},
		{"handler error", &recorder{err: errors.New("KDC database down")}, 500, ""},
		{"handler panics", &recorder{panics: true}, 500, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, creds := params(tt.rec)
			rep, err := mechanism.AskZAP(ctx, mechanism.GSSAPIName, p, creds)
			var ae *mechanism.AuthError
			if rep != nil || !errors.As(err, &ae) || ae.Status != tt.status || ae.Text != tt.text || ae.Mechanism != "GSSAPI" {
				t.Fatalf("AskZAP = %+v, %v; want an *AuthError %d %q", rep, err, tt.status, tt.text)
			}
			if tt.rec.err != nil && !errors.Is(err, tt.rec.err) {
				t.Errorf("%v does not wrap the handler's error", err)
			}
		})
	}
	t.Run("no handler", func(t *testing.T) {
		p, creds := params(nil)
		rep, err := mechanism.AskZAP(ctx, mechanism.GSSAPIName, p, creds)
		var ae *mechanism.AuthError
		if rep != nil || !errors.As(err, &ae) || ae.Status != zap.StatusInternalError {
			t.Fatalf("AskZAP without a handler = %+v, %v; want a refusal with 500", rep, err)
		}
	})
}

// TestParsePeerMetadata: the exported metadata check, on the READY bodies
// libzmq's GSSAPI peers sealed in the session of docs/wire-format.md#gssapi
// (once unwrapped), with the limits and the check of Params.
func TestParsePeerMetadata(t *testing.T) {
	serverReady := testhelp.Wire(`05 "READY" 0B "Socket-Type" 00 00 00 03 "REP"`)
	clientReady := testhelp.Wire(`05 "READY" 0B "Socket-Type" 00 00 00 03 "REQ" 08 "Identity" 00 00 00 00`)
	data := func(body []byte) []byte {
		cmd, err := zmtp.ParseCommand(body)
		if err != nil || cmd.Name != zmtp.CmdReady {
			t.Fatalf("ParseCommand(% x) = %v, %v", body, cmd, err)
		}
		return cmd.Data
	}
	var checked zmtp.Metadata
	p := &mechanism.Params{MaxPeerProperties: 2, CheckPeerMetadata: func(m zmtp.Metadata) error { checked = m; return nil }}
	got, err := mechanism.ParsePeerMetadata(mechanism.GSSAPIName, p, data(clientReady))
	if want := md("Socket-Type", "REQ", "Identity", ""); err != nil || !reflect.DeepEqual(got, want) || !reflect.DeepEqual(checked, want) {
		t.Fatalf("ParsePeerMetadata = %q, %v (checked %q)", got, err, checked)
	}

	p.MaxPeerProperties = 1
	_, err = mechanism.ParsePeerMetadata(mechanism.GSSAPIName, p, data(clientReady))
	var me *mechanism.MetadataError
	var tm *zmtp.TooManyPropertiesError
	if !errors.As(err, &me) || me.Mechanism != "GSSAPI" || !errors.As(err, &tm) {
		t.Errorf("two properties over a limit of one: %v", err)
	}

	refused := errors.New("socket types do not match")
	p.CheckPeerMetadata = func(zmtp.Metadata) error { return refused }
	if _, err := mechanism.ParsePeerMetadata(mechanism.GSSAPIName, p, data(serverReady)); !errors.As(err, &me) || !errors.Is(err, refused) {
		t.Errorf("refused by the check: %v", err)
	}
	if _, err := mechanism.ParsePeerMetadata(mechanism.GSSAPIName, p, []byte{0x0B, 'S'}); !errors.As(err, &me) || !errors.Is(err, zmtp.ErrMalformed) {
		t.Errorf("malformed: %v", err)
	}
}
