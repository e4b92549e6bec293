package transport

import (
	"errors"
	"fmt"
	"net"
	"slices"

	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// ErrEmptyMessage is returned by WriteMessage and WriteMessages for a
// message with no frames.
var ErrEmptyMessage = errors.New("transport: message has no frames")

// writeChunk is how many encoded bytes WriteMessages gathers in the output
// buffer before it writes them: 64 KiB, checked after each frame. Small
// messages then cost one write per few thousand (libzmq's I/O thread packs
// queued messages into 8 KiB sends), and the buffer stays near 64 KiB plus
// one frame however large the batch or the message (a sealed frame, under
// CURVE or GSSAPI, is sealed into it, so a large one makes it large).
const writeChunk = 64 << 10

// spliceMin is the size from which a frame body sent in clear is not copied
// into the output buffer: its header goes from the buffer and the body from
// the caller's slice, in the same writev. 8 KiB is libzmq's out_batch_size,
// from which its encoder also writes a message from the message itself;
// over TCP loopback, batches of 8 and 16 KiB frames go as fast spliced as
// copied, 64 KiB frames faster, 4 KiB frames slower.
const spliceMin = 8 << 10

// maxSpliced bounds the frame bodies gathered for one writev (two iovecs
// each, well under Linux's IOV_MAX of 1024), and so the memory the
// connection keeps to describe them.
const maxSpliced = 128

// spliced is a frame body written from the caller's slice, after the bytes
// of the output buffer before at.
type spliced struct {
	at   int
	body []byte
}

// WriteMessage sends msg, one frame per element. It is WriteMessages with a
// batch of one message: a message goes out in one write (a writev when a
// frame body of 8 KiB or more sent in clear is written from msg itself),
// unless its frames before the last already fill 64 KiB, and it allocates
// nothing in steady state. When the mechanism seals messages (CURVE,
// GSSAPI) each frame travels sealed, as one MESSAGE in a frame of its own.
//
// On a SUB or XSUB socket, a one-frame message that starts with 0x01 or 0x00
// is a subscription or a cancellation, as with libzmq's XSUB: to a ZMTP 3.1
// peer it is sent as a SUBSCRIBE or CANCEL command, to a 3.0 peer as is.
func (c *Conn) WriteMessage(msg [][]byte) error {
	return c.WriteMessages([][][]byte{msg})
}

// WriteMessages sends msgs, in order, with as few writes as it can. Each
// message is sent as WriteMessage sends it: one frame per element, each
// frame a MESSAGE under CURVE or GSSAPI, and on a SUB or XSUB socket a one-frame
// subscription or cancellation as a command to a ZMTP 3.1 peer. The frames
// are encoded one after another into the connection's output buffer, which
// is written whenever it holds 64 KiB or more after a frame, and once at
// the end: a thousand 16-byte messages take one write. In clear (NULL,
// PLAIN) a frame body of 8 KiB or more is not copied: its header goes from the
// buffer and the body from msgs itself, in one writev on TCP and IPC
// connections (on a net.Conn without writev, such as net.Pipe, the pieces
// are written in turn). A sealed frame is sealed into the buffer.
//
// It allocates nothing in steady state, keeps no reference to msgs once it
// returns, and msgs must not be modified while it runs.
//
// Every message is checked before anything is written: if one has no
// frames, WriteMessages returns ErrEmptyMessage and sends none of them, and
// the connection stays usable. The handshake runs first, as for every
// write; after it, an empty batch writes nothing and returns nil. A write
// that fails ends the connection, as with WriteMessage: the messages before
// it may have gone out, the last of them in part, and every later write
// fails. A PONG owed to the peer goes out when the batch is done.
func (c *Conn) WriteMessages(msgs [][][]byte) error {
	if err := c.Handshake(); err != nil {
		return err
	}
	for _, msg := range msgs {
		if len(msg) == 0 {
			return ErrEmptyMessage
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	if c.closed.Load() {
		return c.closedErr(net.ErrClosed)
	}
	c.outMu.Lock()
	defer c.unlockOut()
	if c.outErr != nil {
		return c.closedErr(c.outErr)
	}
	b := c.out[:0]
	for _, msg := range msgs {
		var err error
		if b, err = c.appendMessageLocked(b, msg); err != nil {
			return err
		}
	}
	c.out = b
	if len(b) == 0 {
		return nil // the last chunk was written after the last frame
	}
	return c.flushLocked()
}

// appendMessageLocked appends msg, which has at least one frame, to b, the
// output buffer, and returns it; a NULL or PLAIN body of spliceMin bytes or
// more is noted in c.spliced instead of copied. After each frame, a buffer
// that holds writeChunk bytes or maxSpliced bodies is written (and returned
// empty). An error has ended the connection.
func (c *Conn) appendMessageLocked(b []byte, msg [][]byte) ([]byte, error) {
	var err error
	if len(msg) == 1 && c.isSubscriber() && len(msg[0]) > 0 && c.peerProtocol31() &&
		(msg[0][0] == zmtp.SubscribeByte || msg[0][0] == zmtp.CancelByte) {
		topic := msg[0][1:]
		if msg[0][0] == zmtp.SubscribeByte {
			c.scratch = zmtp.AppendSubscribe(c.scratch[:0], topic)
		} else {
			c.scratch = zmtp.AppendCancel(c.scratch[:0], topic)
		}
		if b, err = c.appendFrameLocked(b, zmtp.FlagCommand, c.scratch); err != nil {
			return b, c.failOutLocked(err)
		}
		return c.flushFullLocked(b)
	}
	for i, part := range msg {
		var flags zmtp.Flags
		if i < len(msg)-1 {
			flags = zmtp.FlagMore
		}
		if len(part) >= spliceMin && c.sealer == nil {
			b = zmtp.AppendFrameHeader(b, flags, len(part))
			c.spliced = append(c.spliced, spliced{at: len(b), body: part})
		} else if b, err = c.appendFrameLocked(b, flags, part); err != nil {
			return b, c.failOutLocked(err)
		}
		if b, err = c.flushFullLocked(b); err != nil {
			return b, err
		}
	}
	return b, nil
}

// flushFullLocked writes b, the output buffer, if it holds writeChunk bytes
// or maxSpliced bodies, and returns it, empty once written.
func (c *Conn) flushFullLocked(b []byte) ([]byte, error) {
	if len(b) < writeChunk && len(c.spliced) < maxSpliced {
		return b, nil
	}
	c.out = b
	err := c.flushLocked()
	return c.out, err
}

// failOutLocked ends the connection after the Sealer failed (its nonces are
// exhausted, or Close zeroed its key) and returns err; the partly encoded
// output is dropped.
func (c *Conn) failOutLocked(err error) error {
	c.outErr = err
	c.resetOutLocked()
	c.Close()
	return err
}

// appendFrameLocked appends one frame: in clear, or, when the mechanism
// protects messages, as the body the sealer builds (CURVE's MESSAGE,
// GSSAPI's) in a data frame of its own, with MORE and COMMAND carried
// inside, as libzmq sends both.
func (c *Conn) appendFrameLocked(b []byte, flags zmtp.Flags, body []byte) ([]byte, error) {
	// The room for the whole frame is made at once: one allocation at most
	// (none in steady state), not one for each piece appended.
	if c.sealer == nil {
		return zmtp.AppendFrame(slices.Grow(b, zmtp.FrameHeaderSize(len(body))+len(body)), flags, body), nil
	}
	n := c.sealer.SealedSize(len(body))
	b = slices.Grow(b, zmtp.FrameHeaderSize(n)+n)
	var inner byte
	if flags&zmtp.FlagMore != 0 {
		inner |= mechanism.MessageMore
	}
	if flags&zmtp.FlagCommand != 0 {
		inner |= mechanism.MessageCommand
	}
	b = zmtp.AppendFrameHeader(b, 0, n)
	start := len(b)
	b, err := c.sealer.Seal(b, inner, body)
	if err == nil && len(b)-start != n {
		// The header already says n: a sealer that broke its word would
		// desynchronise the stream.
		err = fmt.Errorf("transport: the %s sealer appended %d bytes where its SealedSize said %d", c.cfg.mechanism().Name(), len(b)-start, n)
	}
	return b, err
}

// Subscribe sends a subscription to topic (SUB and XSUB sockets).
func (c *Conn) Subscribe(topic []byte) error { return c.subscription(zmtp.SubscribeByte, topic) }

// Unsubscribe cancels one earlier subscription to topic.
func (c *Conn) Unsubscribe(topic []byte) error { return c.subscription(zmtp.CancelByte, topic) }

func (c *Conn) subscription(kind byte, topic []byte) error {
	if !c.isSubscriber() {
		return fmt.Errorf("transport: only SUB and XSUB sockets subscribe, not %s", c.cfg.SocketType)
	}
	m := make([]byte, 1+len(topic))
	m[0] = kind
	copy(m[1:], topic)
	return c.WriteMessage([][]byte{m})
}

func (c *Conn) isSubscriber() bool {
	return c.cfg.SocketType == zmtp.SUB || c.cfg.SocketType == zmtp.XSUB
}

// queuePong answers a PING. The reader must never wait for outMu: a writer
// holding it may be blocked on a peer whose own reader is waiting the same
// way, and neither would ever read again. So the PONG is parked, and sent
// now if outMu is free, or else by the writer when it lets go (unlockOut).
// A newer PING's context replaces an unsent one.
func (c *Conn) queuePong(context []byte) {
	c.pongMu.Lock()
	c.pongLen = copy(c.pongCtx[:], context)
	c.pongPending = true
	c.pongMu.Unlock()
	if c.outMu.TryLock() {
		c.unlockOut()
	}
}

// unlockOut releases outMu, first sending any parked PONG, and checks again
// after releasing so that a PONG parked meanwhile is not left behind. If the
// connection was closed meanwhile, Close may have found outMu held and left
// the sealer's key to us: it is zeroed.
func (c *Conn) unlockOut() {
	for {
		// The context is copied under pongMu: a PING read meanwhile
		// replaces it.
		var pongCtx [zmtp.MaxPingContext]byte
		c.pongMu.Lock()
		pending := c.pongPending
		c.pongPending = false
		n := copy(pongCtx[:], c.pongCtx[:c.pongLen])
		c.pongMu.Unlock()
		if pending && c.outErr == nil && !c.closed.Load() {
			c.scratch = zmtp.AppendPong(c.scratch[:0], pongCtx[:n])
			c.writeCommandLocked(c.scratch)
		}
		c.outMu.Unlock()
		c.pongMu.Lock()
		again := c.pongPending
		c.pongMu.Unlock()
		if !again || !c.outMu.TryLock() {
			break
		}
	}
	if c.closed.Load() && c.outMu.TryLock() {
		c.zeroSealerLocked()
		c.outMu.Unlock()
	}
}

// writePing sends a heartbeat PING, unless a writer holds outMu: then
// traffic is going out anyway, or the peer is not reading and a PING could
// not go out either. It never blocks the timer on outMu.
func (c *Conn) writePing(ttl uint16) error {
	if !c.outMu.TryLock() {
		return nil
	}
	defer c.unlockOut()
	c.scratch = zmtp.AppendPing(c.scratch[:0], zmtp.Ping{TTL: ttl})
	return c.writeCommandLocked(c.scratch)
}

// writeCommandLocked sends one command frame whose body is body.
func (c *Conn) writeCommandLocked(body []byte) error {
	if c.outErr != nil {
		return c.outErr
	}
	b, err := c.appendFrameLocked(c.out[:0], zmtp.FlagCommand, body)
	c.out = b
	if err != nil {
		return c.failOutLocked(err)
	}
	return c.flushLocked()
}

// flushLocked writes c.out, with the bodies noted in c.spliced in their
// places, and empties both. Any write error, a timeout included, ends the
// connection: a partial frame cannot be taken back.
func (c *Conn) flushLocked() error {
	var err error
	if len(c.spliced) == 0 {
		_, err = c.conn.Write(c.out)
	} else {
		err = c.writevLocked()
	}
	c.resetOutLocked()
	if err != nil {
		c.outErr = err
		c.Close()
		if p := c.asyncErr.Load(); p != nil {
			return *p // a timer closed the connection under this write
		}
		return err
	}
	return nil
}

// writevLocked writes c.out and the spliced bodies in one net.Buffers
// (writev where the net.Conn has it). The iovecs are built in c.iov, kept
// for the next call, and handed over through c.wbufs, a field so that
// WriteTo's pointer receiver costs no allocation. WriteTo advances c.wbufs
// and clears the entries it has written in the array it shares with c.iov;
// c.iov keeps its length, and the rest is cleared here.
func (c *Conn) writevLocked() error {
	iov := c.iov[:0]
	prev := 0
	for _, s := range c.spliced {
		iov = append(iov, c.out[prev:s.at], s.body) // a header precedes each body: never empty
		prev = s.at
	}
	if prev < len(c.out) {
		iov = append(iov, c.out[prev:])
	}
	c.iov = iov
	c.wbufs = iov
	_, err := c.wbufs.WriteTo(c.conn)
	c.wbufs = nil
	clear(iov) // no reference to the caller's frames outlives the call
	return err
}

// resetOutLocked empties the output buffer and forgets the spliced bodies.
func (c *Conn) resetOutLocked() {
	c.out = c.out[:0]
	if len(c.spliced) > 0 {
		clear(c.spliced)
		c.spliced = c.spliced[:0]
	}
}
