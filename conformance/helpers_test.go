package conformance

// Helpers shared by every conformance test of this package (NULL, PLAIN,
// CURVE, ZAP, sockets): libzmq sockets in a per-test context, a libzmq ZAP
// handler and monitors; our listener on an ephemeral port, our connections
// on a transcript.Recorder, ZAP handlers that record or answer a fixed
// status; a raw TCP client for hostile bytes and a recording proxy that can
// also swallow everything; for the socket layer, one test's security on
// both sides, our sockets and their events, and libzmq peers served in the
// background. Key pairs come from internal/testhelp/testkeys.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	_ "unsafe" // go:linkname

	zmq "github.com/pebbe/zmq4"

	"github.com/zmtpsec/zmtpsec/cert"
	"github.com/zmtpsec/zmtpsec/internal/testhelp/testkeys"
	"github.com/zmtpsec/zmtpsec/internal/transcript"
	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/socket"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// ---------------------------------------------------------------------------
// keys, constants and our configurations

// Public test keys of libzmq's tests/test_heartbeats.cpp and the zmq_curve
// man page (docs/wire-format.md#published-test-keys).
const (
	docServerPublic = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
	docServerSecret = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"
	docClientPublic = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
	docClientSecret = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs"

	// libzmqNullKey is libzmq's null_key: the Z85 text of 32 zero bytes.
	libzmqNullKey = "0000000000000000000000000000000000000000"
)

// libzmq protocol error values of ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
// (zmq.h, docs/libzmq-behaviour.md#monitor-events).
const (
	errUnexpectedCommand = 0x10000001
	errMalformedHello    = 0x10000013
	errMalformedInitiate = 0x10000014
	errCryptographic     = 0x11000001
	errMechanismMismatch = 0x11000002
)

// handshakeEvents are the monitor events libzmq's security tests watch.
const handshakeEvents = zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL |
	zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_AUTH

// connEvents are the libzmq monitor events the PLAIN and ZAP tests watch:
// the handshake events plus CONNECTED and DISCONNECTED, which count the
// connection attempts of a client (a reconnect is a second CONNECTED).
const connEvents = handshakeEvents | zmq.EVENT_CONNECTED | zmq.EVENT_DISCONNECTED

// stepTimeout bounds every single wait of the suite: a handshake, a message.
const stepTimeout = 5 * time.Second

// serverID and zapDomain are the routing id and ZAP domain of the PLAIN and
// ZAP tests' servers, ours (serverConfig) and libzmq's (libPlainServer).
const (
	serverID  = "SRV-ID"
	zapDomain = "plainz"
)

// plainUsers is the user table of the scripted handlers.
var plainUsers = map[string]string{"admin": "secret", "alice": "wonderland"}

// docServer and docClient are the published key pairs above.
func docServer(t testing.TB) cert.KeyPair {
	return testkeys.FromZ85(t, docServerPublic, docServerSecret)
}

func docClient(t testing.TB) cert.KeyPair {
	return testkeys.FromZ85(t, docClientPublic, docClientSecret)
}

// seededRand is a deterministic randomness source for Config.Rand.
func seededRand(seed [32]byte) *rand.ChaCha8 { return rand.NewChaCha8(seed) }

// curveClientConfig is our CURVE client of the given socket type.
func curveClientConfig(t testing.TB, server cert.PublicKey, client cert.KeyPair, st zmtp.SocketType) *transport.Config {
	t.Helper()
	m, err := mechanism.CurveClient(server, client)
	if err != nil {
		t.Fatal(err)
	}
	return &transport.Config{Mechanism: m, SocketType: st, HandshakeTimeout: 3 * time.Second}
}

// curveServerConfig is our CURVE server of the given socket type.
func curveServerConfig(t testing.TB, server cert.KeyPair, st zmtp.SocketType) *transport.Config {
	t.Helper()
	m, err := mechanism.CurveServer(server)
	if err != nil {
		t.Fatal(err)
	}
	return &transport.Config{Mechanism: m, SocketType: st, HandshakeTimeout: 3 * time.Second}
}

// nullConfig is our NULL config for a socket type and routing id.
func nullConfig(st zmtp.SocketType, identity string) *transport.Config {
	cfg := &transport.Config{SocketType: st, HandshakeTimeout: 3 * time.Second}
	if identity != "" {
		cfg.Identity = []byte(identity)
	}
	return cfg
}

// serverConfig is our server: PLAIN when plain is set, else NULL;
// DEALER with routing id serverID.
// opts go to mechanism.PlainServer.
func serverConfig(plain bool, h zap.Handler, domain string, opts ...mechanism.PlainServerOption) *transport.Config {
	cfg := &transport.Config{
		SocketType:       zmtp.DEALER,
		Identity:         []byte(serverID),
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

// plainClientConfig is our PLAIN client (DEALER).
func plainClientConfig(t testing.TB, user, pass string) *transport.Config {
	t.Helper()
	m, err := mechanism.PlainClient(user, pass)
	if err != nil {
		t.Fatal(err)
	}
	return &transport.Config{Mechanism: m, SocketType: zmtp.DEALER, HandshakeTimeout: 2 * time.Second}
}

// ---------------------------------------------------------------------------
// libzmq side: a context per test, sockets, a ZAP handler, monitors

// zmqLib is one libzmq context with every socket made in it; all are
// closed and the context terminated when the test ends.
type zmqLib struct {
	t     testing.TB
	ctx   *zmq.Context
	mu    sync.Mutex
	socks []*zmq.Socket
	stops []func()
	nmon  int
}

func newZMQLib(t testing.TB) *zmqLib {
	t.Helper()
	ctx, err := zmq.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	l := &zmqLib{t: t, ctx: ctx}
	t.Cleanup(l.close)
	return l
}

func (l *zmqLib) close() {
	l.mu.Lock()
	stops, socks := l.stops, l.socks
	l.stops, l.socks = nil, nil
	l.mu.Unlock()
	for i := len(stops) - 1; i >= 0; i-- {
		stops[i]()
	}
	for i := len(socks) - 1; i >= 0; i-- {
		socks[i].Close()
	}
	done := make(chan error, 1)
	go func() { done <- l.ctx.Term() }()
	select {
	case err := <-done:
		if err != nil {
			l.t.Errorf("zmq context term: %v", err)
		}
	case <-time.After(5 * time.Second):
		l.t.Errorf("zmq context did not terminate within 5 s")
	}
}

// socket makes a libzmq socket with the options every test wants: LINGER 0,
// a short HANDSHAKE_IVL, fast reconnects and bounded send/receive waits.
func (l *zmqLib) socket(typ zmq.Type) *zmq.Socket {
	l.t.Helper()
	s, err := l.ctx.NewSocket(typ)
	if err != nil {
		l.t.Fatal(err)
	}
	l.mu.Lock()
	l.socks = append(l.socks, s)
	l.mu.Unlock()
	must(l.t, s.SetLinger(0))
	must(l.t, s.SetHandshakeIvl(2*time.Second))
	must(l.t, s.SetReconnectIvl(50*time.Millisecond))
	must(l.t, s.SetRcvtimeo(5*time.Second))
	must(l.t, s.SetSndtimeo(5*time.Second))
	return s
}

// curveServer makes a libzmq CURVE server socket with the given key pair.
func (l *zmqLib) curveServer(typ zmq.Type, kp cert.KeyPair) *zmq.Socket {
	l.t.Helper()
	s := l.socket(typ)
	must(l.t, s.SetCurveServer(1))
	must(l.t, s.SetCurveSecretkey(kp.Secret.Z85()))
	return s
}

// curveClient makes a libzmq CURVE client socket. Keys are Z85 texts, so
// that the tests can pass libzmq's null key.
func (l *zmqLib) curveClient(typ zmq.Type, serverKey, public, secret string) *zmq.Socket {
	l.t.Helper()
	s := l.socket(typ)
	must(l.t, s.SetCurveServerkey(serverKey))
	must(l.t, s.SetCurvePublickey(public))
	must(l.t, s.SetCurveSecretkey(secret))
	return s
}

// bind binds s to an ephemeral TCP port on 127.0.0.1 and returns the
// endpoint.
func (l *zmqLib) bind(s *zmq.Socket) string {
	l.t.Helper()
	must(l.t, s.Bind("tcp://127.0.0.1:*"))
	ep, err := s.GetLastEndpoint()
	if err != nil {
		l.t.Fatal(err)
	}
	return ep
}

// libSocket makes a libzmq socket of typ with routing id id (if not empty).
func libSocket(t *testing.T, lib *zmqLib, typ zmq.Type, id string) *zmq.Socket {
	t.Helper()
	s := lib.socket(typ)
	if id != "" {
		must(t, s.SetIdentity(id))
	}
	return s
}

// libPlainClient makes a libzmq PLAIN client socket of type typ. An empty
// user or pass is left unset: libzmq then sends it as an empty string (the
// option itself takes 1-255 bytes), which is how a libzmq client sends an
// empty password.
func libPlainClient(lib *zmqLib, typ zmq.Type, user, pass string) *zmq.Socket {
	lib.t.Helper()
	s := lib.socket(typ)
	if user != "" {
		must(lib.t, s.SetPlainUsername(user))
	}
	if pass != "" {
		must(lib.t, s.SetPlainPassword(pass))
	}
	return s
}

// libPlainServer makes a libzmq PLAIN server (DEALER, routing id
// serverID, ZAP domain zapDomain) whose ZAP handler, a REP socket on
// inproc://zeromq.zap.01 in the same context, answers with decide. The
// server's handshake timer is 1 s.
func libPlainServer(t testing.TB, lib *zmqLib, decide func(req [][]byte) zapAnswer) (*zmq.Socket, *libZAP, *libMonitor, string) {
	t.Helper()
	zh := lib.zap(decide)
	s := lib.socket(zmq.DEALER)
	must(t, s.SetPlainServer(1))
	must(t, s.SetIdentity(serverID))
	must(t, s.SetZapDomain(zapDomain))
	must(t, s.SetHandshakeIvl(time.Second))
	mon := lib.monitor(s, connEvents)
	return s, zh, mon, lib.bind(s)
}

// pebbe/zmq4 v1.4.0 has no setter for ZMQ_METADATA (95) or
// ZMQ_ZAP_ENFORCE_DOMAIN (93), which Debian's non-DRAFT libzmq 4.3.4 accepts
// by number (docs/libzmq-behaviour.md#sources-and-method). Test files cannot use cgo, so these
// reach pebbe's own unexported setters; the option number is a C int.
//
//go:linkname zmqSetString github.com/pebbe/zmq4.(*Socket).setString
func zmqSetString(s *zmq.Socket, opt int32, value string) error

const (
	optMetadata = 95 // ZMQ_METADATA, "X-Key:value"
)

// setMetadata adds one ZMQ_METADATA property ("X-Key:value") to s.
func setMetadata(t testing.TB, s *zmq.Socket, kv string) {
	t.Helper()
	must(t, zmqSetString(s, optMetadata, kv))
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// isEAGAIN reports a libzmq receive that timed out.
func isEAGAIN(err error) bool { return zmq.AsErrno(err) == zmq.Errno(syscall.EAGAIN) }

// libSend sends a multipart message from a libzmq socket.
func libSend(t *testing.T, s *zmq.Socket, msg ...[]byte) {
	t.Helper()
	parts := make([]any, len(msg))
	for i, p := range msg {
		parts[i] = p
	}
	if _, err := s.SendMessage(parts...); err != nil {
		t.Fatalf("libzmq send: %v", err)
	}
}

// libRecv receives a multipart message on a libzmq socket.
func libRecv(t *testing.T, s *zmq.Socket) [][]byte {
	t.Helper()
	msg, err := s.RecvMessageBytes(0)
	if err != nil {
		t.Fatalf("libzmq receive: %v", err)
	}
	return msg
}

// libRecvMeta receives a multipart message on a libzmq socket with the
// connection properties (zmq_msg_gets) libzmq attached to its last frame;
// a property it does not have is missing from the map.
func libRecvMeta(t *testing.T, s *zmq.Socket, props ...string) ([][]byte, map[string]string) {
	t.Helper()
	var msg [][]byte
	for {
		part, md, err := s.RecvBytesWithMetadata(0, props...)
		if err != nil {
			t.Fatalf("libzmq receive: %v", err)
		}
		msg = append(msg, part)
		more, err := s.GetRcvmore()
		if err != nil {
			t.Fatal(err)
		}
		if !more {
			return msg, md
		}
	}
}

// pumping runs fn while another goroutine makes s process its pending
// commands (a bound libzmq socket attaches a new connection, and so sends
// its subscriptions, only when its application calls into it). s must not
// be used by anyone else meanwhile.
func pumping(s *zmq.Socket, fn func()) {
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			s.GetEvents()
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	defer func() { close(stop); <-done }()
	fn()
}

// expectNothing checks that s receives nothing within d (libzmq's
// expect_bounce_fail, one direction).
func expectNothing(t testing.TB, s *zmq.Socket, d time.Duration) {
	t.Helper()
	must(t, s.SetRcvtimeo(d))
	msg, err := s.RecvMessageBytes(0)
	if err == nil {
		t.Errorf("libzmq socket received %q; want nothing", msg)
	} else if !isEAGAIN(err) {
		t.Errorf("libzmq receive: %v", err)
	}
	must(t, s.SetRcvtimeo(5*time.Second))
}

// sendQueued queues a message on a libzmq socket that may never
// connect: libzmq's expect_bounce_fail sends and then checks that nothing
// arrives on the other side.
func sendQueued(s *zmq.Socket, msg string) {
	s.SetSndtimeo(0)
	s.Send(msg, zmq.DONTWAIT) // EAGAIN is fine: nothing may pass either way
}

// zapAnswer is what the libzmq ZAP handler replies.
type zapAnswer struct {
	Status, Text, UserID string
	Metadata             zmtp.Metadata
}

// libZAP is a ZAP handler (a REP socket bound to inproc://zeromq.zap.01
// in the test's libzmq context), as libzmq's tests run one.
type libZAP struct {
	calls    atomic.Int32
	mu       sync.Mutex
	requests [][][]byte
}

func (z *libZAP) lastRequest() [][]byte {
	z.mu.Lock()
	defer z.mu.Unlock()
	if len(z.requests) == 0 {
		return nil
	}
	return z.requests[len(z.requests)-1]
}

// zap starts a ZAP handler that answers every request with decide(request
// frames). It must be started before the server socket it serves binds.
func (l *zmqLib) zap(decide func(req [][]byte) zapAnswer) *libZAP {
	l.t.Helper()
	rep, err := l.ctx.NewSocket(zmq.REP)
	if err != nil {
		l.t.Fatal(err)
	}
	must(l.t, rep.SetLinger(0))
	must(l.t, rep.SetRcvtimeo(20*time.Millisecond))
	if err := rep.Bind("inproc://zeromq.zap.01"); err != nil {
		rep.Close()
		l.t.Fatal(err)
	}
	h := &libZAP{}
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer rep.Close()
		for !stop.Load() {
			req, err := rep.RecvMessageBytes(0)
			if err != nil {
				if isEAGAIN(err) {
					continue
				}
				return
			}
			h.calls.Add(1)
			h.mu.Lock()
			h.requests = append(h.requests, req)
			h.mu.Unlock()
			var id []byte
			if len(req) > 1 {
				id = req[1]
			}
			a := decide(req)
			if _, err := rep.SendMessage("1.0", id, a.Status, a.Text, a.UserID, a.Metadata.Append(nil)); err != nil {
				return
			}
		}
	}()
	l.mu.Lock()
	l.stops = append(l.stops, func() { stop.Store(true); <-done })
	l.mu.Unlock()
	return h
}

// zapAllowKeys answers 200 for the client keys given (raw 32 bytes) and 400
// "Invalid client public key" for every other, like libzmq's zap_handler.
func zapAllowKeys(keys ...cert.PublicKey) func([][]byte) zapAnswer {
	return func(req [][]byte) zapAnswer {
		if len(req) == 7 && req[5] != nil && string(req[5]) == "CURVE" {
			for _, k := range keys {
				if bytes.Equal(req[6], k[:]) {
					return zapAnswer{Status: "200", Text: "OK", UserID: "anonymous"}
				}
			}
		}
		return zapAnswer{Status: "400", Text: "Invalid client public key"}
	}
}

// libPlainDecide is a libzmq ZAP handler's decision for PLAIN: 200 with the
// username as user id for a known user with the right password, else 400.
// An unknown user never passes, whatever the password (pebbe/zmq4's handler
// lets an unknown user with an empty password in; docs/libzmq-behaviour.md#other-zap-authenticators).
func libPlainDecide(req [][]byte) zapAnswer {
	if len(req) == 8 && string(req[5]) == "PLAIN" {
		if pw, ok := plainUsers[string(req[6])]; ok && pw == string(req[7]) {
			return zapAnswer{Status: "200", Text: "OK", UserID: string(req[6])}
		}
	}
	return zapAnswer{Status: "400", Text: "Invalid username or password"}
}

// libEvent is one libzmq monitor event.
type libEvent struct {
	Event zmq.Event
	Value int
}

func (e libEvent) String() string {
	switch e.Event {
	case zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL:
		return fmt.Sprintf("%v(%#x)", e.Event, e.Value)
	case zmq.EVENT_CONNECTED, zmq.EVENT_ACCEPTED, zmq.EVENT_DISCONNECTED, zmq.EVENT_CLOSED, zmq.EVENT_LISTENING:
		return e.Event.String() // the value is a file descriptor
	}
	return fmt.Sprintf("%v(%d)", e.Event, e.Value)
}

// libMonitor reads a libzmq socket monitor through a PAIR socket. It is used
// from the test goroutine only.
type libMonitor struct {
	t    testing.TB
	pair *zmq.Socket
	seen []libEvent
}

// monitor starts monitoring s for events. Call it before s binds or
// connects.
func (l *zmqLib) monitor(s *zmq.Socket, events zmq.Event) *libMonitor {
	l.t.Helper()
	l.mu.Lock()
	l.nmon++
	addr := fmt.Sprintf("inproc://curve-monitor-%d", l.nmon)
	l.mu.Unlock()
	must(l.t, s.Monitor(addr, events))
	pair := l.socket(zmq.PAIR)
	must(l.t, pair.Connect(addr))
	return &libMonitor{t: l.t, pair: pair}
}

// next returns the next event, waiting up to d.
func (m *libMonitor) next(d time.Duration) (libEvent, bool) {
	if d < time.Millisecond {
		d = time.Millisecond
	}
	must(m.t, m.pair.SetRcvtimeo(d))
	ev, _, val, err := m.pair.RecvEvent(0)
	if err != nil {
		if !isEAGAIN(err) {
			m.t.Errorf("monitor: %v", err)
		}
		return libEvent{}, false
	}
	e := libEvent{Event: ev, Value: val}
	m.seen = append(m.seen, e)
	return e, true
}

// collect returns every event that arrives within d.
func (m *libMonitor) collect(d time.Duration) []libEvent {
	var out []libEvent
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return out
		}
		e, ok := m.next(left)
		if !ok {
			return out
		}
		out = append(out, e)
	}
}

// waitFor waits up to d for an event of kind want and returns it with every
// event seen on the way.
func (m *libMonitor) waitFor(want zmq.Event, d time.Duration) (libEvent, []libEvent, bool) {
	var seen []libEvent
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return libEvent{}, seen, false
		}
		e, ok := m.next(left)
		if !ok {
			return libEvent{}, seen, false
		}
		seen = append(seen, e)
		if e.Event == want {
			return e, seen, true
		}
	}
}

// countEvents counts the events of kind ev in es.
func countEvents(es []libEvent, ev zmq.Event) int {
	n := 0
	for _, e := range es {
		if e.Event == ev {
			n++
		}
	}
	return n
}

// eventKinds lists events without the file descriptors and connect delays,
// in order: the sequence a test asserts.
func eventKinds(es []libEvent) []string {
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

// isPeerClose reports a NO_DETAIL event whose value says the peer
// closed (EPIPE, ECONNRESET, ECONNABORTED): the events libzmq's
// test_security_zap treats as ignorable.
func isPeerClose(e libEvent) bool {
	return e.Event == zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL && (e.Value == 32 || e.Value == 104 || e.Value == 103)
}

// ---------------------------------------------------------------------------
// our side: a listener that handshakes every connection, readers, ZAP handlers, error checks

// handshakeResult is one connection our server accepted, with the result of
// its handshake.
type handshakeResult struct {
	conn *transport.Conn
	err  error
}

// ourServer is our server: a transport.Listener on an ephemeral port that
// handshakes every connection it accepts and reports it.
type ourServer struct {
	t        testing.TB
	ln       *transport.Listener
	endpoint string
	accepted chan handshakeResult
	count    atomic.Int32
}

func serve(t testing.TB, cfg *transport.Config) *ourServer {
	t.Helper()
	ln, err := transport.Listen("tcp://127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := &ourServer{t: t, ln: ln, endpoint: ln.Endpoint(), accepted: make(chan handshakeResult, 1024)}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []*transport.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.count.Add(1)
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := c.Handshake()
				select {
				case s.accepted <- handshakeResult{c, err}:
				default:
					c.Close()
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return s
}

// next waits up to d for the next connection's handshake result.
func (s *ourServer) next(d time.Duration) handshakeResult {
	s.t.Helper()
	select {
	case a := <-s.accepted:
		return a
	case <-time.After(d):
		s.t.Fatalf("our server: no connection within %v", d)
		return handshakeResult{}
	}
}

// drain returns every handshake result that arrives within d.
func (s *ourServer) drain(d time.Duration) []handshakeResult {
	var out []handshakeResult
	timeout := time.After(d)
	for {
		select {
		case a := <-s.accepted:
			out = append(out, a)
		case <-timeout:
			return out
		}
	}
}

// msgReader reads messages from c in a goroutine until it fails; the
// messages arrive on msgs and the final error on done.
type msgReader struct {
	msgs chan [][]byte
	done chan error
}

func readLoop(c *transport.Conn) *msgReader {
	r := &msgReader{msgs: make(chan [][]byte, 1024), done: make(chan error, 1)}
	go func() {
		for {
			msg, err := c.ReadMessage(nil)
			if err != nil {
				r.done <- err
				close(r.msgs)
				return
			}
			r.msgs <- msg
		}
	}()
	return r
}

func (r *msgReader) next(t testing.TB, d time.Duration) [][]byte {
	t.Helper()
	select {
	case m, ok := <-r.msgs:
		if !ok {
			t.Fatalf("our connection failed: %v", <-r.done)
		}
		return m
	case <-time.After(d):
		t.Fatalf("our connection: no message within %v", d)
		return nil
	}
}

// zapRecorder wraps a ZAP handler, counting the requests and keeping a
// copy of each.
type zapRecorder struct {
	h     zap.Handler
	calls atomic.Int32
	mu    sync.Mutex
	reqs  []zap.Request
}

func recordZAP(h zap.Handler) *zapRecorder { return &zapRecorder{h: h} }

func (r *zapRecorder) Authenticate(ctx context.Context, req *zap.Request) (*zap.Reply, error) {
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
func (r *zapRecorder) first() *zap.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reqs) == 0 {
		return nil
	}
	cp := r.reqs[0]
	return &cp
}

// fixedZAP is a handler that answers every request with status and, for
// 200, the username (PLAIN) or "anonymous" as user id.
func fixedZAP(status zap.StatusCode) zap.Handler {
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

// ourRefusal waits up to d for our server's first handshake result and
// checks that it failed.
func ourRefusal(t testing.TB, srv *ourServer, d time.Duration) error {
	t.Helper()
	a := srv.next(d)
	if a.err == nil {
		msg, _ := a.conn.ReadMessage(nil)
		t.Fatalf("our server accepted the client (first message %q); want a refusal", msg)
	}
	return a.err
}

// authStatus returns the status of a *mechanism.AuthError in err, or 0.
func authStatus(err error) zap.StatusCode {
	var ae *mechanism.AuthError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// plainzPeerStatus returns the *mechanism.PeerError in err, or nil.
func peerError(err error) *mechanism.PeerError {
	var pe *mechanism.PeerError
	if errors.As(err, &pe) {
		return pe
	}
	return nil
}

// timedOut reports a handshake that ran out of time.
func timedOut(err error) bool {
	var he *transport.HandshakeError
	return errors.As(err, &he) && he.Timeout()
}

// isClosed reports an error that says the peer closed the connection.
func isClosed(err error) bool {
	return err != nil && (errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "EOF") ||
		strings.Contains(err.Error(), "connection reset"))
}

// handshakeCtx is a context for one handshake.
func handshakeCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), stepTimeout)
}

// ---------------------------------------------------------------------------
// our side on a transcript.Recorder (the NULL suite): connections in either direction, the bytes on the wire

// recConn is our end of a connection: a transport.Conn on a recorder.
// Its methods note our application's actions in the recording, so that a
// recorded session can be replayed (transport/replay_test.go).
type recConn struct {
	*transport.Conn
	rec *transcript.Recorder
	cfg *transport.Config
}

// noteConfig notes what a replay needs to rebuild our side.
func noteConfig(rec *transcript.Recorder, role string, cfg *transport.Config) {
	rec.Note("role " + role)
	rec.Note("socket-type " + string(cfg.SocketType))
	if len(cfg.Identity) > 0 {
		rec.Note(transcript.JoinNote("identity", cfg.Identity))
	}
}

// handshake runs our handshake and notes the peer it found.
func (c *recConn) handshake(ctx context.Context) error {
	if err := c.HandshakeContext(ctx); err != nil {
		c.rec.Comment("our handshake failed: " + err.Error())
		return err
	}
	st := c.ConnectionState()
	c.rec.Note(fmt.Sprintf("handshake %d.%d", st.PeerMajor, st.PeerMinor))
	if st.PeerSocketType != "" {
		c.rec.Note("peer-socket-type " + string(st.PeerSocketType))
	}
	if st.PeerIdentity != nil {
		c.rec.Note(transcript.JoinNote("peer-identity", st.PeerIdentity))
	}
	return nil
}

// connDir is a direction: who connects to whom.
type connDir struct {
	name string
	// open connects our side, configured by cfg, with the libzmq socket s,
	// which the test has configured but not bound or connected, and runs
	// our handshake.
	open func(t *testing.T, lib *zmqLib, s *zmq.Socket, cfg *transport.Config) *recConn
}

var connDirs = []connDir{
	{"our-client", connectRecorded},
	{"libzmq-client", listenRecorded},
}

// connectRecorded binds s to an ephemeral port and connects our client to it.
func connectRecorded(t *testing.T, lib *zmqLib, s *zmq.Socket, cfg *transport.Config) *recConn {
	t.Helper()
	c, err := tryConnectRecorded(t, lib, s, cfg)
	if err != nil {
		t.Fatalf("our %s client to libzmq: %v", cfg.SocketType, err)
	}
	return c
}

// tryConnectRecorded is connectRecorded that returns our handshake's error.
func tryConnectRecorded(t *testing.T, lib *zmqLib, s *zmq.Socket, cfg *transport.Config) (*recConn, error) {
	t.Helper()
	ep := lib.bind(s)
	nc, err := net.DialTimeout("tcp", strings.TrimPrefix(ep, "tcp://"), stepTimeout)
	if err != nil {
		t.Fatal(err)
	}
	rec := transcript.NewRecorder(nc)
	noteConfig(rec, "client", cfg)
	c := &recConn{Conn: transport.Client(rec, cfg), rec: rec, cfg: cfg}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	return c, c.handshake(ctx)
}

// recListener is a net.Listener whose connections are recorders.
type recListener struct{ net.Listener }

func (l recListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return transcript.NewRecorder(nc), nil
}

// recServer is our transport.Listener on an ephemeral port, with every
// accepted connection on a recorder.
type recServer struct {
	t        *testing.T
	ln       *transport.Listener
	cfg      *transport.Config
	accepted chan *recConn
}

func serveRecorded(t *testing.T, cfg *transport.Config) *recServer {
	t.Helper()
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := transport.NewListener(recListener{nl}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := &recServer{t: t, ln: ln, cfg: cfg, accepted: make(chan *recConn, 64)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := srv.ln.Accept()
			if err != nil {
				return
			}
			rec := c.NetConn().(*transcript.Recorder)
			noteConfig(rec, "server", cfg)
			select {
			case srv.accepted <- &recConn{Conn: c, rec: rec, cfg: cfg}:
			default:
				c.Close()
			}
		}
	}()
	t.Cleanup(func() {
		srv.ln.Close()
		<-done
		close(srv.accepted)
		for c := range srv.accepted {
			c.Close()
		}
	})
	return srv
}

// endpoint is what a libzmq socket connects to.
func (srv *recServer) endpoint() string { return srv.ln.Endpoint() }

// accept waits for the next connection, before its handshake.
func (srv *recServer) accept() *recConn {
	srv.t.Helper()
	select {
	case c := <-srv.accepted:
		srv.t.Cleanup(func() { c.Close() })
		return c
	case <-time.After(stepTimeout):
		srv.t.Fatalf("our %s listener: no connection within %v", srv.cfg.SocketType, stepTimeout)
		return nil
	}
}

// listenRecorded has s connect to our listener and runs our handshake.
func listenRecorded(t *testing.T, lib *zmqLib, s *zmq.Socket, cfg *transport.Config) *recConn {
	t.Helper()
	srv := serveRecorded(t, cfg)
	must(t, s.Connect(srv.endpoint()))
	c := srv.accept()
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	if err := c.handshake(ctx); err != nil {
		t.Fatalf("our %s server with libzmq: %v", cfg.SocketType, err)
	}
	return c
}

// read reads one message, noting it, within stepTimeout.
func (c *recConn) read(t *testing.T) [][]byte {
	t.Helper()
	msg, err := c.tryRead(stepTimeout)
	if err != nil {
		t.Fatalf("our %s: ReadMessage: %v", c.cfg.SocketType, err)
	}
	return msg
}

func (c *recConn) tryRead(d time.Duration) ([][]byte, error) {
	c.SetReadDeadline(time.Now().Add(d))
	defer c.SetReadDeadline(time.Time{})
	msg, err := c.ReadMessage(nil)
	if err == nil {
		c.rec.Note(transcript.JoinNote("read", msg...))
	}
	return msg, err
}

// expect reads one message and checks it is want.
func (c *recConn) expect(t *testing.T, want ...[]byte) {
	t.Helper()
	sameMsg(t, "our "+string(c.cfg.SocketType)+" read", c.read(t), want)
}

// write sends one message, noting it.
func (c *recConn) write(t *testing.T, msg ...[]byte) {
	t.Helper()
	c.rec.Note(transcript.JoinNote("write", msg...))
	c.SetWriteDeadline(time.Now().Add(stepTimeout))
	defer c.SetWriteDeadline(time.Time{})
	if err := c.WriteMessage(msg); err != nil {
		t.Fatalf("our %s: WriteMessage: %v", c.cfg.SocketType, err)
	}
}

// subscribe subscribes (SUB, XSUB), noting it.
func (c *recConn) subscribe(t *testing.T, topic string) {
	t.Helper()
	c.rec.Note(transcript.JoinNote("subscribe", []byte(topic)))
	if err := c.Subscribe([]byte(topic)); err != nil {
		t.Fatalf("our %s: Subscribe: %v", c.cfg.SocketType, err)
	}
}

// unsubscribe cancels a subscription, noting it.
func (c *recConn) unsubscribe(t *testing.T, topic string) {
	t.Helper()
	c.rec.Note(transcript.JoinNote("unsubscribe", []byte(topic)))
	if err := c.Unsubscribe([]byte(topic)); err != nil {
		t.Fatalf("our %s: Unsubscribe: %v", c.cfg.SocketType, err)
	}
}

// peerFrames returns the frames the peer has sent so far, after its
// greeting, as the recorder saw them on the wire.
func (c *recConn) peerFrames(t *testing.T) []wireFrame {
	t.Helper()
	return splitFrames(t, c.rec.Transcript().Stream(transcript.Peer))
}

// wireFrame is one frame as it crossed the wire.
type wireFrame struct {
	flags zmtp.Flags
	long  bool // the size field was 8 bytes
	body  []byte
}

// splitFrames cuts a direction's bytes into its greeting and whole frames; an
// incomplete last frame is left out.
func splitFrames(t *testing.T, stream []byte) []wireFrame {
	t.Helper()
	if len(stream) < zmtp.GreetingSize {
		return nil
	}
	var frames []wireFrame
	rest := stream[zmtp.GreetingSize:]
	for len(rest) > 0 {
		flags, size, hdr, ok, err := zmtp.ParseFrameHeader(rest)
		if err != nil {
			t.Fatalf("peer stream: %v", err)
		}
		if !ok || uint64(len(rest)-hdr) < size {
			break
		}
		frames = append(frames, wireFrame{flags: flags, long: hdr == 9, body: rest[hdr : hdr+int(size)]})
		rest = rest[hdr+int(size):]
	}
	return frames
}

// checkNullState checks what our side learned in the handshake.
func checkNullState(t *testing.T, c *recConn, peerType zmtp.SocketType, peerID []byte) {
	t.Helper()
	st := c.ConnectionState()
	if !st.HandshakeComplete || st.Mechanism != "NULL" || st.PeerMajor != 3 || st.PeerMinor != 1 {
		t.Errorf("ConnectionState: complete %v, mechanism %q, peer version %d.%d; want NULL with a ZMTP 3.1 peer",
			st.HandshakeComplete, st.Mechanism, st.PeerMajor, st.PeerMinor)
	}
	if st.PeerSocketType != peerType {
		t.Errorf("PeerSocketType = %q, want %q", st.PeerSocketType, peerType)
	}
	if (st.PeerIdentity == nil) != (peerID == nil) || !bytes.Equal(st.PeerIdentity, peerID) {
		t.Errorf("PeerIdentity = %q (nil %v), want %q (nil %v)", st.PeerIdentity, st.PeerIdentity == nil, peerID, peerID == nil)
	}
	if st.PeerAddress != "127.0.0.1" {
		t.Errorf("PeerAddress = %q, want 127.0.0.1", st.PeerAddress)
	}
}

// ---------------------------------------------------------------------------
// messages

// strMsg builds a message from strings.
func strMsg(parts ...string) [][]byte {
	msg := make([][]byte, len(parts))
	for i, p := range parts {
		msg[i] = []byte(p)
	}
	return msg
}

func equalMsg(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// shortMsg prints a message with long frames abbreviated.
func shortMsg(msg [][]byte) string {
	parts := make([]string, len(msg))
	for i, p := range msg {
		if len(p) > 32 {
			parts[i] = fmt.Sprintf("%q...(%d bytes)", p[:16], len(p))
		} else {
			parts[i] = fmt.Sprintf("%q", p)
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// sizedMsg is a multipart message with frames of 0, 255 (the largest short
// frame), 256 (the smallest long one) and 1 MiB bytes after head.
func sizedMsg(head string, fill byte) [][]byte {
	return [][]byte{
		[]byte(head),
		{},
		bytes.Repeat([]byte{fill}, 255),
		bytes.Repeat([]byte{fill + 1}, 256),
		bytes.Repeat([]byte{fill + 2}, 1<<20),
		[]byte("end"),
	}
}

func appendParts(a [][]byte, b ...[]byte) [][]byte { return append(append([][]byte{}, a...), b...) }

// sameMsg checks that a message is exactly want.
func sameMsg(t *testing.T, what string, got, want [][]byte) {
	t.Helper()
	if !equalMsg(got, want) {
		t.Fatalf("%s: got %s, want %s", what, shortMsg(got), shortMsg(want))
	}
}

// libBounce checks that messages flow both ways between a libzmq DEALER
// and our DEALER connection (libzmq's bounce).
func libBounce(t testing.TB, s *zmq.Socket, c *transport.Conn) {
	t.Helper()
	out := [][]byte{[]byte("from us"), {}, bytes.Repeat([]byte{'x'}, 300)}
	if err := c.WriteMessage(out); err != nil {
		t.Fatalf("our send: %v", err)
	}
	must(t, s.SetRcvtimeo(3*time.Second))
	got, err := s.RecvMessageBytes(0)
	if err != nil || !equalMsg(got, out) {
		t.Fatalf("libzmq received %s, %v; want %s", shortMsg(got), err, shortMsg(out))
	}
	back := strMsg("from libzmq", "2")
	if _, err := s.SendMessage("from libzmq", "2"); err != nil {
		t.Fatalf("libzmq send: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	msg, err := c.ReadMessage(nil)
	if err != nil || !equalMsg(msg, back) {
		t.Fatalf("we received %s, %v; want %s", shortMsg(msg), err, shortMsg(back))
	}
}

// hexString prints a byte string as hex with the printable runs quoted.
func hexString(b []byte) string { return fmt.Sprintf("% x (%q)", b, b) }

// eventually polls cond every 5 ms for up to d.
func eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// ---------------------------------------------------------------------------
// raw TCP client for hostile bytes; frames and greetings by hand

// greetingCurve30 is libzmq's zmtp_greeting_curve fixture (tests/testutil.hpp):
// ZMTP 3.0 (minor 0), mechanism CURVE, as-server 0.
func greetingCurve30() []byte { return greeting30("CURVE") }

// greeting30 is a ZMTP 3.0 greeting for mechanism, as libzmq's
// zmtp_greeting_null and zmtp_greeting_curve fixtures are.
func greeting30(mech string) []byte {
	g := make([]byte, 64)
	g[0] = 0xFF
	g[9] = 0x7F
	g[10] = 3
	copy(g[12:], mech)
	return g
}

// rawConn is a raw TCP connection to a ZMTP server.
type rawConn struct {
	t  testing.TB
	nc net.Conn
}

func dialRaw(t testing.TB, endpoint string) *rawConn {
	t.Helper()
	addr := strings.TrimPrefix(endpoint, "tcp://")
	nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc}
}

func (r *rawConn) write(b []byte) {
	r.t.Helper()
	r.nc.SetWriteDeadline(time.Now().Add(2 * time.Second))
	if _, err := r.nc.Write(b); err != nil {
		r.t.Fatalf("raw write: %v", err)
	}
}

func (r *rawConn) readFull(n int) []byte {
	r.t.Helper()
	b := make([]byte, n)
	r.nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.ReadFull(r.nc, b); err != nil {
		r.t.Fatalf("raw read of %d bytes: %v", n, err)
	}
	return b
}

// readFrame reads one ZMTP frame and returns its body.
func (r *rawConn) readFrame() (zmtp.Flags, []byte) {
	r.t.Helper()
	hdr := r.readFull(2)
	var size uint64
	if zmtp.Flags(hdr[0])&zmtp.FlagLong != 0 {
		rest := r.readFull(7)
		b := append(hdr[1:], rest...)
		for _, c := range b {
			size = size<<8 | uint64(c)
		}
	} else {
		size = uint64(hdr[1])
	}
	if size > 1<<20 {
		r.t.Fatalf("raw read: frame of %d bytes", size)
	}
	return zmtp.Flags(hdr[0]), r.readFull(int(size))
}

// readCommand reads one frame and parses it as a command.
func (r *rawConn) readCommand() zmtp.Command {
	r.t.Helper()
	_, body := r.readFrame()
	cmd, err := zmtp.ParseCommand(body)
	if err != nil {
		r.t.Fatalf("raw read: %v", err)
	}
	return zmtp.Command{Name: cmd.Name, Data: append([]byte(nil), cmd.Data...)}
}

// readRest reads until the peer closes or d passes. closed reports an EOF
// or a reset; the bytes are whatever arrived first.
func (r *rawConn) readRest(d time.Duration) (got []byte, closed bool, err error) {
	r.nc.SetReadDeadline(time.Now().Add(d))
	got, err = io.ReadAll(r.nc)
	if err == nil {
		return got, true, nil // EOF
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return got, false, err
	}
	return got, errors.Is(err, syscall.ECONNRESET), err
}

// commandFrame encodes a command as a command frame.
func commandFrame(cmd zmtp.Command) []byte {
	b := zmtp.AppendFrameHeader(nil, zmtp.FlagCommand, cmd.Len())
	return cmd.Append(b)
}

// bodyFrame encodes a raw command body as a command frame.
func bodyFrame(body []byte) []byte {
	return append(zmtp.AppendFrameHeader(nil, zmtp.FlagCommand, len(body)), body...)
}

// afterGreeting checks that b starts with a 64-byte ZMTP 3 greeting
// for mech with the given as-server bit, and returns the bytes after it.
func afterGreeting(t testing.TB, b []byte, mech string, asServer bool) []byte {
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

// specError is the ERROR command frame of the RFCs (23, 24, 25, 26):
// flags 04, size, 05 "ERROR", reason length, reason. It is what our servers
// send and what libzmq's NULL and CURVE servers send.
func specError(reason string) []byte {
	body := zmtp.AppendError(nil, reason)
	return append(zmtp.AppendFrameHeader(nil, zmtp.FlagCommand, len(body)), body...)
}

// libzmqPlainError is the ERROR frame libzmq 4.3.x PLAIN servers send:
// the prefix is the 5 bytes 5E "RROR" (docs/libzmq-behaviour.md#plain-error-bytes).
func libzmqPlainError(reason string) []byte {
	body := append([]byte("\x5eRROR"), byte(len(reason)))
	body = append(body, reason...)
	return append([]byte{byte(zmtp.FlagCommand), byte(len(body))}, body...)
}

// ---------------------------------------------------------------------------
// recording TCP proxy: the bytes each side sent, to show what went on the wire (the ERROR forms, silence)

// recProxy forwards every connection it accepts to target and records
// what each side sent.
type recProxy struct {
	t        testing.TB
	endpoint string
	mu       sync.Mutex
	conns    []*proxiedConn
	notify   chan struct{}
	// hole, while set, makes every connection swallow what either side
	// sends (see blackhole).
	hole atomic.Bool
}

// blackhole makes the proxy swallow, while on, every byte either side
// sends on any connection, without closing anything: to each side the
// other has gone silent. What is swallowed is lost, so a connection that
// was open meanwhile is unusable afterwards; new ones work again once it
// is off.
func (p *recProxy) blackhole(on bool) { p.hole.Store(on) }

// proxiedConn is one proxied connection. toClient is what the server sent,
// toServer what the client sent; done is closed once both directions ended.
type proxiedConn struct {
	mu                 sync.Mutex
	toClient, toServer bytes.Buffer
	done               chan struct{}
}

func (p *proxiedConn) bytes() (toClient, toServer []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return bytes.Clone(p.toClient.Bytes()), bytes.Clone(p.toServer.Bytes())
}

type recWriter struct {
	p    *proxiedConn
	buf  *bytes.Buffer
	w    io.Writer
	hole *atomic.Bool
}

func (w recWriter) Write(b []byte) (int, error) {
	if w.hole.Load() {
		return len(b), nil
	}
	w.p.mu.Lock()
	w.buf.Write(b)
	w.p.mu.Unlock()
	return w.w.Write(b)
}

func startProxy(t testing.TB, target string) *recProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &recProxy{t: t, endpoint: "tcp://" + ln.Addr().String(), notify: make(chan struct{}, 1024)}
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
			pc := &proxiedConn{done: make(chan struct{})}
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
					io.Copy(recWriter{pc, &pc.toClient, c, &p.hole}, s)
					c.Close()
					s.Close()
				}()
				go func() {
					defer dirs.Done()
					io.Copy(recWriter{pc, &pc.toServer, s, &p.hole}, c)
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
func (p *recProxy) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// closed waits up to d for connection i to end on both sides and returns
// what the server sent on it.
func (p *recProxy) closed(i int, d time.Duration) []byte {
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

// ---------------------------------------------------------------------------
// the socket layer (socket_*_test.go): one test's security on both sides,
// our sockets and their events, libzmq peers served in the background

// sockSecurity is a security setup of the socket tests: NULL, or CURVE
// with a ZAP handler on the server side.
type sockSecurity struct {
	name  string
	curve bool
}

var sockSecurities = []sockSecurity{{"NULL", false}, {"CURVE", true}}

// sockDirection says which side binds. Under CURVE the binding side is
// the server.
type sockDirection struct {
	name    string
	ourBind bool
}

var sockDirections = []sockDirection{{"our-bind", true}, {"libzmq-bind", false}}

// sockZAPDomain is the ZAP domain of the socket tests' CURVE servers, ours
// and libzmq's; sockUserID is the user id our ZAP handler gives the client.
const (
	sockZAPDomain = "sockets"
	sockUserID    = "sock-client"
)

// sockEnv is one socket test: a libzmq context, CURVE key pairs and the
// ZAP handlers of both sides. Under CURVE, our server asks ourZAP and a
// libzmq server asks a libzmq ZAP handler in lib's context; both allow cli's
// key and no other.
type sockEnv struct {
	t        *testing.T
	lib      *zmqLib
	curve    bool
	srv, cli cert.KeyPair
	ourZAP   *zapRecorder
	libZAP   *libZAP // started by the first libzmq server
}

func newSockEnv(t *testing.T, curve bool) *sockEnv {
	t.Helper()
	e := &sockEnv{t: t, lib: newZMQLib(t), curve: curve}
	if curve {
		e.srv, e.cli = testkeys.New(t), testkeys.New(t)
		e.ourZAP = recordZAP(allowKeyZAP(e.cli.Public))
	}
	return e
}

// allowKeyZAP answers 200 with user id sockUserID for a CURVE client with
// key, and 400 for every other request.
func allowKeyZAP(key cert.PublicKey) zap.Handler {
	return zap.HandlerFunc(func(_ context.Context, req *zap.Request) (*zap.Reply, error) {
		if req.Mechanism == "CURVE" && len(req.Credentials) == 1 && bytes.Equal(req.Credentials[0], key[:]) {
			return &zap.Reply{StatusCode: zap.StatusOK, StatusText: "OK", UserID: sockUserID}, nil
		}
		return &zap.Reply{StatusCode: zap.StatusCode(400), StatusText: "unknown key"}, nil
	})
}

// sockLibZAP is the decision of the socket tests' libzmq ZAP handler:
// zapAllowKeys, but with an empty user id. A libzmq 4.3.4 REQ server
// whose ZAP handler returns a user id drops the connection when the first
// reply arrives, whoever the client is (TestSocketLibzmqReqZAPUserID).
func sockLibZAP(key cert.PublicKey) func([][]byte) zapAnswer {
	allow := zapAllowKeys(key)
	return func(req [][]byte) zapAnswer {
		a := allow(req)
		a.UserID = ""
		return a
	}
}

// ourOptions returns a copy of opts (nil: the zero Options) completed for
// our socket on the server side (server) or the client side of e's
// security: under CURVE the mechanism, unless opts has one already, and
// on a server our ZAP handler, unless opts has one; a 3 s handshake
// timeout; and, unless
// opts says otherwise, no linger, so that Close returns at once.
func (e *sockEnv) ourOptions(server bool, opts *socket.Options) *socket.Options {
	e.t.Helper()
	var o socket.Options
	if opts != nil {
		o = *opts
	}
	if o.HandshakeTimeout == 0 {
		o.HandshakeTimeout = 3 * time.Second
	}
	if o.Linger == 0 {
		o.Linger = -1
	}
	if e.curve && o.Mechanism == nil {
		var err error
		if server {
			o.Mechanism, err = mechanism.CurveServer(e.srv)
			if o.ZAPHandler == nil {
				o.ZAPHandler, o.ZAPDomain = e.ourZAP, sockZAPDomain
			}
		} else {
			o.Mechanism, err = mechanism.CurveClient(e.srv.Public, e.cli)
		}
		must(e.t, err)
	}
	return &o
}

// ourSocket makes our socket of type typ (see ourOptions), closed when the
// test ends.
func (e *sockEnv) ourSocket(typ zmtp.SocketType, server bool, opts *socket.Options) *socket.Socket {
	e.t.Helper()
	s, err := socket.New(typ, e.ourOptions(server, opts))
	if err != nil {
		e.t.Fatalf("socket.New(%s): %v", typ, err)
	}
	e.t.Cleanup(func() { s.Close() })
	return s
}

// ours makes our socket of type typ: the server, bound to an ephemeral
// loopback port whose endpoint it returns, if bind is set; else the
// client, not yet connected (endpoint "").
func (e *sockEnv) ours(typ zmtp.SocketType, bind bool, opts *socket.Options) (*socket.Socket, string) {
	e.t.Helper()
	s := e.ourSocket(typ, bind, opts)
	if !bind {
		return s, ""
	}
	return s, ourListen(e.t, s)
}

// libServer makes a libzmq socket for the server side of e's security:
// under CURVE a CURVE server in ZAP domain sockZAPDomain, after starting
// the libzmq ZAP handler.
func (e *sockEnv) libServer(typ zmq.Type) *zmq.Socket {
	e.t.Helper()
	if !e.curve {
		return e.lib.socket(typ)
	}
	if e.libZAP == nil {
		e.libZAP = e.lib.zap(sockLibZAP(e.cli.Public))
	}
	s := e.lib.curveServer(typ, e.srv)
	must(e.t, s.SetZapDomain(sockZAPDomain))
	return s
}

// libClient makes a libzmq socket for the client side of e's security.
func (e *sockEnv) libClient(typ zmq.Type) *zmq.Socket {
	e.t.Helper()
	if !e.curve {
		return e.lib.socket(typ)
	}
	return e.lib.curveClient(typ, e.srv.Public.String(), e.cli.Public.String(), e.cli.Secret.Z85())
}

// peer adds a libzmq peer of type typ to our socket s: a client that
// connects to ep, s's bound endpoint, or, when ep is "", a server bound to
// an ephemeral port that s connects to. setup, if not nil, configures the
// libzmq socket first (options, a monitor).
func (e *sockEnv) peer(s *socket.Socket, ep string, typ zmq.Type, setup func(*zmq.Socket)) *zmq.Socket {
	e.t.Helper()
	var ls *zmq.Socket
	if ep != "" {
		ls = e.libClient(typ)
	} else {
		ls = e.libServer(typ)
	}
	if setup != nil {
		setup(ls)
	}
	if ep != "" {
		must(e.t, ls.Connect(ep))
	} else {
		ourConnect(e.t, s, e.lib.bind(ls))
	}
	return ls
}

// freeEndpoint returns a loopback TCP endpoint where nothing listens (a
// port the system gave out and that was closed again).
func freeEndpoint(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return "tcp://" + ln.Addr().String()
}

// rebind binds s to ep, trying again for up to stepTimeout while the port
// is still held by a socket that was just closed (libzmq closes in its
// reaper thread).
func rebind(t testing.TB, bind func(ep string) error, ep string) {
	t.Helper()
	var err error
	if !eventually(stepTimeout, func() bool { err = bind(ep); return err == nil }) {
		t.Fatalf("bind %s again: %v", ep, err)
	}
}

// ourListen binds s to an ephemeral loopback port and returns the endpoint.
func ourListen(t testing.TB, s *socket.Socket) string {
	t.Helper()
	if err := s.Bind("tcp://127.0.0.1:*"); err != nil {
		t.Fatalf("our %s: Bind: %v", s.Type(), err)
	}
	return s.LastEndpoint()
}

func ourConnect(t testing.TB, s *socket.Socket, ep string) {
	t.Helper()
	if err := s.Connect(ep); err != nil {
		t.Fatalf("our %s: Connect(%s): %v", s.Type(), ep, err)
	}
}

// waitPeers waits up to stepTimeout for s to have n peers whose handshake
// is done.
func waitPeers(t testing.TB, s *socket.Socket, n int) {
	t.Helper()
	if !eventually(stepTimeout, func() bool { return s.Stats().Peers >= n }) {
		t.Fatalf("our %s: %d peers after %v, want %d", s.Type(), s.Stats().Peers, stepTimeout, n)
	}
}

// ourSend sends msg on s, waiting up to stepTimeout.
func ourSend(t testing.TB, s *socket.Socket, msg ...[]byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	if err := s.Send(ctx, msg); err != nil {
		t.Fatalf("our %s: Send(%s): %v", s.Type(), shortMsg(msg), err)
	}
}

// ourRecv receives a message on s, waiting up to stepTimeout.
func ourRecv(t testing.TB, s *socket.Socket) [][]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	msg, err := s.Recv(ctx)
	if err != nil {
		t.Fatalf("our %s: Recv: %v", s.Type(), err)
	}
	return msg
}

// ourExpect receives a message on s and checks that it is want.
func ourExpect(t *testing.T, s *socket.Socket, want ...[]byte) {
	t.Helper()
	sameMsg(t, "our "+string(s.Type())+" received", ourRecv(t, s), want)
}

// ourNothing checks that s receives nothing within d.
func ourNothing(t testing.TB, s *socket.Socket, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if msg, err := s.Recv(ctx); err == nil {
		t.Errorf("our %s received %s; want nothing", s.Type(), shortMsg(msg))
	} else if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("our %s: Recv: %v", s.Type(), err)
	}
}

// libExpect receives a message on a libzmq socket and checks that it is
// want.
func libExpect(t *testing.T, s *zmq.Socket, want ...[]byte) {
	t.Helper()
	sameMsg(t, "libzmq received", libRecv(t, s), want)
}

// libServe answers, in a goroutine, every message s receives with
// reply(msg), or nothing when that is nil, until the test ends. s must not
// be used elsewhere meanwhile.
func libServe(t testing.TB, s *zmq.Socket, reply func([][]byte) [][]byte) {
	t.Helper()
	must(t, s.SetRcvtimeo(20*time.Millisecond))
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			msg, err := s.RecvMessageBytes(0)
			if isEAGAIN(err) {
				continue
			}
			if err != nil {
				t.Errorf("libzmq server: receive: %v", err)
				return
			}
			if out := reply(msg); out != nil {
				parts := make([]any, len(out))
				for i, p := range out {
					parts[i] = p
				}
				if _, err := s.SendMessage(parts...); err != nil {
					t.Errorf("libzmq server: send: %v", err)
					return
				}
			}
		}
	}()
	t.Cleanup(func() { stop.Store(true); <-done })
}

// ourEvents collects the events of one of our sockets (Options.Events).
// It is read from the test goroutine only.
type ourEvents struct {
	ch   chan socket.Event
	seen []socket.Event
}

func newOurEvents() *ourEvents { return &ourEvents{ch: make(chan socket.Event, 4096)} }

// next returns the next event, waiting up to d.
func (ev *ourEvents) next(d time.Duration) (socket.Event, bool) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case e := <-ev.ch:
		ev.seen = append(ev.seen, e)
		return e, true
	case <-timer.C:
		return socket.Event{}, false
	}
}

// waitFor waits up to d for an event of kind want and returns it with
// every event seen on the way.
func (ev *ourEvents) waitFor(want socket.EventKind, d time.Duration) (socket.Event, []socket.Event, bool) {
	var seen []socket.Event
	deadline := time.Now().Add(d)
	for {
		e, ok := ev.next(time.Until(deadline))
		if !ok {
			return socket.Event{}, seen, false
		}
		seen = append(seen, e)
		if e.Kind == want {
			return e, seen, true
		}
	}
}

// collect returns every event that arrives within d.
func (ev *ourEvents) collect(d time.Duration) []socket.Event {
	var out []socket.Event
	deadline := time.Now().Add(d)
	for {
		e, ok := ev.next(time.Until(deadline))
		if !ok {
			return out
		}
		out = append(out, e)
	}
}

// countKind counts the events of kind k in es.
func countKind(es []socket.Event, k socket.EventKind) int {
	n := 0
	for _, e := range es {
		if e.Kind == k {
			n++
		}
	}
	return n
}

// eventList prints events one per line.
func eventList(es []socket.Event) string {
	var b strings.Builder
	for _, e := range es {
		b.WriteString("\n\t" + e.String())
	}
	return b.String()
}

// sockCase is one case of a socket test.
type sockCase struct {
	name string
	run  func(t *testing.T)
}

// sockRun runs every case at once, each as a subtest (whatever -parallel
// says: they spend most of their time waiting on timers and the network),
// and then checks that no goroutine is left: each case's sockets, ours and
// libzmq's, are closed when it ends. The calling test must not be
// parallel, so that no other test's goroutines come and go meanwhile.
func sockRun(t *testing.T, cases []sockCase) {
	t.Helper()
	base := runtime.NumGoroutine()
	var wg sync.WaitGroup
	for _, c := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Run(c.name, c.run)
		}()
	}
	wg.Wait()
	if !eventually(stepTimeout, func() bool { return runtime.NumGoroutine() <= base }) {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines left after the sockets closed, %d before:\n%s",
			runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
	}
}

// sockMatrixCases makes the cases (for sockRun) that run f for every
// security, NULL and CURVE, in both directions: our socket binds and
// libzmq connects (ourBind), and the reverse. Their names are prefix (a
// pattern, a role), security and direction.
func sockMatrixCases(prefix string, f func(t *testing.T, e *sockEnv, ourBind bool)) []sockCase {
	var cases []sockCase
	for _, sec := range sockSecurities {
		for _, dir := range sockDirections {
			cases = append(cases, sockCase{prefix + "-" + sec.name + "-" + dir.name, func(t *testing.T) {
				f(t, newSockEnv(t, sec.curve), dir.ourBind)
			}})
		}
	}
	return cases
}

// checkZAPOnce checks that the server's ZAP handler, ours when ourBind,
// else libzmq's, was asked once per connection (n connections), and the
// other never: under CURVE only.
func (e *sockEnv) checkZAPOnce(t *testing.T, ourBind bool, n int) {
	t.Helper()
	if !e.curve {
		return
	}
	ours, theirs := int(e.ourZAP.calls.Load()), 0
	if e.libZAP != nil {
		theirs = int(e.libZAP.calls.Load())
	}
	want := [2]int{0, n}
	if ourBind {
		want = [2]int{n, 0}
	}
	if ours != want[0] || theirs != want[1] {
		t.Errorf("ZAP requests: ours %d, libzmq's %d; want %d and %d", ours, theirs, want[0], want[1])
	}
}

// checkKinds checks that the kinds of es include want in that order,
// other events between them allowed.
func checkKinds(t *testing.T, who string, es []socket.Event, want ...socket.EventKind) {
	t.Helper()
	i := 0
	for _, e := range es {
		if i < len(want) && e.Kind == want[i] {
			i++
		}
	}
	if i < len(want) {
		t.Errorf("%s: events %s\nwant, in this order: %v", who, eventList(es), want)
	}
}

// ---------------------------------------------------------------------------
// high-water marks: numbered messages sent until the sender blocks, drained in order

const (
	// hwmSmall is the SNDHWM and RCVHWM of the high-water mark tests.
	hwmSmall = 5
	// hwmPayload is the size of their messages: large enough that the
	// kernel buffers fill after a few hundred.
	hwmPayload = 32 << 10
	// hwmMaxMessages is where a sender that never blocks fails the test.
	hwmMaxMessages = 3000
	// hwmAttempt bounds one send attempt; hwmBlocked attempts in a row
	// that time out mean the sender is blocked.
	hwmAttempt = 200 * time.Millisecond
	hwmBlocked = 3
)

var hwmFill = bytes.Repeat([]byte{'h'}, hwmPayload)

// hwmMsg is message i of a high-water mark test: its number, then the
// payload (shared, never modified).
func hwmMsg(i int) [][]byte { return [][]byte{[]byte(fmt.Sprintf("%06d", i)), hwmFill} }

// fillUntilBlocked sends messages 0, 1, ... with send, which reports false
// when an attempt timed out (then nothing was queued), until hwmBlocked
// attempts in a row time out. It returns how many messages went.
func fillUntilBlocked(t *testing.T, who string, send func(i int) bool) int {
	t.Helper()
	n, timeouts := 0, 0
	for timeouts < hwmBlocked {
		if n >= hwmMaxMessages {
			t.Fatalf("%s: %d messages of %d bytes sent to a peer that does not read; want a block", who, n, hwmPayload)
		}
		if send(n) {
			n++
			timeouts = 0
		} else {
			timeouts++
		}
	}
	return n
}

// drain receives messages 0 to n-1 with recv, in order, and checks that
// nothing more comes.
func drainInOrder(t *testing.T, who string, n int, recv func() [][]byte, nothing func()) {
	t.Helper()
	for i := range n {
		m := recv()
		if len(m) != 2 || string(m[0]) != fmt.Sprintf("%06d", i) || !bytes.Equal(m[1], hwmFill) {
			t.Fatalf("%s: message %d of %d is %s; want message %06d", who, i, n, shortMsg(m), i)
		}
	}
	nothing()
}

// ourHWMSend is a send for fillUntilBlocked on our socket.
func ourHWMSend(t *testing.T, s *socket.Socket) func(int) bool {
	return func(i int) bool {
		ctx, cancel := context.WithTimeout(context.Background(), hwmAttempt)
		defer cancel()
		err := s.Send(ctx, hwmMsg(i))
		if errors.Is(err, context.DeadlineExceeded) {
			return false
		}
		if err != nil {
			t.Fatalf("our %s: Send: %v", s.Type(), err)
		}
		return true
	}
}

// libHWMSend is a send for fillUntilBlocked on a libzmq socket.
func libHWMSend(t *testing.T, s *zmq.Socket) func(int) bool {
	must(t, s.SetSndtimeo(hwmAttempt))
	return func(i int) bool {
		m := hwmMsg(i)
		_, err := s.SendMessage(m[0], m[1])
		if isEAGAIN(err) {
			return false
		}
		if err != nil {
			t.Fatalf("libzmq send: %v", err)
		}
		return true
	}
}

// sendFor sends messages 0, 1, ... with send, which reports false when an
// attempt timed out, for d, and returns how many went.
func sendFor(d time.Duration, send func(i int) bool) int {
	n := 0
	for deadline := time.Now().Add(d); time.Now().Before(deadline); {
		if send(n) {
			n++
		}
	}
	return n
}
