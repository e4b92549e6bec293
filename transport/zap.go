package transport

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zmtpsec/zmtpsec/zap"
)

// ErrZAPTimeout is the cause of the status 500 a server answers when its
// ZAP handler has not answered shortly before the handshake deadline. The
// handshake then fails with a [*mechanism.AuthError] (status 500) wrapping
// it. It has a Timeout method that reports true and, like every handshake
// timeout, matches [ErrHandshakeTimeout], [context.DeadlineExceeded] and
// [os.ErrDeadlineExceeded] with errors.Is.
var ErrZAPTimeout error = zapTimeoutError{}

type zapTimeoutError struct{}

func (zapTimeoutError) Error() string { return "transport: ZAP handler did not answer in time" }
func (zapTimeoutError) Timeout() bool { return true }

// Temporary reports false; with Timeout, it makes ErrZAPTimeout a
// [net.Error], as every handshake timeout is.
func (zapTimeoutError) Temporary() bool { return false }
func (zapTimeoutError) Is(target error) bool {
	return target == ErrHandshakeTimeout || errors.Is(ErrHandshakeTimeout, target)
}

// zapMargin is the least time a ZAP handler is cut off before the handshake
// deadline, so that the ERROR "500" can still be written.
const zapMargin = 100 * time.Millisecond

// zapHandler returns the configured handler wrapped, in b, so that a
// handler that blocks is cut off before the handshake's deadline, and that
// the Listener's MaxZAPInFlight is respected, or nil.
func (c *Conn) zapHandler(b *boundedHandler) zap.Handler {
	if c.cfg.ZAPHandler == nil {
		return nil
	}
	*b = boundedHandler{h: c.cfg.ZAPHandler, audit: &c.hooks.audit}
	if l := c.hooks.l; l != nil {
		b.limit = &l.zap
	}
	return b
}

// boundedHandler runs a handler in its own goroutine and stops waiting for it
// shortly before ctx's deadline, or when ctx ends. A handler that ignores
// its context keeps its goroutine until it returns; the connection does not
// wait for it, but the goroutine counts against limit until then. It also
// notes the request and the answer for the handshake's audit event.
type boundedHandler struct {
	h     zap.Handler
	limit *counter // nil: no limit
	audit *handshakeAudit
}

type zapResult struct {
	rep *zap.Reply
	err error
}

// zapDeadline returns the deadline a handler gets under a handshake
// deadline d: a tenth of the time left (at least zapMargin, at most half)
// earlier, so that the refusal can still be sent.
func zapDeadline(d, now time.Time) time.Time {
	left := d.Sub(now)
	margin := min(max(left/10, zapMargin), left/2)
	return d.Add(-margin)
}

func (b *boundedHandler) Authenticate(ctx context.Context, req *zap.Request) (*zap.Reply, error) {
	b.audit.noteRequest(req)
	if err := ctx.Err(); err != nil {
		b.audit.noteReply(nil, err)
		return nil, err
	}
	if b.limit != nil && !b.limit.acquire() {
		rep := &zap.Reply{Version: zap.Version, StatusCode: zap.StatusTemporaryFailure, StatusText: ZAPBusyText}
		if req != nil {
			rep.RequestID = req.RequestID
		}
		b.audit.noteReply(rep, nil)
		return rep, nil
	}
	// The handler's context is ctx with an earlier deadline. It is a
	// deadlineContext made on ctx's own parent when ctx is the handshake's
	// (the same deadlines, without making ctx's channel and timer), whose
	// channel and timer are made only if the handler asks for them; our own
	// wait has a timer of its own.
	base := ctx
	if dc, ok := ctx.(*deadlineContext); ok {
		base = dc.parent
	}
	var hctx deadlineContext
	var timeout <-chan time.Time
	if d, ok := ctx.Deadline(); ok {
		zd := zapDeadline(d, time.Now())
		hctx.init(base, zd)
		t := time.NewTimer(time.Until(zd))
		defer t.Stop()
		timeout = t.C
	} else {
		hctx.init(base, time.Time{})
	}
	defer hctx.release()
	done := make(chan zapResult, 1)
	go func() {
		defer func() {
			if b.limit != nil {
				b.limit.release()
			}
		}()
		var r zapResult
		func() {
			defer func() {
				if p := recover(); p != nil {
					// The same *zap.Error zap.Ask gives for a panic, so a
					// panic reads the same with or without this wrapper.
					r = zapResult{nil, &zap.Error{Reason: fmt.Sprintf("handler panicked: %v", p)}}
				}
			}()
			r.rep, r.err = b.h.Authenticate(&hctx, req)
		}()
		done <- r
	}()
	var r zapResult
	select {
	case r = <-done:
	case <-timeout:
		r.err = ErrZAPTimeout
		if err := ctx.Err(); err != nil {
			r.err = err // the handshake itself is over
		}
	case <-base.Done():
		r.err = ctx.Err() // the handshake's context was cancelled
	}
	if r.err != nil && !errors.Is(r.err, ErrZAPTimeout) && errors.Is(r.err, context.DeadlineExceeded) && ctx.Err() == nil {
		// A handler that gave up on its own context ran out of time too.
		r.err = fmt.Errorf("%w: %w", ErrZAPTimeout, r.err)
	}
	b.audit.noteReply(r.rep, r.err)
	return r.rep, r.err
}
