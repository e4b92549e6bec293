package conformance

// Helpers of the PLAIN and ZAP conformance tests (plain_*_test.go,
// zap_*_test.go, null_zap_*_test.go). Every identifier starts with "plainz";
// the libzmq contexts, monitors and our listener come from
// curve_helpers_test.go.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	_ "unsafe" // go:linkname

	zmq "github.com/pebbe/zmq4"

	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// pebbe/zmq4 v1.4.0 has no setter for ZMQ_METADATA (95) or
// ZMQ_ZAP_ENFORCE_DOMAIN (93), which Debian's non-DRAFT libzmq 4.3.4 accepts
// by number (docs/libzmq-behaviour.md#sources-and-method). Test files cannot use cgo, so these
// reach pebbe's own unexported setters; the option number is a C int.
//
//go:linkname plainzSetString github.com/pebbe/zmq4.(*Socket).setString
func plainzSetString(s *zmq.Socket, opt int32, value string) error

const (
	plainzOptMetadata = 95 // ZMQ_METADATA, "X-Key:value"
)

// plainzSetMetadata adds one ZMQ_METADATA property ("X-Key:value") to s.
func plainzSetMetadata(t testing.TB, s *zmq.Socket, kv string) {
	t.Helper()
	curveCheck(t, plainzSetString(s, plainzOptMetadata, kv))
}

// libzmq protocol error values of ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL used
// here (zmq.h; docs/libzmq-behaviour.md#monitor-events).
const plainzErrUnexpectedCommand = 0x10000001 // ZMTP_UNEXPECTED_COMMAND

// plainzEvents are the libzmq monitor events the PLAIN and ZAP tests watch:
// the handshake events plus CONNECTED and DISCONNECTED, which count the
// connection attempts of a client (a reconnect is a second CONNECTED).
const plainzEvents = curveHandshakeEvents | zmq.EVENT_CONNECTED | zmq.EVENT_DISCONNECTED

// ---------------------------------------------------------------------------
// libzmq side

// plainzLibClient makes a libzmq PLAIN client socket of type typ. An empty
// user or pass is left unset: libzmq then sends it as an empty string (the
// option itself takes 1-255 bytes), which is how a libzmq client sends an
// empty password.
func plainzLibClient(lib *curveLib, typ zmq.Type, user, pass string) *zmq.Socket {
	lib.t.Helper()
	s := lib.socket(typ)
	if user != "" {
		curveCheck(lib.t, s.SetPlainUsername(user))
	}
	if pass != "" {
		curveCheck(lib.t, s.SetPlainPassword(pass))
	}
	return s
}

// plainzLibServer makes a libzmq PLAIN server (DEALER, routing id
// plainzServerID, ZAP domain plainzDomain) whose ZAP handler, a REP socket on
// inproc://zeromq.zap.01 in the same context, answers with decide. The
// server's handshake timer is 1 s.
func plainzLibServer(t testing.TB, lib *curveLib, decide func(req [][]byte) curveZAPAnswer) (*zmq.Socket, *curveLibZAP, *curveMon, string) {
	t.Helper()
	zh := lib.zap(decide)
	s := lib.socket(zmq.DEALER)
	curveCheck(t, s.SetPlainServer(1))
	curveCheck(t, s.SetIdentity(plainzServerID))
	curveCheck(t, s.SetZapDomain(plainzDomain))
	curveCheck(t, s.SetHandshakeIvl(time.Second))
	mon := lib.monitor(s, plainzEvents)
	return s, zh, mon, lib.bind(s)
}

const (
	plainzServerID = "SRV-ID"
	plainzDomain   = "plainz"
)

// plainzUsers is the user table of the scripted handlers.
var plainzUsers = map[string]string{"admin": "secret", "alice": "wonderland"}

// plainzLibDecide is a libzmq ZAP handler's decision for PLAIN: 200 with the
// username as user id for a known user with the right password, else 400.
// An unknown user never passes, whatever the password (pebbe/zmq4's handler
// lets an unknown user with an empty password in; docs/libzmq-behaviour.md#other-zap-authenticators).
func plainzLibDecide(req [][]byte) curveZAPAnswer {
	if len(req) == 8 && string(req[5]) == "PLAIN" {
		if pw, ok := plainzUsers[string(req[6])]; ok && pw == string(req[7]) {
			return curveZAPAnswer{Status: "200", Text: "OK", UserID: string(req[6])}
		}
	}
	return curveZAPAnswer{Status: "400", Text: "Invalid username or password"}
}

// plainzSendQueued queues a message on a libzmq socket that may never
// connect: libzmq's expect_bounce_fail sends and then checks that nothing
// arrives on the other side.
func plainzSendQueued(s *zmq.Socket, msg string) {
	s.SetSndtimeo(0)
	s.Send(msg, zmq.DONTWAIT) // EAGAIN is fine: nothing may pass either way
}

// ---------------------------------------------------------------------------
// our side

// plainzRecorder wraps a ZAP handler, counting the requests and keeping a
// copy of each.
type plainzRecorder struct {
	h     zap.Handler
	calls atomic.Int32
	mu    sync.Mutex
	reqs  []zap.Request
}

func plainzRecord(h zap.Handler) *plainzRecorder { return &plainzRecorder{h: h} }

func (r *plainzRecorder) Authenticate(ctx context.Context, req *zap.Request) (*zap.Reply, error) {
	r.calls.Add(1)
	cp := *req
	cp.Identity = bytes.Clone(req.Identity)
	cp.Credentials = make([][]byte, len(req.Credentials))
	for i, c := range req.Credentials {
		cp.Credentials[i] = bytes.Clone(c)
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, cp)
	r.mu.Unlock()
	return r.h.Authenticate(ctx, req)
}

// first returns the first request, or nil.
func (r *plainzRecorder) first() *zap.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reqs) == 0 {
		return nil
	}
	cp := r.reqs[0]
	return &cp
}

// plainzFixed is a handler that answers every request with status and, for
// 200, the username (PLAIN) or "anonymous" as user id.
func plainzFixed(status zap.StatusCode) zap.Handler {
	return zap.HandlerFunc(func(_ context.Context, req *zap.Request) (*zap.Reply, error) {
		rep := &zap.Reply{StatusCode: status, StatusText: "scripted"}
		if status == zap.StatusOK {
			rep.UserID = "anonymous"
			if len(req.Credentials) == 2 {
				rep.UserID = string(req.Credentials[0])
			}
		}
		return rep, nil
	})
}

// plainzServerConfig is our server: PLAIN when plain is set, else NULL;
// DEALER with routing id plainzServerID.
// opts go to mechanism.PlainServer.
func plainzServerConfig(plain bool, h zap.Handler, domain string, opts ...mechanism.PlainServerOption) *transport.Config {
	cfg := &transport.Config{
		SocketType:       zmtp.DEALER,
		Identity:         []byte(plainzServerID),
		ZAPDomain:        domain,
		HandshakeTimeout: 2 * time.Second,
	}
	if h != nil {
		cfg.ZAPHandler = h
	}
	if plain {
		cfg.Mechanism = mechanism.PlainServer(opts...)
	}
	return cfg
}

// plainzClientConfig is our PLAIN client (DEALER).
func plainzClientConfig(t testing.TB, user, pass string) *transport.Config {
	t.Helper()
	m, err := mechanism.PlainClient(user, pass)
	if err != nil {
		t.Fatal(err)
	}
	return &transport.Config{Mechanism: m, SocketType: zmtp.DEALER, HandshakeTimeout: 2 * time.Second}
}

// plainzBounce checks that messages flow both ways between a libzmq DEALER
// and our DEALER connection (libzmq's bounce).
func plainzBounce(t testing.TB, s *zmq.Socket, c *transport.Conn) {
	t.Helper()
	out := [][]byte{[]byte("from us"), {}, bytes.Repeat([]byte{'x'}, 300)}
	if err := c.WriteMessage(out); err != nil {
		t.Fatalf("our send: %v", err)
	}
	curveCheck(t, s.SetRcvtimeo(3*time.Second))
	got, err := s.RecvMessageBytes(0)
	if err != nil || !curveEqualMsg(got, out) {
		t.Fatalf("libzmq received %s, %v; want %s", curveShort(got), err, curveShort(out))
	}
	back := curveFrames("from libzmq", "2")
	if _, err := s.SendMessage("from libzmq", "2"); err != nil {
		t.Fatalf("libzmq send: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	msg, err := c.ReadMessage(nil)
	if err != nil || !curveEqualMsg(msg, back) {
		t.Fatalf("we received %s, %v; want %s", curveShort(msg), err, curveShort(back))
	}
}

// plainzRefused waits up to d for our server's first handshake result and
// checks that it failed.
func plainzRefused(t testing.TB, srv *curveSrv, d time.Duration) error {
	t.Helper()
	a := srv.next(d)
	if a.err == nil {
		msg, _ := a.conn.ReadMessage(nil)
		t.Fatalf("our server accepted the client (first message %q); want a refusal", msg)
	}
	return a.err
}

// plainzAuthStatus returns the status of a *mechanism.AuthError in err, or 0.
func plainzAuthStatus(err error) zap.StatusCode {
	var ae *mechanism.AuthError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// plainzPeerStatus returns the *mechanism.PeerError in err, or nil.
func plainzPeerError(err error) *mechanism.PeerError {
	var pe *mechanism.PeerError
	if errors.As(err, &pe) {
		return pe
	}
	return nil
}

// plainzTimedOut reports a handshake that ran out of time.
func plainzTimedOut(err error) bool {
	var he *transport.HandshakeError
	return errors.As(err, &he) && he.Timeout()
}

// plainzNoPassage checks libzmq's expect_bounce_fail on the libzmq side: the
// libzmq socket receives nothing within d.
func plainzNoPassage(t testing.TB, s *zmq.Socket, d time.Duration) {
	t.Helper()
	curveExpectNothing(t, s, d)
}

// ---------------------------------------------------------------------------
// recording TCP proxy: the bytes each side sent, to show what went on the
// wire (the ERROR forms, silence)

// plainzProxy forwards every connection it accepts to target and records
// what each side sent.
type plainzProxy struct {
	t        testing.TB
	endpoint string
	mu       sync.Mutex
	conns    []*plainzProxied
	notify   chan struct{}
}

// plainzProxied is one proxied connection. toClient is what the server sent,
// toServer what the client sent; done is closed once both directions ended.
type plainzProxied struct {
	mu                 sync.Mutex
	toClient, toServer bytes.Buffer
	done               chan struct{}
}

func (p *plainzProxied) bytes() (toClient, toServer []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return bytes.Clone(p.toClient.Bytes()), bytes.Clone(p.toServer.Bytes())
}

type plainzRecWriter struct {
	p   *plainzProxied
	buf *bytes.Buffer
	w   io.Writer
}

func (w plainzRecWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	w.buf.Write(b)
	w.p.mu.Unlock()
	return w.w.Write(b)
}

func plainzStartProxy(t testing.TB, target string) *plainzProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &plainzProxy{t: t, endpoint: "tcp://" + ln.Addr().String(), notify: make(chan struct{}, 1024)}
	addr := strings.TrimPrefix(target, "tcp://")
	var wg sync.WaitGroup
	var open sync.Map
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", addr)
			if err != nil {
				c.Close()
				continue
			}
			open.Store(c, s)
			pc := &plainzProxied{done: make(chan struct{})}
			p.mu.Lock()
			p.conns = append(p.conns, pc)
			p.mu.Unlock()
			p.notify <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				var dirs sync.WaitGroup
				dirs.Add(2)
				// Either direction ending ends both: a close on one side is
				// passed on as a close.
				go func() {
					defer dirs.Done()
					io.Copy(plainzRecWriter{pc, &pc.toClient, c}, s)
					c.Close()
					s.Close()
				}()
				go func() {
					defer dirs.Done()
					io.Copy(plainzRecWriter{pc, &pc.toServer, s}, c)
					c.Close()
					s.Close()
				}()
				dirs.Wait()
				open.Delete(c)
				close(pc.done)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		open.Range(func(c, s any) bool {
			c.(net.Conn).Close()
			s.(net.Conn).Close()
			return true
		})
		wg.Wait()
	})
	return p
}

// count returns the number of connections proxied so far.
func (p *plainzProxy) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// closed waits up to d for connection i to end on both sides and returns
// what the server sent on it.
func (p *plainzProxy) closed(i int, d time.Duration) []byte {
	p.t.Helper()
	deadline := time.Now().Add(d)
	for p.count() <= i {
		if time.Now().After(deadline) {
			p.t.Fatalf("proxy: no connection %d within %v", i, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.mu.Lock()
	pc := p.conns[i]
	p.mu.Unlock()
	select {
	case <-pc.done:
	case <-time.After(time.Until(deadline)):
		p.t.Fatalf("proxy: connection %d still open after %v", i, d)
	}
	toClient, _ := pc.bytes()
	return toClient
}

// plainzAfterGreeting checks that b starts with a 64-byte ZMTP 3 greeting
// for mech with the given as-server bit, and returns the bytes after it.
func plainzAfterGreeting(t testing.TB, b []byte, mech string, asServer bool) []byte {
	t.Helper()
	if len(b) < zmtp.GreetingSize {
		t.Fatalf("server sent %d bytes (% x); want at least a 64-byte greeting", len(b), b)
	}
	g, err := zmtp.ParseGreeting(b[:zmtp.GreetingSize])
	if err != nil {
		t.Fatalf("server greeting % x: %v", b[:zmtp.GreetingSize], err)
	}
	if g.Mechanism != mech || g.AsServer != asServer {
		t.Fatalf("server greeting: mechanism %q as-server %v; want %q %v", g.Mechanism, g.AsServer, mech, asServer)
	}
	return b[zmtp.GreetingSize:]
}

// plainzSpecError is the ERROR command frame of the RFCs (23, 24, 25, 26):
// flags 04, size, 05 "ERROR", reason length, reason. It is what our servers
// send and what libzmq's NULL and CURVE servers send.
func plainzSpecError(reason string) []byte {
	body := zmtp.AppendError(nil, reason)
	return append(zmtp.AppendFrameHeader(nil, zmtp.FlagCommand, len(body)), body...)
}

// plainzLibzmqPlainError is the ERROR frame libzmq 4.3.x PLAIN servers send:
// the prefix is the 5 bytes 5E "RROR" (docs/libzmq-behaviour.md#plain-error-bytes).
func plainzLibzmqPlainError(reason string) []byte {
	body := append([]byte("\x5eRROR"), byte(len(reason)))
	body = append(body, reason...)
	return append([]byte{byte(zmtp.FlagCommand), byte(len(body))}, body...)
}

// plainzKinds lists events without the file descriptors and connect delays,
// in order: the sequence a test asserts.
func plainzKinds(es []curveEvent) []string {
	var out []string
	for _, e := range es {
		switch e.Event {
		case zmq.EVENT_CONNECTED, zmq.EVENT_DISCONNECTED:
			out = append(out, e.Event.String())
		case zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL, zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL,
			zmq.EVENT_HANDSHAKE_FAILED_AUTH, zmq.EVENT_HANDSHAKE_SUCCEEDED:
			out = append(out, e.String())
		}
	}
	return out
}

// plainzIsPeerClose reports a NO_DETAIL event whose value says the peer
// closed (EPIPE, ECONNRESET, ECONNABORTED): the events libzmq's
// test_security_zap treats as ignorable.
func plainzIsPeerClose(e curveEvent) bool {
	return e.Event == zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL && (e.Value == 32 || e.Value == 104 || e.Value == 103)
}

// plainzString prints a byte string as hex with the printable runs quoted.
func plainzString(b []byte) string { return fmt.Sprintf("% x (%q)", b, b) }

// plainzEventually polls cond every 5 ms for up to d.
func plainzEventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}
