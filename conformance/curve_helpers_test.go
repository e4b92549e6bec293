package conformance

// Helpers shared by the CURVE conformance tests (curve_*_test.go): libzmq
// sockets in a per-test context, a libzmq ZAP handler, libzmq monitors, our
// server on an ephemeral port, and a raw TCP client for hostile bytes.
// Every identifier starts with "curve" so that the NULL and PLAIN suites in
// this package can use their own names freely.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/zmtpsec/zmtpsec/cert"
	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// Public test keys of libzmq's tests/test_heartbeats.cpp and the zmq_curve
// man page (docs/wire-format.md#published-test-keys).
const (
	curveDocServerPublic = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
	curveDocServerSecret = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"
	curveDocClientPublic = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
	curveDocClientSecret = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs"

	// curveNullKey is libzmq's null_key: the Z85 text of 32 zero bytes.
	curveNullKey = "0000000000000000000000000000000000000000"
)

// libzmq protocol error values of ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
// (zmq.h, docs/libzmq-behaviour.md#monitor-events).
const (
	curveErrUnexpectedCommand = 0x10000001
	curveErrMalformedHello    = 0x10000013
	curveErrMalformedInitiate = 0x10000014
	curveErrCryptographic     = 0x11000001
	curveErrMechanismMismatch = 0x11000002
)

// curveHandshakeEvents are the monitor events libzmq's security tests watch.
const curveHandshakeEvents = zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL |
	zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_AUTH

func curveDocServer(t testing.TB) cert.KeyPair {
	return curveKeyPair(t, curveDocServerPublic, curveDocServerSecret)
}

func curveDocClient(t testing.TB) cert.KeyPair {
	return curveKeyPair(t, curveDocClientPublic, curveDocClientSecret)
}

func curveKeyPair(t testing.TB, pub, sec string) cert.KeyPair {
	t.Helper()
	p, err := cert.ParsePublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	s, err := cert.ParseSecretKey(sec)
	if err != nil {
		t.Fatal(err)
	}
	return cert.KeyPair{Public: p, Secret: s}
}

func curveNewKeyPair(t testing.TB) cert.KeyPair {
	t.Helper()
	kp, err := cert.GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

// curveSeededRand is a deterministic randomness source for Config.Rand.
func curveSeededRand(seed [32]byte) *rand.ChaCha8 { return rand.NewChaCha8(seed) }

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

// ---------------------------------------------------------------------------
// libzmq side

// curveLib is one libzmq context with every socket made in it; all are
// closed and the context terminated when the test ends.
type curveLib struct {
	t     testing.TB
	ctx   *zmq.Context
	mu    sync.Mutex
	socks []*zmq.Socket
	stops []func()
	nmon  int
}

func newCurveLib(t testing.TB) *curveLib {
	t.Helper()
	ctx, err := zmq.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	l := &curveLib{t: t, ctx: ctx}
	t.Cleanup(l.close)
	return l
}

func (l *curveLib) close() {
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
func (l *curveLib) socket(typ zmq.Type) *zmq.Socket {
	l.t.Helper()
	s, err := l.ctx.NewSocket(typ)
	if err != nil {
		l.t.Fatal(err)
	}
	l.mu.Lock()
	l.socks = append(l.socks, s)
	l.mu.Unlock()
	curveCheck(l.t, s.SetLinger(0))
	curveCheck(l.t, s.SetHandshakeIvl(2*time.Second))
	curveCheck(l.t, s.SetReconnectIvl(50*time.Millisecond))
	curveCheck(l.t, s.SetRcvtimeo(5*time.Second))
	curveCheck(l.t, s.SetSndtimeo(5*time.Second))
	return s
}

// curveServer makes a libzmq CURVE server socket with the given key pair.
func (l *curveLib) curveServer(typ zmq.Type, kp cert.KeyPair) *zmq.Socket {
	l.t.Helper()
	s := l.socket(typ)
	curveCheck(l.t, s.SetCurveServer(1))
	curveCheck(l.t, s.SetCurveSecretkey(kp.Secret.Z85()))
	return s
}

// curveClient makes a libzmq CURVE client socket. Keys are Z85 texts, so
// that the tests can pass libzmq's null key.
func (l *curveLib) curveClient(typ zmq.Type, serverKey, public, secret string) *zmq.Socket {
	l.t.Helper()
	s := l.socket(typ)
	curveCheck(l.t, s.SetCurveServerkey(serverKey))
	curveCheck(l.t, s.SetCurvePublickey(public))
	curveCheck(l.t, s.SetCurveSecretkey(secret))
	return s
}

// bind binds s to an ephemeral TCP port on 127.0.0.1 and returns the
// endpoint.
func (l *curveLib) bind(s *zmq.Socket) string {
	l.t.Helper()
	curveCheck(l.t, s.Bind("tcp://127.0.0.1:*"))
	ep, err := s.GetLastEndpoint()
	if err != nil {
		l.t.Fatal(err)
	}
	return ep
}

func curveCheck(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// curveIsEAGAIN reports a libzmq receive that timed out.
func curveIsEAGAIN(err error) bool { return zmq.AsErrno(err) == zmq.Errno(syscall.EAGAIN) }

// curveZAPAnswer is what the libzmq ZAP handler replies.
type curveZAPAnswer struct {
	Status, Text, UserID string
	Metadata             zmtp.Metadata
}

// curveLibZAP is a ZAP handler (a REP socket bound to inproc://zeromq.zap.01
// in the test's libzmq context), as libzmq's tests run one.
type curveLibZAP struct {
	calls    atomic.Int32
	mu       sync.Mutex
	requests [][][]byte
}

func (z *curveLibZAP) lastRequest() [][]byte {
	z.mu.Lock()
	defer z.mu.Unlock()
	if len(z.requests) == 0 {
		return nil
	}
	return z.requests[len(z.requests)-1]
}

// zap starts a ZAP handler that answers every request with decide(request
// frames). It must be started before the server socket it serves binds.
func (l *curveLib) zap(decide func(req [][]byte) curveZAPAnswer) *curveLibZAP {
	l.t.Helper()
	rep, err := l.ctx.NewSocket(zmq.REP)
	if err != nil {
		l.t.Fatal(err)
	}
	curveCheck(l.t, rep.SetLinger(0))
	curveCheck(l.t, rep.SetRcvtimeo(20*time.Millisecond))
	if err := rep.Bind("inproc://zeromq.zap.01"); err != nil {
		rep.Close()
		l.t.Fatal(err)
	}
	h := &curveLibZAP{}
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer rep.Close()
		for !stop.Load() {
			req, err := rep.RecvMessageBytes(0)
			if err != nil {
				if curveIsEAGAIN(err) {
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

// curveZAPAllow answers 200 for the client keys given (raw 32 bytes) and 400
// "Invalid client public key" for every other, like libzmq's zap_handler.
func curveZAPAllow(keys ...cert.PublicKey) func([][]byte) curveZAPAnswer {
	return func(req [][]byte) curveZAPAnswer {
		if len(req) == 7 && req[5] != nil && string(req[5]) == "CURVE" {
			for _, k := range keys {
				if bytes.Equal(req[6], k[:]) {
					return curveZAPAnswer{Status: "200", Text: "OK", UserID: "anonymous"}
				}
			}
		}
		return curveZAPAnswer{Status: "400", Text: "Invalid client public key"}
	}
}

// curveEvent is one libzmq monitor event.
type curveEvent struct {
	Event zmq.Event
	Value int
}

func (e curveEvent) String() string {
	switch e.Event {
	case zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL:
		return fmt.Sprintf("%v(%#x)", e.Event, e.Value)
	case zmq.EVENT_CONNECTED, zmq.EVENT_ACCEPTED, zmq.EVENT_DISCONNECTED, zmq.EVENT_CLOSED, zmq.EVENT_LISTENING:
		return e.Event.String() // the value is a file descriptor
	}
	return fmt.Sprintf("%v(%d)", e.Event, e.Value)
}

// curveMon reads a libzmq socket monitor through a PAIR socket. It is used
// from the test goroutine only.
type curveMon struct {
	t    testing.TB
	pair *zmq.Socket
	seen []curveEvent
}

// monitor starts monitoring s for events. Call it before s binds or
// connects.
func (l *curveLib) monitor(s *zmq.Socket, events zmq.Event) *curveMon {
	l.t.Helper()
	l.mu.Lock()
	l.nmon++
	addr := fmt.Sprintf("inproc://curve-monitor-%d", l.nmon)
	l.mu.Unlock()
	curveCheck(l.t, s.Monitor(addr, events))
	pair := l.socket(zmq.PAIR)
	curveCheck(l.t, pair.Connect(addr))
	return &curveMon{t: l.t, pair: pair}
}

// next returns the next event, waiting up to d.
func (m *curveMon) next(d time.Duration) (curveEvent, bool) {
	if d < time.Millisecond {
		d = time.Millisecond
	}
	curveCheck(m.t, m.pair.SetRcvtimeo(d))
	ev, _, val, err := m.pair.RecvEvent(0)
	if err != nil {
		if !curveIsEAGAIN(err) {
			m.t.Errorf("monitor: %v", err)
		}
		return curveEvent{}, false
	}
	e := curveEvent{Event: ev, Value: val}
	m.seen = append(m.seen, e)
	return e, true
}

// collect returns every event that arrives within d.
func (m *curveMon) collect(d time.Duration) []curveEvent {
	var out []curveEvent
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
func (m *curveMon) waitFor(want zmq.Event, d time.Duration) (curveEvent, []curveEvent, bool) {
	var seen []curveEvent
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return curveEvent{}, seen, false
		}
		e, ok := m.next(left)
		if !ok {
			return curveEvent{}, seen, false
		}
		seen = append(seen, e)
		if e.Event == want {
			return e, seen, true
		}
	}
}

// curveCount counts the events of kind ev in es.
func curveCount(es []curveEvent, ev zmq.Event) int {
	n := 0
	for _, e := range es {
		if e.Event == ev {
			n++
		}
	}
	return n
}

// curveExpectNothing checks that s receives nothing within d (libzmq's
// expect_bounce_fail, one direction).
func curveExpectNothing(t testing.TB, s *zmq.Socket, d time.Duration) {
	t.Helper()
	curveCheck(t, s.SetRcvtimeo(d))
	msg, err := s.RecvMessageBytes(0)
	if err == nil {
		t.Errorf("libzmq socket received %q; want nothing", msg)
	} else if !curveIsEAGAIN(err) {
		t.Errorf("libzmq receive: %v", err)
	}
	curveCheck(t, s.SetRcvtimeo(5*time.Second))
}

// ---------------------------------------------------------------------------
// our side

// curveAccepted is one connection our server accepted, with the result of
// its handshake.
type curveAccepted struct {
	conn *transport.Conn
	err  error
}

// curveSrv is our server: a transport.Listener on an ephemeral port that
// handshakes every connection it accepts and reports it.
type curveSrv struct {
	t        testing.TB
	ln       *transport.Listener
	endpoint string
	accepted chan curveAccepted
	count    atomic.Int32
}

func curveServe(t testing.TB, cfg *transport.Config) *curveSrv {
	t.Helper()
	ln, err := transport.Listen("tcp://127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := &curveSrv{t: t, ln: ln, endpoint: ln.Endpoint(), accepted: make(chan curveAccepted, 1024)}
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
				case s.accepted <- curveAccepted{c, err}:
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
func (s *curveSrv) next(d time.Duration) curveAccepted {
	s.t.Helper()
	select {
	case a := <-s.accepted:
		return a
	case <-time.After(d):
		s.t.Fatalf("our server: no connection within %v", d)
		return curveAccepted{}
	}
}

// drain returns every handshake result that arrives within d.
func (s *curveSrv) drain(d time.Duration) []curveAccepted {
	var out []curveAccepted
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

// curveReader reads messages from c in a goroutine until it fails; the
// messages arrive on msgs and the final error on done.
type curveReader struct {
	msgs chan [][]byte
	done chan error
}

func curveRead(c *transport.Conn) *curveReader {
	r := &curveReader{msgs: make(chan [][]byte, 1024), done: make(chan error, 1)}
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

func (r *curveReader) next(t testing.TB, d time.Duration) [][]byte {
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

// curveFrames builds a message from strings.
func curveFrames(parts ...string) [][]byte {
	msg := make([][]byte, len(parts))
	for i, p := range parts {
		msg[i] = []byte(p)
	}
	return msg
}

func curveEqualMsg(a, b [][]byte) bool {
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

// curveShort prints a message with long frames abbreviated.
func curveShort(msg [][]byte) string {
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

// ---------------------------------------------------------------------------
// raw TCP client for hostile bytes

// curveGreeting30 is libzmq's zmtp_greeting_curve fixture (tests/testutil.hpp):
// ZMTP 3.0 (minor 0), mechanism CURVE, as-server 0.
func curveGreeting30() []byte { return curveGreeting("CURVE") }

// curveGreeting is a ZMTP 3.0 greeting for mechanism, as libzmq's
// zmtp_greeting_null and zmtp_greeting_curve fixtures are.
func curveGreeting(mech string) []byte {
	g := make([]byte, 64)
	g[0] = 0xFF
	g[9] = 0x7F
	g[10] = 3
	copy(g[12:], mech)
	return g
}

// curveRaw is a raw TCP connection to a ZMTP server.
type curveRaw struct {
	t  testing.TB
	nc net.Conn
}

func curveDialRaw(t testing.TB, endpoint string) *curveRaw {
	t.Helper()
	addr := strings.TrimPrefix(endpoint, "tcp://")
	nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &curveRaw{t: t, nc: nc}
}

func (r *curveRaw) write(b []byte) {
	r.t.Helper()
	r.nc.SetWriteDeadline(time.Now().Add(2 * time.Second))
	if _, err := r.nc.Write(b); err != nil {
		r.t.Fatalf("raw write: %v", err)
	}
}

func (r *curveRaw) readFull(n int) []byte {
	r.t.Helper()
	b := make([]byte, n)
	r.nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.ReadFull(r.nc, b); err != nil {
		r.t.Fatalf("raw read of %d bytes: %v", n, err)
	}
	return b
}

// readFrame reads one ZMTP frame and returns its body.
func (r *curveRaw) readFrame() (zmtp.Flags, []byte) {
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
func (r *curveRaw) readCommand() zmtp.Command {
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
func (r *curveRaw) readRest(d time.Duration) (got []byte, closed bool, err error) {
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

// curveRawFrame encodes a command as a command frame.
func curveRawFrame(cmd zmtp.Command) []byte {
	b := zmtp.AppendFrameHeader(nil, zmtp.FlagCommand, cmd.Len())
	return cmd.Append(b)
}

// curveRawBody encodes a raw command body as a command frame.
func curveRawBody(body []byte) []byte {
	return append(zmtp.AppendFrameHeader(nil, zmtp.FlagCommand, len(body)), body...)
}
