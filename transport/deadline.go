package transport

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// earlier returns the earlier of two deadlines, where zero means none.
func earlier(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// deadline is a deadline set by the caller, kept so that the handshake can
// restore it.
type deadline struct{ ns atomic.Int64 }

func (d *deadline) set(t time.Time) {
	if t.IsZero() {
		d.ns.Store(0)
	} else {
		d.ns.Store(t.UnixNano())
	}
}

func (d *deadline) get() time.Time {
	if ns := d.ns.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// boundDeadlines starts a handshake's bounds on the connection's deadlines:
// from now until unboundDeadlines, they are the earlier of the caller's and
// read and write (zero: no bound).
func (c *Conn) boundDeadlines(read, write time.Time) {
	c.deadlineMu.Lock()
	defer c.deadlineMu.Unlock()
	c.hsRunning, c.hsRead, c.hsWrite = true, read, write
	if !read.IsZero() {
		c.conn.SetReadDeadline(earlier(c.readDeadline.get(), read))
	}
	if !write.IsZero() {
		c.conn.SetWriteDeadline(earlier(c.writeDeadline.get(), write))
	}
}

// graceWriteDeadline replaces the handshake's bound on writes with t, for
// the flights a failed handshake still lets out.
func (c *Conn) graceWriteDeadline(t time.Time) {
	c.deadlineMu.Lock()
	defer c.deadlineMu.Unlock()
	if c.hsRunning {
		c.hsWrite = t
		c.conn.SetWriteDeadline(earlier(c.writeDeadline.get(), t))
	}
}

// expireDeadlines interrupts a running handshake's I/O, when its context is
// cancelled: both bounds go to the past. Once the handshake is over it does
// nothing.
func (c *Conn) expireDeadlines() {
	c.deadlineMu.Lock()
	defer c.deadlineMu.Unlock()
	if c.hsRunning {
		past := time.Unix(1, 0)
		c.hsRead, c.hsWrite = past, past
		c.conn.SetDeadline(past)
	}
}

// unboundDeadlines ends the handshake's bounds: the connection's deadlines
// are the caller's again, as the caller last set them.
func (c *Conn) unboundDeadlines() {
	c.deadlineMu.Lock()
	defer c.deadlineMu.Unlock()
	c.hsRunning, c.hsRead, c.hsWrite = false, time.Time{}, time.Time{}
	c.conn.SetReadDeadline(c.readDeadline.get())
	c.conn.SetWriteDeadline(c.writeDeadline.get())
}

// deadlineContext is a parent context bounded by a deadline, as
// context.WithDeadline(parent, deadline) would make it, except that the
// channel, timer and link to the parent that Done needs are made only when
// Done (or Value) is first called. A handshake runs under one: one whose
// mechanism never waits on its context (any handshake without a ZAP
// handler) then allocates nothing for it, since the connection's deadlines
// bound its I/O and a cancellation of the parent interrupts it through
// setDeadlines' hook. A ZAP handler gets one too, which costs nothing when
// the handler does not wait on it either.
//
// Until Done is called, Err is computed from the parent and the clock, and
// once it has reported an error it keeps reporting it.
type deadlineContext struct {
	parent   context.Context
	deadline time.Time // zero: the parent's, if any

	mu     sync.Mutex
	inner  context.Context // made by Done or Value; nil before
	cancel context.CancelFunc
	err    error // what Err reported before inner was made
}

var _ context.Context = (*deadlineContext)(nil)

// init sets the parent and the deadline (zero: none but the parent's).
func (c *deadlineContext) init(parent context.Context, deadline time.Time) {
	c.parent = parent
	if pd, ok := parent.Deadline(); ok && (deadline.IsZero() || pd.Before(deadline)) {
		deadline = pd
	}
	c.deadline = deadline
}

// release frees the timer and the parent's link to inner, if Done made
// them. The context is done afterwards, as one from context.WithDeadline is
// after its cancel function has run.
func (c *deadlineContext) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cancel != nil {
		c.cancel()
	} else if c.err == nil {
		c.err = context.Canceled
	}
}

func (c *deadlineContext) Deadline() (time.Time, bool) {
	return c.deadline, !c.deadline.IsZero()
}

// materialize returns inner, making it if need be; nil if Err has already
// reported an error.
func (c *deadlineContext) materialize() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inner == nil && c.err == nil {
		if c.deadline.IsZero() {
			c.inner, c.cancel = context.WithCancel(c.parent)
		} else {
			c.inner, c.cancel = context.WithDeadline(c.parent, c.deadline)
		}
	}
	return c.inner
}

// closedChan is the Done channel of a deadlineContext that was already
// done when Done was first called.
var closedChan = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

func (c *deadlineContext) Done() <-chan struct{} {
	if inner := c.materialize(); inner != nil {
		return inner.Done()
	}
	return closedChan
}

func (c *deadlineContext) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inner != nil {
		return c.inner.Err()
	}
	if c.err == nil {
		if err := c.parent.Err(); err != nil {
			c.err = err
		} else if !c.deadline.IsZero() && !time.Now().Before(c.deadline) {
			c.err = context.DeadlineExceeded
		}
	}
	return c.err
}

func (c *deadlineContext) Value(key any) any {
	if inner := c.materialize(); inner != nil {
		return inner.Value(key)
	}
	return c.parent.Value(key)
}
