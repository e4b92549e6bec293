package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// Conn is a ZMTP connection over a net.Conn. ReadMessage and WriteMessage (or
// WriteMessages) may be called concurrently with each other (one reader and
// one writer at a time each); Close may be called at any time.
type Conn struct {
	conn     net.Conn
	cfg      *Config
	isClient bool

	// handshakeMu serialises handshakes; handshakeDone is set, and
	// handshakeErr and state are written, under it.
	handshakeMu   sync.Mutex
	handshakeDone atomic.Bool
	handshakeErr  error
	state         ConnectionState
	peerMinor     uint8

	// in is used by the reader, under inMu. hsBuf and inBuf are the
	// buffers it reads the handshake and then messages into, from pools
	// until they go back there (nil before and after; readbuf.go).
	inMu  sync.Mutex
	in    zmtp.Reader
	hsBuf *[handshakeReadBufferSize]byte
	inBuf *[zmtp.DefaultReadBufferSize]byte
	// partial is true while a multipart message is half read.
	partial bool

	// out and scratch are used under outMu; outErr is sticky. spliced
	// lists the frame bodies to write from the caller's slices between the
	// bytes of out; iov and wbufs describe a writev of both (write.go).
	outMu   sync.Mutex
	out     []byte
	scratch []byte
	outErr  error
	spliced []spliced
	iov     [][]byte
	wbufs   net.Buffers

	// sealer (under outMu) and opener (under inMu) carry the messages of
	// a mechanism that protects them (CURVE, GSSAPI); both are nil for
	// NULL and PLAIN. openOverhead is the opener's MaxOverhead, taken
	// once (under inMu). cmdBuf holds an opened command.
	sealer       mechanism.MessageSealer
	opener       mechanism.MessageOpener
	openOverhead int64
	cmdBuf       []byte

	// Liveness, used when heartbeats are on or the peer asked for a TTL.
	lastRecv   atomic.Int64 // UnixNano of the last incoming frame
	watching   atomic.Bool  // lastRecv is being kept up to date
	readPaused atomic.Bool  // SetReadPaused: silence is ours, not the peer's
	peerTTL    atomic.Int64 // nanoseconds the peer asked for, 0 = none
	timerMu    sync.Mutex
	hbTimer    *time.Timer
	ttlTimer   *time.Timer
	pingSent   time.Time // first PING not yet followed by traffic; under timerMu
	lastPingAt time.Time // when the last PING went out; under timerMu
	closed     atomic.Bool
	closeOnce  sync.Once
	closeErr   error
	doneMu     sync.Mutex
	done       chan struct{}         // made by Done (on first use), closed by Close
	doneClosed bool                  // Close has run: a channel Done makes is closed
	asyncErr   atomic.Pointer[error] // set by a timer that ended the connection

	// The caller's deadlines, restored after the handshake.
	readDeadline, writeDeadline deadline
	// deadlineMu orders the changes of the connection's deadlines made by
	// the caller (SetDeadline and co.) and by a running handshake, whose
	// own bounds hsRead and hsWrite (zero: none) cap the caller's while
	// hsRunning is set (deadline.go).
	deadlineMu      sync.Mutex
	hsRunning       bool
	hsRead, hsWrite time.Time

	// A PONG the reader could not send at once because a writer held
	// outMu; the next holder of outMu sends it (see unlockOut).
	pongMu      sync.Mutex
	pongPending bool
	pongLen     int
	pongCtx     [zmtp.MaxPingContext]byte

	// hooks ties the Conn to the Listener that accepted it and holds the
	// audit record of its handshake (listener.go, audit.go).
	hooks connHooks
}

// Client returns a client-side Conn on conn (the connecting side). It does no
// I/O; the handshake runs on the first ReadMessage, WriteMessage or an
// explicit Handshake. The role in the security handshake comes from
// cfg.Mechanism, as libzmq takes it from socket options; for NULL the two
// roles behave the same.
func Client(conn net.Conn, cfg *Config) *Conn { return newConn(conn, cfg, true) }

// Server returns a server-side Conn on conn (the accepting side). Like
// [Client] it does no I/O.
func Server(conn net.Conn, cfg *Config) *Conn { return newConn(conn, cfg, false) }

func newConn(conn net.Conn, cfg *Config, isClient bool) *Conn {
	if cfg == nil {
		cfg = &Config{} // its handshake fails in StepConfig: no SocketType
	}
	c := &Conn{conn: conn, cfg: cfg, isClient: isClient}
	c.hsBuf = handshakeReadBufs.Get().(*[handshakeReadBufferSize]byte)
	c.in.Reset(livenessReader{c}, c.hsBuf[:])
	return c
}

// livenessReader reads from the connection and, while heartbeats or a peer
// TTL are being watched, notes the time of every read that brought bytes:
// as in libzmq, any incoming traffic is a sign of life, not only whole
// frames (a large frame may take longer to arrive than a heartbeat timeout).
type livenessReader struct{ c *Conn }

func (r livenessReader) Read(p []byte) (int, error) {
	n, err := r.c.conn.Read(p)
	if n > 0 && r.c.watching.Load() {
		r.c.lastRecv.Store(time.Now().UnixNano())
	}
	return n, err
}

// NetConn returns the underlying connection. Reading from or writing to it
// directly corrupts the ZMTP stream.
func (c *Conn) NetConn() net.Conn { return c.conn }

// LocalAddr returns the local network address.
func (c *Conn) LocalAddr() net.Addr { return c.conn.LocalAddr() }

// RemoteAddr returns the remote network address.
func (c *Conn) RemoteAddr() net.Addr { return c.conn.RemoteAddr() }

// SetDeadline sets the read and write deadlines of the underlying connection.
// A read that times out between messages may be retried; one that times out
// in the middle of a multipart message, and any write that times out, ends
// the connection.
//
// While a handshake runs, the connection's deadlines are the earlier of the
// caller's and the handshake's; the caller's alone once it has ended.
func (c *Conn) SetDeadline(t time.Time) error {
	c.deadlineMu.Lock()
	defer c.deadlineMu.Unlock()
	c.readDeadline.set(t)
	c.writeDeadline.set(t)
	if c.hsRunning {
		return errors.Join(c.conn.SetReadDeadline(earlier(t, c.hsRead)), c.conn.SetWriteDeadline(earlier(t, c.hsWrite)))
	}
	return c.conn.SetDeadline(t)
}

// SetReadDeadline sets the read deadline of the underlying connection.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.deadlineMu.Lock()
	defer c.deadlineMu.Unlock()
	c.readDeadline.set(t)
	if c.hsRunning {
		t = earlier(t, c.hsRead)
	}
	return c.conn.SetReadDeadline(t)
}

// SetWriteDeadline sets the write deadline of the underlying connection.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.deadlineMu.Lock()
	defer c.deadlineMu.Unlock()
	c.writeDeadline.set(t)
	if c.hsRunning {
		t = earlier(t, c.hsWrite)
	}
	return c.conn.SetWriteDeadline(t)
}

// Close closes the connection, stops its timers and zeroes the session keys
// of a mechanism that protects messages (CURVE, GSSAPI). It is safe to call
// more than once and concurrently with everything else, and it never waits
// for a ReadMessage or WriteMessage that is blocked:
// closing the net.Conn unblocks them, and a key that one of them still uses
// is zeroed by that call as it returns.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		defer c.closeDone()
		c.timerMu.Lock()
		if c.hbTimer != nil {
			c.hbTimer.Stop()
		}
		if c.ttlTimer != nil {
			c.ttlTimer.Stop()
		}
		c.timerMu.Unlock()
		c.closeErr = c.conn.Close()
		c.zeroKeys()
		c.closeHooks()
	})
	return c.closeErr
}

// Done returns a channel that is closed when the connection is closed: by
// Close, by a failed read or write, or by a heartbeat or TTL timeout. It
// lets a layer above notice the end of a connection it is not reading
// from.
func (c *Conn) Done() <-chan struct{} {
	c.doneMu.Lock()
	defer c.doneMu.Unlock()
	if c.done == nil {
		// Made on first use: a connection nobody watches costs no channel.
		c.done = make(chan struct{})
		if c.doneClosed {
			close(c.done)
		}
	}
	return c.done
}

// closeDone closes the channel Done returns, now or, if none was made yet,
// as it is made.
func (c *Conn) closeDone() {
	c.doneMu.Lock()
	defer c.doneMu.Unlock()
	c.doneClosed = true
	if c.done != nil {
		close(c.done)
	}
}

// Handshake runs the handshake if it has not run yet; see HandshakeContext.
func (c *Conn) Handshake() error { return c.HandshakeContext(context.Background()) }

// HandshakeContext runs the greeting and the security handshake if they have
// not run yet, and returns their result. It is bounded by ctx and by
// Config.HandshakeTimeout; when either ends first the connection is closed.
// For a Conn returned by [Listener.Accept] the timeout counts from Accept.
// A failed handshake closes the connection. Every later call returns the
// same result. Each handshake that ends is reported once to
// Config.OnHandshake and Config.AuditLogger.
func (c *Conn) HandshakeContext(ctx context.Context) error {
	if c.handshakeDone.Load() {
		return c.handshakeErr
	}
	c.handshakeMu.Lock()
	defer c.handshakeMu.Unlock()
	if c.handshakeDone.Load() {
		return c.handshakeErr
	}
	start := c.beginHandshake()
	c.inMu.Lock()
	err := c.handshake(ctx, start)
	c.unlockIn()
	c.handshakeErr = err
	c.finishHandshake(err) // frees the Listener's slot, reports the event
	if err != nil {
		c.Close()
	}
	c.handshakeDone.Store(true)
	if err == nil {
		c.startTimers()
	}
	return err
}

// handshake runs the whole exchange under parent, within the handshake
// timeout from start. The caller holds handshakeMu and inMu.
func (c *Conn) handshake(parent context.Context, start time.Time) error {
	if err := c.cfg.validate(); err != nil {
		return &HandshakeError{Step: StepConfig, Err: err}
	}
	hs := &handshakeState{c: c, mech: c.cfg.mechanism(), step: StepGreeting}
	var deadline time.Time
	if t := c.cfg.handshakeTimeout(); t > 0 {
		deadline = start.Add(t)
	}
	hs.ctx.init(parent, deadline)
	defer hs.ctx.release()
	hs.setDeadlines(parent)
	hs.fw.init(c.conn, hs.flightBuf[:])
	err := hs.run()
	err = hs.joinWriter(err)
	hs.restoreDeadlines()
	if err != nil {
		err = outOfTime(&hs.ctx, hs.step, err)
	}
	return err
}

// handshakeState is one run of the handshake, taken through its steps by
// run: sendGreeting, readGreeting, runMechanism, verify, install. Each
// step sets step before it can fail, and each failure is returned as a
// *HandshakeError in that step.
type handshakeState struct {
	c    *Conn
	ctx  deadlineContext // the caller's context, bounded by the handshake timeout
	mech mechanism.Mechanism
	fw   flightWriter
	step HandshakeStep // the step running (or that failed)

	// stop undoes the hook that a cancellation of the caller's context
	// runs, if there is one.
	stop func() bool

	greeting zmtp.Greeting // ours
	peer     zmtp.Greeting
	peerType zmtp.SocketType
	sess     mechanism.Session
	st       ConnectionState
	peerAddr string         // the peer's IP address, for ZAP and the state
	zap      boundedHandler // the ZAP handler's wrapper, if there is a handler

	// Our metadata, for the mechanism: its properties and the bytes of
	// the Socket-Type value, held here rather than allocated.
	ownMetadata [4]zmtp.Property
	ownType     [8]byte

	// flightBuf is where the flights written at once are built: the
	// greeting, then each command flight in turn (a larger one grows a
	// buffer of its own).
	flightBuf [512]byte
}

// run takes the handshake through its steps.
func (hs *handshakeState) run() error {
	hs.sendGreeting()
	if err := hs.readGreeting(); err != nil {
		return err
	}
	if err := hs.runMechanism(); err != nil {
		return err
	}
	hs.state()
	if err := hs.verify(); err != nil {
		return err
	}
	hs.install()
	return nil
}

// fail returns err as a *HandshakeError in the current step. A peer that
// went away without a word becomes a *PeerClosedError saying what to
// check.
func (hs *handshakeState) fail(err error) error {
	if isPeerClosed(err) {
		err = &PeerClosedError{Hint: hs.closedHint(), Err: err}
	}
	return &HandshakeError{Step: hs.step, Err: err}
}

// closedHint says what to check when the peer closed the connection during
// the current step.
func (hs *handshakeState) closedHint() string {
	switch {
	case hs.step == StepGreeting && hs.c.isClient:
		return "is it a ZMTP 3 peer, and does it accept connections on this endpoint?"
	case hs.c.isClient && hs.mech.Name() == mechanism.CurveName:
		return "check the server's public key: a CURVE server that cannot open our HELLO closes without sending ERROR"
	case hs.c.isClient && hs.mech.Name() == mechanism.GSSAPIName:
		return "GSSAPI has no ERROR: a server closes without a word when it cannot accept our ticket (check the service principal and its keytab) or when its ZAP handler refuses us"
	case hs.c.isClient:
		return "a libzmq server closes without sending ERROR when our socket type is not one it talks to, or when its ZAP handler answers 300"
	}
	return ""
}

// isPeerClosed reports an error that means the peer closed or reset the
// connection (not our own Close, nor a timeout).
func isPeerClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// setDeadlines makes the handshake run under the earlier of the context's
// deadline and the caller's own deadlines (which the caller may change
// meanwhile: see SetDeadline), and, if parent can be cancelled, arranges
// for its cancellation to interrupt blocked I/O by expiring the deadlines.
// The expiry of the handshake's own deadline needs no timer: the
// connection's deadlines are set to it.
func (hs *handshakeState) setDeadlines(parent context.Context) {
	c := hs.c
	d, _ := hs.ctx.Deadline()
	c.boundDeadlines(d, d)
	if parent.Done() != nil {
		hs.stop = context.AfterFunc(parent, c.expireDeadlines)
	}
}

// restoreDeadlines undoes setDeadlines: the caller's deadlines are back. A
// cancellation hook that runs late finds the handshake over and does
// nothing.
func (hs *handshakeState) restoreDeadlines() {
	if hs.stop != nil {
		hs.stop()
	}
	hs.c.unboundDeadlines()
}

// joinWriter waits for the flight writer, which every handshake starts,
// and returns the handshake's result: err, or the writer's failure. A last
// ERROR still goes out before the connection is closed (the handshake
// deadline bounds the wait). After any other failure the flights already
// queued get a short grace, then the connection closes: a peer that does
// not read cannot hold us.
func (hs *handshakeState) joinWriter(err error) error {
	if err != nil && !hs.fw.lastIsError {
		hs.c.graceWriteDeadline(time.Now().Add(failFlushGrace))
	}
	if r := hs.fw.wait(); err == nil && r.err != nil {
		hs.step = r.step
		return hs.fail(r.err)
	}
	return err
}

// sendGreeting queues our greeting.
func (hs *handshakeState) sendGreeting() {
	// Send the whole greeting at once (docs/wire-format.md#sending-the-greeting, order (a)), then
	// read the peer's, checking it as it arrives. Flights are queued to a
	// writer goroutine while this one reads, so that two peers that both
	// write before reading never deadlock on a connection without buffering
	// (net.Pipe). The writer is always joined before returning.
	hs.greeting = zmtp.Greeting{
		Major:     zmtp.VersionMajor,
		Minor:     zmtp.VersionMinor,
		Mechanism: hs.mech.Name(),
		AsServer:  greetingAsServer(hs.mech),
	}
	hs.fw.send(hs.greeting.Append(hs.fw.buffer()), false, StepGreeting)
}

// greetingAsServer is the as-server bit of our greeting: the mechanism's
// role, unless it says otherwise (libzmq's GSSAPI sends 0 on both sides).
func greetingAsServer(m mechanism.Mechanism) bool {
	if g, ok := m.(mechanism.Greeter); ok {
		return g.GreetingAsServer()
	}
	return m.AsServer()
}

// readGreeting reads the peer's greeting, checking it as it arrives, and
// its mechanism. The peer's as-server bit is not checked: two peers that
// both say 0 (libzmq always does) or both say 1 are fine.
func (hs *handshakeState) readGreeting() error {
	hs.step = StepGreeting
	hs.c.in.SetMaxFrameSize(hs.c.cfg.preAuthMaxFrameSize())
	peer, err := hs.c.in.ReadGreeting()
	if err != nil {
		return hs.fail(err)
	}
	if peer.Mechanism != hs.greeting.Mechanism {
		return hs.fail(&MechanismMismatchError{Local: hs.greeting.Mechanism, Peer: peer.Mechanism})
	}
	hs.peer = peer
	hs.c.peerMinor = peer.Minor
	return nil
}

// runMechanism runs the mechanism's commands to the end, asking ZAP (on a
// server) and checking the peer's metadata on the way, and takes the
// session. The mechanism's handshake, and its secrets, are forgotten when
// it returns.
func (hs *handshakeState) runMechanism() error {
	hs.step = StepSecurity
	c := hs.c
	ctx := &hs.ctx
	hs.peerAddr = peerAddress(c.conn.RemoteAddr())
	mh, err := hs.mech.NewHandshake(mechanism.Params{
		Metadata:          c.cfg.appendOwnMetadata(hs.ownMetadata[:0], hs.ownType[:0]),
		MaxPeerProperties: c.cfg.maxMetadataProperties(),
		CheckPeerMetadata: hs.checkPeerMetadata,
		ZAP:               c.zapHandler(&hs.zap),
		Domain:            c.cfg.ZAPDomain,
		PeerAddress:       hs.peerAddr,
		Identity:          c.cfg.Identity,
		Rand:              c.cfg.Rand,
	})
	if err != nil {
		return hs.fail(err)
	}
	defer mh.Close()
	out, err := mh.Start(ctx)
	hs.writeCommands(out)
	for err == nil && !mh.Done() {
		var f zmtp.Frame
		if f, err = c.in.ReadFrame(); err != nil {
			break
		}
		// Like libzmq, a handshake command is accepted with or without the
		// COMMAND flag. An empty body is the empty command to a handshake
		// that takes it (GSSAPI), and malformed to every other.
		var cmd zmtp.Command
		if len(f.Body) > 0 || !acceptsEmptyCommand(mh) {
			if cmd, err = zmtp.ParseCommand(f.Body); err != nil {
				break
			}
		}
		out, err = mh.Handle(ctx, cmd)
		hs.writeCommands(out)
	}
	if err != nil {
		return hs.mechanismFailed(err)
	}
	hs.sess = mh.Session()
	if (hs.sess.Sealer == nil) != (hs.sess.Opener == nil) {
		closeSession(hs.sess)
		return hs.fail(fmt.Errorf("transport: mechanism %s returned a session with a Sealer or an Opener but not both", hs.mech.Name()))
	}
	return nil
}

// acceptsEmptyCommand reports whether mh takes an empty command frame now.
func acceptsEmptyCommand(mh mechanism.Handshake) bool {
	e, ok := mh.(mechanism.EmptyCommandAccepter)
	return ok && e.AcceptsEmptyCommand()
}

// knownSocketTypes are the socket types socketType does not allocate for.
var knownSocketTypes = [...]zmtp.SocketType{zmtp.PAIR, zmtp.PUB, zmtp.SUB, zmtp.REQ, zmtp.REP,
	zmtp.DEALER, zmtp.ROUTER, zmtp.PULL, zmtp.PUSH, zmtp.XPUB, zmtp.XSUB, zmtp.CLIENT, zmtp.SERVER,
	zmtp.RADIO, zmtp.DISH, zmtp.GATHER, zmtp.SCATTER, zmtp.PEER, zmtp.CHANNEL}

// socketType returns the socket type v spells, without allocating for the
// types zmtp defines.
func socketType(v []byte) zmtp.SocketType {
	for _, t := range knownSocketTypes {
		if string(v) == string(t) {
			return t
		}
	}
	return zmtp.SocketType(v)
}

// checkPeerMetadata checks the peer's Socket-Type against ours; the
// mechanism calls it on the peer's metadata.
func (hs *handshakeState) checkPeerMetadata(md zmtp.Metadata) error {
	v, ok := md.GetExact(zmtp.PropSocketType)
	if !ok {
		return nil // libzmq accepts a peer that sends no Socket-Type
	}
	hs.peerType = socketType(v)
	if !hs.c.cfg.SocketType.Compatible(hs.peerType) {
		return &SocketTypeError{Local: hs.c.cfg.SocketType, Peer: hs.peerType}
	}
	return nil
}

// mechanismFailed returns the failure of the mechanism's exchange in the
// step it belongs to: the socket type check, authentication (our ZAP
// handler's refusal, or the server's ERROR with a ZAP status), or the
// security handshake itself.
func (hs *handshakeState) mechanismFailed(err error) error {
	var ste *SocketTypeError
	var ae *mechanism.AuthError
	var pe *mechanism.PeerError
	switch {
	case errors.As(err, &ste):
		hs.step = StepSocketType
		return hs.fail(ste)
	case errors.As(err, &ae):
		hs.step = StepAuthentication
	case errors.As(err, &pe) && pe.Status() != 0:
		hs.step = StepAuthentication
		err = &ServerRefusedError{Mechanism: hs.mech.Name(), Status: pe.Status(), Err: err}
	}
	return hs.fail(err)
}

// state builds the connection's state from the session.
func (hs *handshakeState) state() {
	sess := hs.sess
	st := ConnectionState{
		HandshakeComplete: true,
		PeerMajor:         hs.peer.Major,
		PeerMinor:         hs.peer.Minor,
		Mechanism:         hs.mech.Name(),
		PeerSocketType:    hs.peerType,
		PeerMetadata:      sess.PeerMetadata,
		PeerAddress:       hs.peerAddr,
		// The session's copy of the key, which nothing else uses;
		// ConnectionState hands out copies of it.
		PeerPublicKey: sess.PeerPublicKey,
		PeerPrincipal: sess.PeerPrincipal,
	}
	if id, ok := sess.PeerMetadata.GetExact(zmtp.PropIdentity); ok {
		st.PeerIdentity = id
	}
	if sess.ZAP != nil {
		st.UserID = sess.ZAP.UserID
		st.ZAPMetadata = sess.ZAP.Metadata.Clone()
		st.zapAsked = true
	}
	hs.st = st
}

// verify runs Config.VerifyConnection, if set. A refusal zeroes the
// session keys.
func (hs *handshakeState) verify() error {
	hs.step = StepVerify
	if f := hs.c.cfg.VerifyConnection; f != nil {
		if err := f(hs.st); err != nil {
			closeSession(hs.sess)
			return hs.fail(err)
		}
	}
	return nil
}

// install makes the completed handshake the connection's: its state, its
// sealer and opener (where the handshake left them: GSSAPI's have already
// sealed and opened READY) and its frame limit.
func (hs *handshakeState) install() {
	c, sess := hs.c, hs.sess
	c.state = hs.st
	// The opener is ours under inMu, which the caller holds; the sealer is
	// set under outMu so that Close, which only ever tries outMu, sees it
	// or leaves it to us (see unlockOut). A Close that raced with this is
	// caught by startTimers, which runs once inMu is released.
	c.opener = sess.Opener
	c.openOverhead = sealOverhead(c.opener)
	c.outMu.Lock()
	c.sealer = sess.Sealer
	c.unlockOut()
	c.in.SetMaxFrameSize(c.maxFrameSize())
}

// closeSession zeroes the session keys of a handshake that completed but
// was refused afterwards.
func closeSession(sess mechanism.Session) {
	if sess.Sealer != nil {
		sess.Sealer.Close()
	}
	if sess.Opener != nil {
		sess.Opener.Close()
	}
}

// outOfTime turns a handshake failure that came from running out of time
// into its one reported form, a *HandshakeError wrapping
// ErrHandshakeTimeout, and one that came from the context's cancellation
// into a *HandshakeError wrapping context.Canceled, both in the step that
// failed (step, unless err says). Every other failure is returned as it is.
//
// Time runs out in several ways: the context's deadline (the caller's, or
// Config.HandshakeTimeout) expires, which expires the connection's deadline
// so blocked I/O fails with os.ErrDeadlineExceeded, or cuts off a ZAP
// handler with context.DeadlineExceeded; or a deadline the caller set on the
// Conn expires first.
func outOfTime(ctx context.Context, step HandshakeStep, err error) error {
	var he *HandshakeError
	if errors.As(err, &he) {
		step = he.Step
	}
	if errors.Is(err, ErrZAPTimeout) {
		// The ZAP handler was cut off in time for the ERROR "500" to go
		// out: keep the *mechanism.AuthError, which is a handshake
		// timeout too (ErrZAPTimeout matches ErrHandshakeTimeout).
		return err
	}
	ctxErr := ctx.Err()
	// A failure that the context's end caused shows as an expired
	// deadline, as the context's own error, or as a closed connection;
	// any other failure is the peer's, even if the context ended since.
	caused := ctxErr != nil && (isTimeout(err) || errors.Is(err, ctxErr) || errors.Is(err, net.ErrClosed))
	switch {
	case caused && errors.Is(ctxErr, context.Canceled):
		return &HandshakeError{Step: step, Err: ctxErr}
	case (caused || isTimeout(err)) && mechanismWork(err):
		// The mechanism's own work ran out of time (GSSAPI waiting for
		// a KDC): say what it was doing.
		if he != nil {
			err = he.Err
		}
		return &HandshakeError{Step: step, Err: &timeoutCause{cause: err}}
	case caused, isTimeout(err):
		return &HandshakeError{Step: step, Err: ErrHandshakeTimeout}
	}
	return err
}

// mechanismWork reports whether err, a failure from running out of time, is
// more than a read or write cut off or the context's own error: a
// mechanism's work that wrapped context.DeadlineExceeded in its own error
// (GSSAPI's ticket request to a KDC), which is worth naming.
func mechanismWork(err error) bool {
	var he *HandshakeError
	if errors.As(err, &he) {
		err = he.Err
	}
	return err != context.DeadlineExceeded && errors.Is(err, context.DeadlineExceeded) &&
		!errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, net.ErrClosed) &&
		!errors.Is(err, ErrHandshakeTimeout)
}

// flightWriter writes the handshake's flights, in order, so that the
// handshake can read while a flight is still going out: two peers that
// both write before they read must never wait for each other. On a
// connection with a kernel send buffer (TCP, IPC) the first flights, up to
// syncFlightBytes in all, are written at once from the handshake's own
// goroutine and buffer: the kernel takes them without waiting for the peer
// (the smallest send buffer Linux allows holds more). Any later flight, and
// every flight on any other net.Conn (net.Pipe has no buffer: a write waits
// for the peer's read), goes to a goroutine of its own, started then, which
// writes them in turn; the handshake never waits for it but in wait.
type flightWriter struct {
	conn        net.Conn
	direct      bool   // flights are still written at once
	budget      int    // bytes that may still be written at once
	buf         []byte // the flight being built, when written at once
	r           flightResult
	queue       chan flight // the goroutine's, once started
	done        chan flightResult
	lastIsError bool // the last flight sent carries an ERROR command
}

// flight is one write of the handshake, and the step it belongs to.
type flight struct {
	b    []byte
	step HandshakeStep
}

// flightResult is the writer's first error and the step of its flight.
type flightResult struct {
	err  error
	step HandshakeStep
}

// failFlushGrace is how long a failed handshake still lets its queued
// flights go out.
const failFlushGrace = 100 * time.Millisecond

// maxFlights is the room in the writer goroutine's queue: the greeting and
// up to three command flights, what GSSAPI's client sends (INITIATE, the
// empty command, READY; NULL, PLAIN and CURVE send at most two). A
// mechanism that sends more only makes a flight wait for the writer to
// take the one before.
const maxFlights = 4

// syncFlightBytes is how many bytes of flights a handshake writes at once
// on a connection with a kernel send buffer: a greeting and a CURVE
// HELLO and INITIATE with a few hundred bytes of metadata, and well under
// the smallest send buffer a TCP socket can have on Linux (4,608 bytes)
// or a Unix socket.
const syncFlightBytes = 4 << 10

// kernelBuffered is a connection that a kernel buffers: *net.TCPConn,
// *net.UnixConn.
type kernelBuffered interface {
	SetWriteBuffer(bytes int) error
}

// init readies fw to write to conn, with buf as the storage of the flights
// written at once.
func (fw *flightWriter) init(conn net.Conn, buf []byte) {
	fw.conn = conn
	if _, ok := conn.(kernelBuffered); ok {
		fw.direct, fw.budget, fw.buf = true, syncFlightBytes, buf[:0]
	}
}

// buffer returns an empty buffer to build the next flight in: the one for
// flights written at once, or nil (the flight is then allocated, and
// handed to the goroutine).
func (fw *flightWriter) buffer() []byte {
	if fw.direct {
		return fw.buf[:0]
	}
	return nil
}

// send writes the flight b, built in a buffer from buffer, at once, or
// queues it for the goroutine (starting it if need be).
func (fw *flightWriter) send(b []byte, isError bool, step HandshakeStep) {
	fw.lastIsError = isError
	if fw.direct && len(b) <= fw.budget {
		fw.budget -= len(b)
		fw.buf = b[:0] // reused for the next flight
		if fw.r.err == nil {
			if _, err := fw.conn.Write(b); err != nil {
				fw.r = flightResult{err, step}
			}
		}
		return
	}
	if fw.direct {
		// Over the budget: this flight and every later one go to the
		// goroutine, which must own its bytes.
		fw.direct, fw.buf = false, nil
		b = append([]byte(nil), b...)
	}
	if fw.queue == nil {
		fw.start()
	}
	fw.queue <- flight{b, step}
}

// start starts the goroutine, which first takes over the result of the
// flights written at once: after an error it writes nothing more.
func (fw *flightWriter) start() {
	fw.queue, fw.done = make(chan flight, maxFlights), make(chan flightResult, 1)
	conn, r := fw.conn, fw.r
	go func() {
		for f := range fw.queue {
			if r.err == nil {
				if _, err := conn.Write(f.b); err != nil {
					r = flightResult{err, f.step}
				}
			}
		}
		fw.done <- r
	}()
}

// wait ends the queue, waits for the goroutine if one was started, and
// returns the first write error and the step of the flight it failed on.
func (fw *flightWriter) wait() flightResult {
	if fw.queue == nil {
		return fw.r
	}
	close(fw.queue)
	return <-fw.done
}

// writeCommands sends a handshake flight, written in one write.
func (hs *handshakeState) writeCommands(cmds []zmtp.Command) {
	if len(cmds) == 0 {
		return
	}
	b := hs.fw.buffer()
	isError := false
	for _, cmd := range cmds {
		b = zmtp.AppendFrameHeader(b, zmtp.FlagCommand, cmd.Len())
		b = cmd.Append(b)
		isError = isError || cmd.Name == zmtp.CmdError
	}
	hs.fw.send(b, isError, StepSecurity)
}

// ConnectionState returns a snapshot of the connection's state. Before the
// handshake has completed only the zero value is returned.
func (c *Conn) ConnectionState() ConnectionState {
	if !c.handshakeDone.Load() || c.handshakeErr != nil {
		return ConnectionState{}
	}
	return c.state.clone()
}

// peerProtocol31 reports whether the peer speaks ZMTP 3.1 or later, and so
// understands PING and the SUBSCRIBE and CANCEL commands.
func (c *Conn) peerProtocol31() bool { return c.peerMinor >= 1 }

// ReadMessage reads the next message and returns its frames, reusing dst's
// storage: dst[:cap(dst)]'s byte slices are overwritten in place where their
// capacity allows, so a caller that passes back what it got allocates nothing
// in steady state. The returned frames are owned by the caller until it
// passes them back.
//
// PING is answered with PONG, PONG is dropped, and unknown commands are
// dropped, as libzmq does. A SUBSCRIBE or CANCEL command (ZMTP 3.1) is
// returned as the one-frame message a ZMTP 3.0 peer would send: 0x01 or 0x00
// followed by the topic, the form libzmq's XPUB delivers.
func (c *Conn) ReadMessage(dst [][]byte) ([][]byte, error) {
	if err := c.Handshake(); err != nil {
		return dst[:0], err
	}
	c.inMu.Lock()
	defer c.unlockIn()
	if c.hsBuf != nil {
		c.messageReadBufLocked() // the first read after the handshake
	}
	msg := dst[:0]
	if c.partial {
		// A previous call timed out in the middle of a message.
		return msg, c.fail(fmt.Errorf("transport: read after a timeout in the middle of a message"))
	}
	maxFrames := c.cfg.maxMessageFrames()
	maxBytes := c.cfg.MaxMessageBytes
	var total uint64 // payload bytes in msg so far
	for {
		if maxBytes > 0 {
			c.in.SetMaxFrameSize(c.frameBudget(maxBytes, total))
		}
		f, err := c.in.ReadFrame()
		if err != nil {
			if isTimeout(err) && len(msg) == 0 {
				return msg, err
			}
			if isTimeout(err) {
				c.partial = true
			}
			return msg, c.fail(c.overBudget(err, maxBytes, total))
		}
		if c.opener != nil {
			var done bool
			if msg, done, err = c.readSealed(msg, f); err != nil {
				return msg, c.fail(err)
			}
			if len(msg) > 0 {
				total += uint64(len(msg[len(msg)-1]))
			}
			if err := checkMessage(msg, done, maxFrames, maxBytes, total); err != nil {
				return msg, c.fail(err)
			}
			if done {
				return msg, nil
			}
			continue
		}
		if f.IsCommand() {
			if len(msg) > 0 {
				return msg, c.fail(&zmtp.MalformedError{What: "message", Detail: "command frame inside a multipart message"})
			}
			sub, ok, err := c.handleCommand(f.Body)
			if err != nil {
				return msg, c.fail(err)
			}
			if ok {
				msg = appendFrame(msg, sub.prefix, sub.topic)
				if err := checkMessage(msg, true, maxFrames, maxBytes, uint64(len(msg[0]))); err != nil {
					return msg, c.fail(err)
				}
				return msg, nil
			}
			continue
		}
		msg = appendFrame(msg, nil, f.Body)
		total += uint64(len(f.Body))
		if err := checkMessage(msg, !f.More(), maxFrames, maxBytes, total); err != nil {
			return msg, c.fail(err)
		}
		if !f.More() {
			return msg, nil
		}
	}
}

// minFrameBudget is the least frame size ReadMessage lets the reader accept
// while MaxMessageBytes is in force, so that commands (a PING is up to 23
// bytes) pass whatever the budget left; a data frame over the budget is still
// refused, once read, by checkMessage.
const minFrameBudget = 64

// frameBudget returns the frame size limit for the next frame of a message
// that holds total payload bytes, under a MaxMessageBytes of maxBytes: what
// is left of it (at least minFrameBudget), within the frame limit.
func (c *Conn) frameBudget(maxBytes int64, total uint64) int64 {
	left := int64(minFrameBudget)
	if uint64(maxBytes) > total && maxBytes-int64(total) > left {
		left = maxBytes - int64(total)
	}
	left = plusOverhead(left, c.openOverhead)
	if limit := c.maxFrameSize(); limit > 0 && limit < left {
		return limit
	}
	return left
}

// overBudget turns a frame refused by the budget frameBudget set into a
// *MessageTooLargeError. A frame over MaxMessageSize itself stays a
// *zmtp.FrameTooLargeError.
func (c *Conn) overBudget(err error, maxBytes int64, total uint64) error {
	if maxBytes <= 0 {
		return err
	}
	var fte *zmtp.FrameTooLargeError // on the heap (errors.As): only past the test above
	if !errors.As(err, &fte) {
		return err
	}
	if limit := c.maxFrameSize(); limit > 0 && fte.Size > uint64(limit) {
		return err
	}
	size := fte.Size
	size -= min(size, uint64(c.openOverhead))
	return &MessageTooLargeError{Limit: "MaxMessageBytes", Max: maxBytes, Got: total + size}
}

// checkMessage checks msg, which holds total payload bytes, against the
// limits: a message that is not done may not already hold maxFrames frames
// (0 means no limit), and total may not exceed maxBytes (0 means none).
func checkMessage(msg [][]byte, done bool, maxFrames int, maxBytes int64, total uint64) error {
	if maxBytes > 0 && total > uint64(maxBytes) {
		return &MessageTooLargeError{Limit: "MaxMessageBytes", Max: maxBytes, Got: total}
	}
	if !done && maxFrames > 0 && len(msg) >= maxFrames {
		return &MessageTooLargeError{Limit: "MaxMessageFrames", Max: int64(maxFrames), Got: uint64(len(msg)) + 1}
	}
	return nil
}

// unlockIn releases inMu. If the connection was closed meanwhile, Close may
// have found inMu held and left the opener's key and the read buffer to us:
// zero the one and give the other back.
func (c *Conn) unlockIn() {
	c.inMu.Unlock()
	if c.closed.Load() && c.inMu.TryLock() {
		c.zeroOpenerLocked()
		c.releaseReadBufLocked()
		c.inMu.Unlock()
	}
}

// zeroKeys, called by Close, zeroes the session keys that no reader or
// writer holds, and gives back the read buffer if no reader holds it. One
// that does zeroes the key it holds (and gives back the buffer) when it lets
// go (unlockIn, unlockOut), so Close never waits for it.
func (c *Conn) zeroKeys() {
	if c.outMu.TryLock() {
		c.zeroSealerLocked()
		c.outMu.Unlock()
	}
	if c.inMu.TryLock() {
		c.zeroOpenerLocked()
		c.releaseReadBufLocked()
		c.inMu.Unlock()
	}
}

func (c *Conn) zeroSealerLocked() {
	if c.sealer != nil {
		c.sealer.Close()
	}
}

func (c *Conn) zeroOpenerLocked() {
	if c.opener != nil {
		c.opener.Close()
	}
}

// readSealed handles one frame of a connection whose mechanism protects
// messages (CURVE, GSSAPI): the opener opens every frame, whatever its
// flags, as libzmq does (it sends them in data frames; a command frame is
// accepted too, and the outer MORE bit is ignored: only the inner flags
// count). The payload is opened straight into the next slot of msg, and
// the opener's errors are returned as they are. done reports a complete
// message.
func (c *Conn) readSealed(msg [][]byte, f zmtp.Frame) (out [][]byte, done bool, err error) {
	n := len(msg)
	var slot []byte
	if n < cap(msg) {
		slot = msg[:n+1][n][:0]
	}
	flags, slot, err := c.opener.Open(slot, f.Body)
	if err != nil {
		return msg, false, err
	}
	if flags&mechanism.MessageCommand != 0 {
		if n > 0 {
			return msg, false, &zmtp.MalformedError{What: "message", Detail: "command inside a multipart message"}
		}
		c.cmdBuf = append(c.cmdBuf[:0], slot...)
		sub, ok, err := c.handleCommand(c.cmdBuf)
		if err != nil || !ok {
			return msg, false, err
		}
		return appendFrame(msg, sub.prefix, sub.topic), true, nil
	}
	if n < cap(msg) {
		msg = msg[:n+1]
		msg[n] = slot
	} else {
		msg = append(msg, slot)
	}
	return msg, flags&mechanism.MessageMore == 0, nil
}

// appendFrame appends a frame holding prefix and body to msg, reusing the
// storage of the slot it lands in.
func appendFrame(msg [][]byte, prefix, body []byte) [][]byte {
	n := len(msg)
	if n < cap(msg) {
		msg = msg[:n+1]
		msg[n] = append(append(msg[n][:0], prefix...), body...)
		return msg
	}
	return append(msg, append(append(make([]byte, 0, len(prefix)+len(body)), prefix...), body...))
}

// subscription is a SUBSCRIBE or CANCEL turned into its ZMTP 3.0 message
// form: prefix is 0x01 or 0x00.
type subscription struct {
	prefix []byte
	topic  []byte
}

var (
	subscribePrefix = []byte{zmtp.SubscribeByte}
	cancelPrefix    = []byte{zmtp.CancelByte}
)

// handleCommand deals with a command frame after the handshake.
// It reports ok when the command is a subscription to hand to the caller.
func (c *Conn) handleCommand(body []byte) (sub subscription, ok bool, err error) {
	cmd, perr := zmtp.ParseCommand(body)
	if perr != nil {
		// libzmq drops malformed commands after the handshake.
		return sub, false, nil
	}
	switch cmd.Name {
	case zmtp.CmdPing:
		p, perr := zmtp.ParsePing(cmd.Data)
		if perr != nil {
			// Unlike libzmq (which over-reads a short PING and echoes
			// stale memory), drop it.
			return sub, false, nil
		}
		if p.TTL > 0 {
			c.armPeerTTL(time.Duration(p.TTL) * 100 * time.Millisecond)
		}
		c.queuePong(p.Context)
		return sub, false, nil
	case zmtp.CmdSubscribe:
		return subscription{prefix: subscribePrefix, topic: cmd.Data}, true, nil
	case zmtp.CmdCancel:
		return subscription{prefix: cancelPrefix, topic: cmd.Data}, true, nil
	}
	// PONG, ERROR after the handshake and unknown commands are dropped, as
	// libzmq drops them.
	return sub, false, nil
}

// maxFrameSize is the frame limit after the handshake: MaxMessageSize,
// plus the opener's overhead when messages are sealed.
func (c *Conn) maxFrameSize() int64 {
	if c.cfg.MaxMessageSize <= 0 {
		return 0
	}
	return plusOverhead(c.cfg.MaxMessageSize, c.openOverhead)
}

// maxSealOverhead bounds the overhead the transport takes from an opener's
// MaxOverhead: far above any real mechanism's (CURVE 33 bytes, GSSAPI 85),
// so that a mechanism that overstates it lifts the frame limits by 64 KiB
// at most.
const maxSealOverhead = 64 << 10

// sealOverhead is the overhead the frame limits allow o, if not nil:
// its MaxOverhead, within 0 and maxSealOverhead.
func sealOverhead(o mechanism.MessageOpener) int64 {
	if o == nil {
		return 0
	}
	return int64(min(max(o.MaxOverhead(), 0), maxSealOverhead))
}

// plusOverhead returns limit plus overhead, saturating instead of
// overflowing for a limit near the largest int64.
func plusOverhead(limit, overhead int64) int64 {
	if limit > math.MaxInt64-overhead {
		return math.MaxInt64
	}
	return limit + overhead
}
