package transport

import (
	"errors"
	"time"
)

// startTimers arms the heartbeat timer once the handshake is done.
func (c *Conn) startTimers() {
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

// heartbeat runs every HeartbeatInterval: it ends a connection that has been
// silent for longer than the timeout since the last PING, then sends a PING.
func (c *Conn) heartbeat() {
	if c.closed.Load() {
		return
	}
	now := time.Now()
	c.timerMu.Lock()
	last := c.lastPing
	c.timerMu.Unlock()
	if !last.IsZero() {
		silent := now.Sub(time.Unix(0, c.lastRecv.Load()))
		if silent > c.cfg.heartbeatTimeout() && now.Sub(last) >= c.cfg.heartbeatTimeout() {
			c.failAsync(ErrHeartbeatTimeout)
			return
		}
	}
	ttl := c.cfg.HeartbeatTTL / (100 * time.Millisecond)
	if ttl > 0xFFFF {
		ttl = 0xFFFF
	}
	if err := c.writePing(uint16(ttl)); err != nil {
		return
	}
	c.timerMu.Lock()
	defer c.timerMu.Unlock()
	c.lastPing = now
	if !c.closed.Load() {
		c.hbTimer.Reset(c.cfg.HeartbeatInterval)
	}
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
// ErrHeartbeatTimeout.
func (c *Conn) failAsync(err error) {
	c.outMu.Lock()
	if c.outErr == nil {
		c.outErr = err
	}
	c.outMu.Unlock()
	c.asyncErr.Store(&err)
	c.Close()
}

// fail ends the connection because of err and returns err, or the error
// that ended it first from a timer.
func (c *Conn) fail(err error) error {
	if p := c.asyncErr.Load(); p != nil {
		err = *p
	}
	c.Close()
	return err
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout() && !errors.Is(err, ErrHeartbeatTimeout)
}
