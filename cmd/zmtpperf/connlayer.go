package main

// The roles over one bare transport.Conn per connection (-layer conn). Each
// puts on the wire what the socket type of the same role in libzmq puts
// there: one frame for PUSH/PULL and DEALER/ROUTER, the empty delimiter and
// the payload for REQ/REP. Receivers reuse their message storage, and
// remote_thr hands WriteMessages -batch messages per call, so that neither
// allocates per message.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

func (r *runner) runConn(ctx context.Context, cancel context.CancelCauseFunc) error {
	switch r.c.role {
	case "local_thr":
		return r.connLocalThr(ctx)
	case "remote_thr":
		return r.connRemoteThr(ctx)
	case "local_lat":
		return r.connLocalLat(ctx)
	case "remote_lat":
		return r.connRemoteLat(ctx)
	case "conn_srv":
		return r.connConnSrv(ctx)
	default:
		return r.connConnCli(ctx, cancel)
	}
}

// listen listens on -endpoint for connections of socket type t; the
// listener is closed when ctx ends.
func (r *runner) listen(ctx context.Context, t zmtp.SocketType) (*transport.Listener, func(), error) {
	cfg := r.sec.transportConfig(t)
	ep := r.c.endpoint
	if strings.HasSuffix(ep, ":*") { // libzmq's "any port", which transport spells :0
		ep = strings.TrimSuffix(ep, "*") + "0"
	}
	ln, err := transport.Listen(ep, &cfg)
	if err != nil {
		return nil, nil, err
	}
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	r.ready(ln.Endpoint())
	return ln, func() { stop(); ln.Close() }, nil
}

// accept returns the first connection whose handshake succeeds; it is
// closed when ctx ends. Failed handshakes are logged.
func (r *runner) accept(ctx context.Context, ln *transport.Listener) (*transport.Conn, func(), error) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return nil, nil, err
		}
		if err := c.HandshakeContext(ctx); err != nil {
			if ctx.Err() != nil {
				return nil, nil, err
			}
			r.logf("handshake with %v failed: %v", c.RemoteAddr(), err)
			continue
		}
		return c, closeWith(ctx, c), nil
	}
}

// acceptOne listens as socket type t and returns the first peer whose
// handshake succeeds; close closes both the connection and the listener.
func (r *runner) acceptOne(ctx context.Context, t zmtp.SocketType) (c *transport.Conn, close func(), err error) {
	ln, closeLn, err := r.listen(ctx, t)
	if err != nil {
		return nil, nil, err
	}
	c, closeC, err := r.accept(ctx, ln)
	if err != nil {
		closeLn()
		return nil, nil, err
	}
	return c, func() { closeC(); closeLn() }, nil
}

// dial connects to -endpoint as socket type t, trying again while the
// connection is refused (the binding side is not there yet), until ctx
// ends. The connection is closed when ctx ends.
func (r *runner) dial(ctx context.Context, t zmtp.SocketType) (*transport.Conn, func(), error) {
	cfg := r.sec.transportConfig(t)
	for {
		c, err := transport.DialContext(ctx, r.c.endpoint, &cfg)
		if err == nil {
			return c, closeWith(ctx, c), nil
		}
		if !errors.Is(err, syscall.ECONNREFUSED) || ctx.Err() != nil {
			return nil, nil, err
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("%w (last attempt: %v)", context.Cause(ctx), err)
		}
	}
}

// closeWith closes c when ctx ends, which unblocks its reads and writes,
// and returns the function that closes it now.
func closeWith(ctx context.Context, c *transport.Conn) func() {
	stop := context.AfterFunc(ctx, func() { c.Close() })
	return func() { stop(); c.Close() }
}

func (r *runner) connLocalThr(ctx context.Context) error {
	c, closeC, err := r.acceptOne(ctx, zmtp.PULL)
	if err != nil {
		return err
	}
	defer closeC()
	var msg [][]byte
	var start time.Time
	for i := range r.c.count {
		if msg, err = c.ReadMessage(msg); err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
		if err := r.checkPayload(msg, 1, false); err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
		if i == 0 {
			start = time.Now()
		}
		r.tick()
	}
	r.reportThr(time.Since(start))
	return nil
}

func (r *runner) connRemoteThr(ctx context.Context) error {
	c, closeC, err := r.dial(ctx, zmtp.PUSH)
	if err != nil {
		return err
	}
	defer closeC()
	// Every message of the batch is the same one-frame message, which
	// WriteMessages only reads.
	one := [][]byte{r.payload}
	batch := make([][][]byte, min(r.c.batch, r.c.count))
	for i := range batch {
		batch[i] = one
	}
	start := time.Now()
	for sent := 0; sent < r.c.count; {
		n := min(len(batch), r.c.count-sent)
		if err := c.WriteMessages(batch[:n]); err != nil {
			return fmt.Errorf("after %d messages: %w", sent, err)
		}
		sent += n
		r.progress.Add(uint64(n))
	}
	closeC() // what was written goes out before the FIN
	r.reportSend(time.Since(start))
	return nil
}

func (r *runner) connLocalLat(ctx context.Context) error {
	c, closeC, err := r.acceptOne(ctx, zmtp.REP)
	if err != nil {
		return err
	}
	defer closeC()
	var msg [][]byte
	for i := range r.c.count + 1 { // one warm-up round trip
		if msg, err = c.ReadMessage(msg); err != nil {
			return fmt.Errorf("request %d: %w", i, err)
		}
		if err := r.checkPayload(msg, 2, true); err != nil {
			return fmt.Errorf("request %d: %w", i, err)
		}
		if err := c.WriteMessage(msg); err != nil {
			return fmt.Errorf("reply %d: %w", i, err)
		}
		r.tick()
	}
	fmt.Fprintf(r.stdout, "local_lat: echoed %d messages of %d B (zmtpsec %s %s)\n", r.c.count+1, r.c.size, r.c.layer, r.c.mech)
	return nil
}

func (r *runner) connRemoteLat(ctx context.Context) error {
	c, closeC, err := r.dial(ctx, zmtp.REQ)
	if err != nil {
		return err
	}
	defer closeC()
	req := [][]byte{{}, r.payload} // REQ's empty delimiter, then the payload
	var rep [][]byte
	return r.timeRoundTrips(func() ([][]byte, error) {
		if err := c.WriteMessage(req); err != nil {
			return nil, fmt.Errorf("request: %w", err)
		}
		var err error
		if rep, err = c.ReadMessage(rep); err != nil {
			return nil, fmt.Errorf("reply: %w", err)
		}
		return rep, nil
	}, 2, true)
}

// connConnSrv serves every connection in its own goroutine: the handshake,
// one echo, then reads until the client closes.
func (r *runner) connConnSrv(ctx context.Context) error {
	ln, closeLn, err := r.listen(ctx, zmtp.ROUTER)
	if err != nil {
		return err
	}
	defer closeLn()
	total := int64(r.c.count * r.c.clients)
	var served atomic.Int64
	allServed := make(chan struct{})
	var wg sync.WaitGroup
	serve := func(c *transport.Conn) {
		defer c.Close()
		msg, err := c.ReadMessage(nil)
		if err != nil {
			if ctx.Err() == nil {
				r.logf("connection from %v: %v", c.RemoteAddr(), err)
			}
			return
		}
		if err := r.checkPayload(msg, 1, false); err != nil {
			r.logf("connection from %v: %v", c.RemoteAddr(), err)
			return
		}
		if err := c.WriteMessage(msg); err != nil {
			r.logf("connection from %v: %v", c.RemoteAddr(), err)
			return
		}
		r.tick()
		if served.Add(1) == total {
			close(allServed)
		}
		// The client closes after the echo; wait for that, within bounds.
		c.SetReadDeadline(time.Now().Add(r.c.timeout))
		for err == nil {
			msg, err = c.ReadMessage(msg)
		}
	}
	accepted := make(chan error, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				accepted <- err
				return
			}
			stop := context.AfterFunc(ctx, func() { c.Close() })
			wg.Go(func() {
				defer stop()
				serve(c)
			})
		}
	}()
	acceptDone := false
	select {
	case <-allServed:
	case err = <-accepted:
		acceptDone = true
	case <-ctx.Done():
		err = context.Cause(ctx)
	}
	closeLn()
	if !acceptDone {
		<-accepted
	}
	wg.Wait() // the connections end when their clients close them
	if err != nil {
		return err
	}
	fmt.Fprintf(r.stdout, "conn_srv: served %d connections (zmtpsec %s %s)\n", total, r.c.layer, r.c.mech)
	return nil
}

func (r *runner) connConnCli(ctx context.Context, cancel context.CancelCauseFunc) error {
	cfg := r.sec.transportConfig(zmtp.DEALER)
	el, err := r.clients(ctx, cancel, func(ctx context.Context) error {
		c, err := transport.DialContext(ctx, r.c.endpoint, &cfg)
		if err != nil {
			return err
		}
		defer closeWith(ctx, c)()
		if err := c.WriteMessage([][]byte{r.payload}); err != nil {
			return err
		}
		msg, err := c.ReadMessage(nil)
		if err != nil {
			return err
		}
		return r.checkPayload(msg, 1, false)
	})
	if err != nil {
		return err
	}
	r.reportConns(el)
	return nil
}
