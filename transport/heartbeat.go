package transport

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/zmtpsec/zmtpsec/internal/timeout"
)

// startTimers arms the heartbeat timer once the handshake is done. It is
// called after a successful handshake, once inMu is released; a Close that
// ran while the handshake held inMu could not zero the session keys, so it
// is done here.
func (c *Conn) startTimers() {
	if c.closed.Load() {
		c.zeroKeys()
		return
	}
	ivl := c.cfg.HeartbeatInterval
	if ivl <= 0 {
		return
	}
	c.lastRecv.Store(time.Now().UnixNano())
	c.watching.Store(true)
	c.timerMu.Lock()
	defer c.timerMu.Unlock()
	if c.closed.Load() {
		return
	}
	c.hbTimer = time.AfterFunc(ivl, c.heartbeat)
}

// heartbeat runs every HeartbeatInterval, and when a PING's timeout is
// due. Like libzmq, it ends the connection when nothing has arrived within
// HeartbeatTimeout of the first PING that is still unanswered by any
// traffic, then sends a PING.
//
// The next wake-up is armed before the PING is written: a PING write that
// blocks (a peer that stopped reading, with the socket buffer full) holds
// up only this run, and the next one, on a goroutine of its own, still
// finds the PING overdue and ends the connection, which unblocks the write.
func (c *Conn) heartbeat() {
	if c.closed.Load() {
		return
	}
	now := time.Now()
	timeout := c.cfg.heartbeatTimeout()
	if c.readPaused.Load() {
		c.lastRecv.Store(now.UnixNano())
	}
	c.timerMu.Lock()
	if !c.pingSent.IsZero() && c.lastRecv.Load() >= c.pingSent.UnixNano() {
		c.pingSent = time.Time{} // traffic arrived since that PING
	}
	if !c.pingSent.IsZero() && now.Sub(c.pingSent) >= timeout {
		c.timerMu.Unlock()
		c.failAsync(ErrHeartbeatTimeout)
		return
	}
	due := now.Sub(c.lastPingAt) >= c.cfg.HeartbeatInterval || c.lastPingAt.IsZero()
	if due {
		c.lastPingAt = now
		if c.pingSent.IsZero() {
			c.pingSent = now
		}
	}
	// Wake for the next PING or for the pending PING's timeout, whichever
	// comes first.
	next := c.lastPingAt.Add(c.cfg.HeartbeatInterval).Sub(now)
	if !c.pingSent.IsZero() {
		if d := c.pingSent.Add(timeout).Sub(now); d < next {
			next = d
		}
	}
	if next < time.Millisecond {
		next = time.Millisecond
	}
	if !c.closed.Load() {
		c.hbTimer.Reset(next)
	}
	c.timerMu.Unlock()
	if due {
		ttl := c.cfg.HeartbeatTTL / (100 * time.Millisecond)
		if ttl > 0xFFFF {
			ttl = 0xFFFF
		}
		c.writePing(uint16(ttl)) // an error has closed the connection
	}
}

// SetReadPaused tells the connection whether its reader has stopped reading
// on purpose: a layer above that stops calling ReadMessage while its own
// queue is full (TCP then pushes back on the peer) does not want the
// silence it causes taken for a dead peer. While paused, heartbeats and the
// peer's TTL count the connection as alive; PINGs still go out. When
// unpaused, the clock starts again from that moment.
func (c *Conn) SetReadPaused(paused bool) {
	c.lastRecv.Store(time.Now().UnixNano())
	c.readPaused.Store(paused)
}

// armPeerTTL starts watching for the TTL the peer's PING asked for: if
// nothing arrives for ttl, the connection ends, as libzmq does.
func (c *Conn) armPeerTTL(ttl time.Duration) {
	c.peerTTL.Store(int64(ttl))
	if !c.watching.Load() {
		c.lastRecv.Store(time.Now().UnixNano())
		c.watching.Store(true)
	}
	c.timerMu.Lock()
	defer c.timerMu.Unlock()
	if c.closed.Load() || c.ttlTimer != nil {
		return
	}
	c.ttlTimer = time.AfterFunc(ttl, c.checkPeerTTL)
}

func (c *Conn) checkPeerTTL() {
	if c.closed.Load() {
		return
	}
	if c.readPaused.Load() {
		c.lastRecv.Store(time.Now().UnixNano())
	}
	ttl := time.Duration(c.peerTTL.Load())
	silent := time.Since(time.Unix(0, c.lastRecv.Load()))
	if silent >= ttl {
		c.failAsync(ErrHeartbeatTimeout)
		return
	}
	c.timerMu.Lock()
	defer c.timerMu.Unlock()
	if !c.closed.Load() {
		c.ttlTimer.Reset(ttl - silent)
	}
}

// failAsync ends the connection from a timer: the reader and writer see
// err (ErrHeartbeatTimeout). It takes no lock a reader or writer may hold,
// so it ends the connection at once even while a write is blocked on a peer
// that does not read: closing the net.Conn unblocks that write.
func (c *Conn) failAsync(err error) {
	c.asyncErr.CompareAndSwap(nil, &err)
	c.Close()
}

// fail ends the connection because of err and returns err, or the error
// that ended it first from a timer.
func (c *Conn) fail(err error) error {
	err = c.closedErr(err)
	c.Close()
	return err
}

// closedErr returns the error to report for err: the error a timer ended
// the connection with, if any; else, once Close has been called, an error
// that unwraps to net.ErrClosed (net.Pipe reports io.ErrClosedPipe).
func (c *Conn) closedErr(err error) error {
	if err == nil {
		return nil
	}
	if p := c.asyncErr.Load(); p != nil {
		return *p
	}
	if c.closed.Load() && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("transport: %w (%w)", net.ErrClosed, err)
	}
	return err
}

func isTimeout(err error) bool {
	return timeout.Is(err) && !errors.Is(err, ErrHeartbeatTimeout)
}
