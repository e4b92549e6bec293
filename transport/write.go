package transport

import (
	"errors"
	"fmt"
	"net"

	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// ErrEmptyMessage is returned by WriteMessage for a message with no frames.
var ErrEmptyMessage = errors.New("transport: message has no frames")

// WriteMessage sends msg, one frame per element, in a single write. It
// allocates nothing in steady state. Under CURVE each frame travels as one
// encrypted MESSAGE.
//
// On a SUB or XSUB socket, a one-frame message that starts with 0x01 or 0x00
// is a subscription or a cancellation, as with libzmq's XSUB: to a ZMTP 3.1
// peer it is sent as a SUBSCRIBE or CANCEL command, to a 3.0 peer as is.
func (c *Conn) WriteMessage(msg [][]byte) error {
	if err := c.Handshake(); err != nil {
		return err
	}
	if len(msg) == 0 {
		return ErrEmptyMessage
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
	var err error
	if len(msg) == 1 && c.isSubscriber() && len(msg[0]) > 0 && c.peerProtocol31() &&
		(msg[0][0] == zmtp.SubscribeByte || msg[0][0] == zmtp.CancelByte) {
		topic := msg[0][1:]
		if msg[0][0] == zmtp.SubscribeByte {
			c.scratch = zmtp.AppendSubscribe(c.scratch[:0], topic)
		} else {
			c.scratch = zmtp.AppendCancel(c.scratch[:0], topic)
		}
		b, err = c.appendFrameLocked(b, zmtp.FlagCommand, c.scratch)
	} else {
		for i, part := range msg {
			var flags zmtp.Flags
			if i < len(msg)-1 {
				flags = zmtp.FlagMore
			}
			if b, err = c.appendFrameLocked(b, flags, part); err != nil {
				break
			}
		}
	}
	c.out = b
	if err != nil {
		c.outErr = err
		c.Close()
		return err
	}
	return c.flushLocked()
}

// appendFrameLocked appends one frame: in clear, or under CURVE as a
// MESSAGE in a data frame (libzmq sends MESSAGE in data frames, with MORE
// and COMMAND carried inside the box).
func (c *Conn) appendFrameLocked(b []byte, flags zmtp.Flags, body []byte) ([]byte, error) {
	if c.sealer == nil {
		return zmtp.AppendFrame(b, flags, body), nil
	}
	var inner byte
	if flags&zmtp.FlagMore != 0 {
		inner |= mechanism.MessageMore
	}
	if flags&zmtp.FlagCommand != 0 {
		inner |= mechanism.MessageCommand
	}
	b = zmtp.AppendFrameHeader(b, 0, mechanism.SealedSize(len(body)))
	return c.sealer.Seal(b, inner, body)
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
		c.outErr = err
		c.Close()
		return err
	}
	return c.flushLocked()
}

// flushLocked writes c.out. Any write error, a timeout included, ends the
// connection: a partial frame cannot be taken back.
func (c *Conn) flushLocked() error {
	_, err := c.conn.Write(c.out)
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
