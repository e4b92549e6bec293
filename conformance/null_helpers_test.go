package conformance

// Helpers of the NULL interop suite (null_test.go, null_record_test.go): our
// end of a connection with libzmq 4.3.4 in either direction, always on a
// transcript.Recorder so that the tests can look at the bytes on the wire
// and the recorded scenarios can be written out. Every identifier starts
// with "null". The libzmq side (contexts, sockets, monitors) is the CURVE
// suite's curveLib.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/zmtpsec/zmtpsec/internal/transcript"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// nullWait bounds every single wait of the suite: a handshake, a message.
const nullWait = 5 * time.Second

// nullConfig is our NULL config for a socket type and routing id.
func nullConfig(st zmtp.SocketType, identity string) *transport.Config {
	cfg := &transport.Config{SocketType: st, HandshakeTimeout: 3 * time.Second}
	if identity != "" {
		cfg.Identity = []byte(identity)
	}
	return cfg
}

// nullConn is our end of a connection: a transport.Conn on a recorder.
// Its methods note our application's actions in the recording, so that a
// recorded session can be replayed (transport/replay_test.go).
type nullConn struct {
	*transport.Conn
	rec *transcript.Recorder
	cfg *transport.Config
}

// nullNoteConfig notes what a replay needs to rebuild our side.
func nullNoteConfig(rec *transcript.Recorder, role string, cfg *transport.Config) {
	rec.Note("role " + role)
	rec.Note("socket-type " + string(cfg.SocketType))
	if len(cfg.Identity) > 0 {
		rec.Note(transcript.JoinNote("identity", cfg.Identity))
	}
}

// handshake runs our handshake and notes the peer it found.
func (c *nullConn) handshake(ctx context.Context) error {
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

// nullDir is a direction: who connects to whom.
type nullDir struct {
	name string
	// open connects our side, configured by cfg, with the libzmq socket s,
	// which the test has configured but not bound or connected, and runs
	// our handshake.
	open func(t *testing.T, lib *curveLib, s *zmq.Socket, cfg *transport.Config) *nullConn
}

var nullDirs = []nullDir{
	{"our-client", nullConnect},
	{"libzmq-client", nullListen},
}

// nullConnect binds s to an ephemeral port and connects our client to it.
func nullConnect(t *testing.T, lib *curveLib, s *zmq.Socket, cfg *transport.Config) *nullConn {
	t.Helper()
	c, err := nullTryConnect(t, lib, s, cfg)
	if err != nil {
		t.Fatalf("our %s client to libzmq: %v", cfg.SocketType, err)
	}
	return c
}

// nullTryConnect is nullConnect that returns our handshake's error.
func nullTryConnect(t *testing.T, lib *curveLib, s *zmq.Socket, cfg *transport.Config) (*nullConn, error) {
	t.Helper()
	ep := lib.bind(s)
	nc, err := net.DialTimeout("tcp", strings.TrimPrefix(ep, "tcp://"), nullWait)
	if err != nil {
		t.Fatal(err)
	}
	rec := transcript.NewRecorder(nc)
	nullNoteConfig(rec, "client", cfg)
	c := &nullConn{Conn: transport.Client(rec, cfg), rec: rec, cfg: cfg}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), nullWait)
	defer cancel()
	return c, c.handshake(ctx)
}

// nullRecListener is a net.Listener whose connections are recorders.
type nullRecListener struct{ net.Listener }

func (l nullRecListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return transcript.NewRecorder(nc), nil
}

// nullServer is our transport.Listener on an ephemeral port, with every
// accepted connection on a recorder.
type nullServer struct {
	t        *testing.T
	ln       *transport.Listener
	cfg      *transport.Config
	accepted chan *nullConn
}

func nullServe(t *testing.T, cfg *transport.Config) *nullServer {
	t.Helper()
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := transport.NewListener(nullRecListener{nl}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := &nullServer{t: t, ln: ln, cfg: cfg, accepted: make(chan *nullConn, 64)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := srv.ln.Accept()
			if err != nil {
				return
			}
			rec := c.NetConn().(*transcript.Recorder)
			nullNoteConfig(rec, "server", cfg)
			select {
			case srv.accepted <- &nullConn{Conn: c, rec: rec, cfg: cfg}:
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
func (srv *nullServer) endpoint() string { return srv.ln.Endpoint() }

// accept waits for the next connection, before its handshake.
func (srv *nullServer) accept() *nullConn {
	srv.t.Helper()
	select {
	case c := <-srv.accepted:
		srv.t.Cleanup(func() { c.Close() })
		return c
	case <-time.After(nullWait):
		srv.t.Fatalf("our %s listener: no connection within %v", srv.cfg.SocketType, nullWait)
		return nil
	}
}

// nullListen has s connect to our listener and runs our handshake.
func nullListen(t *testing.T, lib *curveLib, s *zmq.Socket, cfg *transport.Config) *nullConn {
	t.Helper()
	srv := nullServe(t, cfg)
	curveCheck(t, s.Connect(srv.endpoint()))
	c := srv.accept()
	ctx, cancel := context.WithTimeout(context.Background(), nullWait)
	defer cancel()
	if err := c.handshake(ctx); err != nil {
		t.Fatalf("our %s server with libzmq: %v", cfg.SocketType, err)
	}
	return c
}

// read reads one message, noting it, within nullWait.
func (c *nullConn) read(t *testing.T) [][]byte {
	t.Helper()
	msg, err := c.tryRead(nullWait)
	if err != nil {
		t.Fatalf("our %s: ReadMessage: %v", c.cfg.SocketType, err)
	}
	return msg
}

func (c *nullConn) tryRead(d time.Duration) ([][]byte, error) {
	c.SetReadDeadline(time.Now().Add(d))
	defer c.SetReadDeadline(time.Time{})
	msg, err := c.ReadMessage(nil)
	if err == nil {
		c.rec.Note(transcript.JoinNote("read", msg...))
	}
	return msg, err
}

// expect reads one message and checks it is want.
func (c *nullConn) expect(t *testing.T, want ...[]byte) {
	t.Helper()
	nullSame(t, "our "+string(c.cfg.SocketType)+" read", c.read(t), want)
}

// write sends one message, noting it.
func (c *nullConn) write(t *testing.T, msg ...[]byte) {
	t.Helper()
	c.rec.Note(transcript.JoinNote("write", msg...))
	c.SetWriteDeadline(time.Now().Add(nullWait))
	defer c.SetWriteDeadline(time.Time{})
	if err := c.WriteMessage(msg); err != nil {
		t.Fatalf("our %s: WriteMessage: %v", c.cfg.SocketType, err)
	}
}

// subscribe subscribes (SUB, XSUB), noting it.
func (c *nullConn) subscribe(t *testing.T, topic string) {
	t.Helper()
	c.rec.Note(transcript.JoinNote("subscribe", []byte(topic)))
	if err := c.Subscribe([]byte(topic)); err != nil {
		t.Fatalf("our %s: Subscribe: %v", c.cfg.SocketType, err)
	}
}

// unsubscribe cancels a subscription, noting it.
func (c *nullConn) unsubscribe(t *testing.T, topic string) {
	t.Helper()
	c.rec.Note(transcript.JoinNote("unsubscribe", []byte(topic)))
	if err := c.Unsubscribe([]byte(topic)); err != nil {
		t.Fatalf("our %s: Unsubscribe: %v", c.cfg.SocketType, err)
	}
}

// peerFrames returns the frames the peer has sent so far, after its
// greeting, as the recorder saw them on the wire.
func (c *nullConn) peerFrames(t *testing.T) []nullWireFrame {
	t.Helper()
	return nullSplit(t, c.rec.Transcript().Stream(transcript.Peer))
}

// nullWireFrame is one frame as it crossed the wire.
type nullWireFrame struct {
	flags zmtp.Flags
	long  bool // the size field was 8 bytes
	body  []byte
}

// nullSplit cuts a direction's bytes into its greeting and whole frames; an
// incomplete last frame is left out.
func nullSplit(t *testing.T, stream []byte) []nullWireFrame {
	t.Helper()
	if len(stream) < zmtp.GreetingSize {
		return nil
	}
	var frames []nullWireFrame
	rest := stream[zmtp.GreetingSize:]
	for len(rest) > 0 {
		flags, size, hdr, ok, err := zmtp.ParseFrameHeader(rest)
		if err != nil {
			t.Fatalf("peer stream: %v", err)
		}
		if !ok || uint64(len(rest)-hdr) < size {
			break
		}
		frames = append(frames, nullWireFrame{flags: flags, long: hdr == 9, body: rest[hdr : hdr+int(size)]})
		rest = rest[hdr+int(size):]
	}
	return frames
}

// ---------------------------------------------------------------------------
// libzmq side

// nullSocket makes a libzmq socket of typ with routing id id (if not empty).
func nullSocket(t *testing.T, lib *curveLib, typ zmq.Type, id string) *zmq.Socket {
	t.Helper()
	s := lib.socket(typ)
	if id != "" {
		curveCheck(t, s.SetIdentity(id))
	}
	return s
}

// nullSend sends a multipart message from a libzmq socket.
func nullSend(t *testing.T, s *zmq.Socket, msg ...[]byte) {
	t.Helper()
	parts := make([]any, len(msg))
	for i, p := range msg {
		parts[i] = p
	}
	if _, err := s.SendMessage(parts...); err != nil {
		t.Fatalf("libzmq send: %v", err)
	}
}

// nullRecv receives a multipart message on a libzmq socket.
func nullRecv(t *testing.T, s *zmq.Socket) [][]byte {
	t.Helper()
	msg, err := s.RecvMessageBytes(0)
	if err != nil {
		t.Fatalf("libzmq receive: %v", err)
	}
	return msg
}

// nullRecvMeta receives a multipart message on a libzmq socket with the
// connection properties (zmq_msg_gets) libzmq attached to its last frame;
// a property it does not have is missing from the map.
func nullRecvMeta(t *testing.T, s *zmq.Socket, props ...string) ([][]byte, map[string]string) {
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

// nullPumping runs fn while another goroutine makes s process its pending
// commands (a bound libzmq socket attaches a new connection, and so sends
// its subscriptions, only when its application calls into it). s must not
// be used by anyone else meanwhile.
func nullPumping(s *zmq.Socket, fn func()) {
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

// ---------------------------------------------------------------------------
// messages

// nullSized is a multipart message with frames of 0, 255 (the largest short
// frame), 256 (the smallest long one) and 1 MiB bytes after head.
func nullSized(head string, fill byte) [][]byte {
	return [][]byte{
		[]byte(head),
		{},
		bytes.Repeat([]byte{fill}, 255),
		bytes.Repeat([]byte{fill + 1}, 256),
		bytes.Repeat([]byte{fill + 2}, 1<<20),
		[]byte("end"),
	}
}

func nullMsg(parts ...string) [][]byte { return curveFrames(parts...) }

func nullCat(a [][]byte, b ...[]byte) [][]byte { return append(append([][]byte{}, a...), b...) }

// nullSame checks that a message is exactly want.
func nullSame(t *testing.T, what string, got, want [][]byte) {
	t.Helper()
	if !curveEqualMsg(got, want) {
		t.Fatalf("%s: got %s, want %s", what, curveShort(got), curveShort(want))
	}
}

// nullCheckState checks what our side learned in the handshake.
func nullCheckState(t *testing.T, c *nullConn, peerType zmtp.SocketType, peerID []byte) {
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

// nullIsClosed reports an error that says the peer closed the connection.
func nullIsClosed(err error) bool {
	return err != nil && (errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "EOF") ||
		strings.Contains(err.Error(), "connection reset"))
}

// nullCtx is a context for one handshake.
func nullCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), nullWait)
}
