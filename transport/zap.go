package transport

import (
	"context"

	"github.com/zmtpsec/zmtpsec/zap"
)

// zapHandler returns the configured handler wrapped so that a handler that
// blocks is cut off when the handshake's context ends, or nil.
func (c *Conn) zapHandler() zap.Handler {
	if c.cfg.ZAPHandler == nil {
		return nil
	}
	return boundedHandler{c.cfg.ZAPHandler}
}

// boundedHandler runs a handler in its own goroutine and stops waiting for it
// when ctx ends. A handler that ignores ctx keeps its goroutine until it
// returns; the connection does not wait for it.
type boundedHandler struct{ h zap.Handler }

type zapResult struct {
	rep *zap.Reply
	err error
}

func (b boundedHandler) Authenticate(ctx context.Context, req *zap.Request) (*zap.Reply, error) {
	done := make(chan zapResult, 1)
	go func() {
		rep, err := zap.Ask(ctx, b.h, req)
		done <- zapResult{rep, err}
	}()
	select {
	case r := <-done:
		return r.rep, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
