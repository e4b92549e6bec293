package main

// The roles over package socket, with the socket types libzmq's perf
// programs use.

import (
	"context"
	"fmt"
	"time"

	"github.com/zmtpsec/zmtpsec/socket"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

func (r *runner) runSocket(ctx context.Context, cancel context.CancelCauseFunc) error {
	switch r.c.role {
	case "local_thr":
		return r.socketLocalThr(ctx, cancel)
	case "remote_thr":
		return r.socketRemoteThr(ctx, cancel)
	case "local_lat":
		return r.socketLocalLat(ctx, cancel)
	case "remote_lat":
		return r.socketRemoteLat(ctx, cancel)
	case "conn_srv":
		return r.socketConnSrv(ctx)
	default:
		return r.socketConnCli(ctx, cancel)
	}
}

// newSocket makes a socket of type t with our security. Its Linger is
// -timeout, so that Close lets what is queued go out. With monitor set,
// failed handshakes are logged and a connect that gives up ends the run
// (conn_srv and conn_cli leave it unset: the monitor is not part of what
// they measure, and libzmq's peer has none).
func (r *runner) newSocket(ctx context.Context, cancel context.CancelCauseFunc, t zmtp.SocketType, monitor bool) (*socket.Socket, error) {
	opts := &socket.Options{Config: r.sec.transportConfig(t), Linger: r.c.timeout}
	if monitor {
		opts.Events = r.monitor(ctx, cancel)
	}
	return socket.New(t, opts)
}

// monitor returns an event channel whose events are watched until ctx ends.
func (r *runner) monitor(ctx context.Context, cancel context.CancelCauseFunc) chan<- socket.Event {
	events := make(chan socket.Event, 64)
	r.bg.Go(func() {
		failures := 0
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-events:
				switch ev.Kind {
				case socket.EventHandshakeSucceeded:
					r.connected.Store(true)
				case socket.EventHandshakeFailed:
					// A connecting socket tries again and again: show
					// the first few.
					if failures++; failures > 3 {
						continue
					}
					peer := ev.Endpoint // a connecting socket's event has no RemoteAddr
					if ev.RemoteAddr != nil {
						peer = ev.RemoteAddr.String()
					}
					r.logf("handshake with %s failed: %v", peer, ev.Err)
					if failures == 3 {
						r.logf("(further failed handshakes not shown)")
					}
				case socket.EventConnectStopped:
					cancel(fmt.Errorf("gave up connecting to %s: %w", ev.Endpoint, ev.Err))
					return
				}
			}
		}
	})
	return events
}

// bind makes a socket of type t and binds it to -endpoint.
func (r *runner) bind(ctx context.Context, cancel context.CancelCauseFunc, t zmtp.SocketType, monitor bool) (*socket.Socket, error) {
	s, err := r.newSocket(ctx, cancel, t, monitor)
	if err != nil {
		return nil, err
	}
	if err := s.Bind(r.c.endpoint); err != nil {
		s.Close()
		return nil, err
	}
	r.ready(s.LastEndpoint())
	return s, nil
}

// connect makes a socket of type t and connects it to -endpoint.
func (r *runner) connect(ctx context.Context, cancel context.CancelCauseFunc, t zmtp.SocketType) (*socket.Socket, error) {
	s, err := r.newSocket(ctx, cancel, t, true)
	if err != nil {
		return nil, err
	}
	if err := s.Connect(r.c.endpoint); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (r *runner) socketLocalThr(ctx context.Context, cancel context.CancelCauseFunc) error {
	s, err := r.bind(ctx, cancel, zmtp.PULL, true)
	if err != nil {
		return err
	}
	defer s.Close()
	var start time.Time
	var msg [][]byte // reused: RecvInto recycles the socket's buffers
	for i := range r.c.count {
		msg, err = s.RecvInto(ctx, msg)
		if err != nil {
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

func (r *runner) socketRemoteThr(ctx context.Context, cancel context.CancelCauseFunc) error {
	s, err := r.connect(ctx, cancel, zmtp.PUSH)
	if err != nil {
		return err
	}
	defer s.Close()
	start := time.Now()
	for i := range r.c.count {
		// Send takes the message; the payload is shared, never modified.
		if err := s.Send(ctx, [][]byte{r.payload}); err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
		r.tick()
	}
	// A PUSH queues up to SendHWM messages before it has a peer, and
	// Close drops what is still queued after Linger: make sure there was
	// a peer, or a small -count would "succeed" with nobody listening.
	for !r.connected.Load() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("never connected to %s: %w", r.c.endpoint, context.Cause(ctx))
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := s.Close(); err != nil { // lets the queue drain, up to Linger
		return err
	}
	r.reportSend(time.Since(start))
	return nil
}

func (r *runner) socketLocalLat(ctx context.Context, cancel context.CancelCauseFunc) error {
	s, err := r.bind(ctx, cancel, zmtp.REP, true)
	if err != nil {
		return err
	}
	defer s.Close()
	for i := range r.c.count + 1 { // one warm-up round trip
		msg, err := s.Recv(ctx)
		if err != nil {
			return fmt.Errorf("request %d: %w", i, err)
		}
		if err := r.checkPayload(msg, 1, false); err != nil {
			return fmt.Errorf("request %d: %w", i, err)
		}
		if err := s.Send(ctx, msg); err != nil {
			return fmt.Errorf("reply %d: %w", i, err)
		}
		r.tick()
	}
	if err := s.Close(); err != nil { // the last reply goes out
		return err
	}
	fmt.Fprintf(r.stdout, "local_lat: echoed %d messages of %d B (zmtpsec %s %s)\n", r.c.count+1, r.c.size, r.c.layer, r.c.mech)
	return nil
}

func (r *runner) socketRemoteLat(ctx context.Context, cancel context.CancelCauseFunc) error {
	s, err := r.connect(ctx, cancel, zmtp.REQ)
	if err != nil {
		return err
	}
	defer s.Close()
	return r.timeRoundTrips(func() ([][]byte, error) {
		if err := s.Send(ctx, [][]byte{r.payload}); err != nil {
			return nil, fmt.Errorf("request: %w", err)
		}
		msg, err := s.Recv(ctx)
		if err != nil {
			return nil, fmt.Errorf("reply: %w", err)
		}
		return msg, nil
	}, 1, false)
}

func (r *runner) socketConnSrv(ctx context.Context) error {
	s, err := r.bind(ctx, nil, zmtp.ROUTER, false)
	if err != nil {
		return err
	}
	defer s.Close()
	total := r.c.count * r.c.clients
	for i := range total {
		msg, err := s.Recv(ctx)
		if err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		if err := r.checkPayload(msg, 2, false); err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		if err := s.Send(ctx, msg); err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		r.tick()
	}
	if err := s.Close(); err != nil { // the last echo goes out
		return err
	}
	fmt.Fprintf(r.stdout, "conn_srv: served %d connections (zmtpsec %s %s)\n", total, r.c.layer, r.c.mech)
	return nil
}

func (r *runner) socketConnCli(ctx context.Context, cancel context.CancelCauseFunc) error {
	opts := &socket.Options{
		Config: r.sec.transportConfig(zmtp.DEALER),
		Linger: -1, // nothing is queued at Close; libzmq's side has LINGER 0
	}
	el, err := r.clients(ctx, cancel, func(ctx context.Context) error {
		s, err := socket.New(zmtp.DEALER, opts)
		if err != nil {
			return err
		}
		defer s.Close()
		if err := s.Connect(r.c.endpoint); err != nil {
			return err
		}
		if err := s.Send(ctx, [][]byte{r.payload}); err != nil {
			return err
		}
		msg, err := s.Recv(ctx)
		if err != nil {
			return err
		}
		if err := r.checkPayload(msg, 1, false); err != nil {
			return err
		}
		return s.Close()
	})
	if err != nil {
		return err
	}
	r.reportConns(el)
	return nil
}
