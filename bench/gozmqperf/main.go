// Command gozmqperf is the github.com/go-zeromq/zmq4 peer of the
// two-process performance comparison (run-native.sh): the throughput roles
// local_thr (a PULL that binds and receives) and remote_thr (a PUSH that
// connects and sends) of cmd/zmtpperf and perf/zmqperf.c, with the same
// flags and output, for NULL only (go-zeromq has no CURVE). It prints
// impl=gozmq on its RESULT lines.
//
//	gozmqperf local_thr -endpoint tcp://127.0.0.1:* -size 16 -count 1000000
//	gozmqperf remote_thr -endpoint tcp://127.0.0.1:PORT -size 16 -count 1000000
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"time"

	gozmq "github.com/go-zeromq/zmq4"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

type config struct {
	role, endpoint, mech string
	size, count          int
	timeout              time.Duration
}

func run(args []string, stdout, stderr io.Writer) int {
	c := &config{}
	fs := flag.NewFlagSet("gozmqperf", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.endpoint, "endpoint", "tcp://127.0.0.1:5555", "where to bind or connect")
	fs.IntVar(&c.size, "size", 16, "payload bytes")
	fs.IntVar(&c.count, "count", 1000000, "messages")
	fs.StringVar(&c.mech, "mechanism", "null", "null only: go-zeromq has no CURVE")
	fs.DurationVar(&c.timeout, "timeout", 60*time.Second, "fail when nothing happens for this long")
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		c.role, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	switch {
	case c.role != "local_thr" && c.role != "remote_thr":
		fmt.Fprintf(stderr, "gozmqperf: role %q: want local_thr or remote_thr\n", c.role)
		return 2
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "gozmqperf: unexpected argument %q\n", fs.Arg(0))
		return 2
	case c.mech != "null":
		fmt.Fprintf(stderr, "gozmqperf: -mechanism %s: go-zeromq/zmq4 has NULL only\n", c.mech)
		return 2
	case c.size < 0 || c.count < 1 || c.timeout <= 0:
		fmt.Fprintln(stderr, "gozmqperf: want -size >= 0, -count >= 1 and a positive -timeout")
		return 2
	}
	if err := c.run(stdout); err != nil {
		fmt.Fprintf(stderr, "gozmqperf: %s: %v\n", c.role, err)
		return 1
	}
	return 0
}

// run runs the role; a watchdog closes the socket, which unblocks it, when
// no progress is made for -timeout.
func (c *config) run(stdout io.Writer) error {
	var s gozmq.Socket
	if c.role == "local_thr" {
		s = gozmq.NewPull(context.Background())
	} else {
		s = gozmq.NewPush(context.Background())
	}
	defer s.Close()
	var progress atomic.Uint64
	var stalled atomic.Bool
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(max(c.timeout/20, 10*time.Millisecond))
		defer t.Stop()
		last, since := progress.Load(), time.Now()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				if p := progress.Load(); p != last {
					last, since = p, now
				} else if now.Sub(since) >= c.timeout {
					stalled.Store(true)
					s.Close()
					return
				}
			}
		}
	}()
	err := c.measure(s, stdout, &progress)
	if err != nil && stalled.Load() {
		return fmt.Errorf("no progress for %v (-timeout): %w", c.timeout, err)
	}
	return err
}

func (c *config) measure(s gozmq.Socket, stdout io.Writer, progress *atomic.Uint64) error {
	payload := make([]byte, c.size)
	for i := range payload {
		payload[i] = 'x'
	}
	prefix := fmt.Sprintf("RESULT role=%s impl=gozmq mech=null size=%d count=%d", c.role, c.size, c.count)
	recv := func() error {
		m, err := s.Recv()
		if err != nil {
			return err
		}
		if len(m.Frames) != 1 || len(m.Frames[0]) != c.size {
			return fmt.Errorf("got %d frames, want one of %d bytes", len(m.Frames), c.size)
		}
		progress.Add(1)
		return nil
	}
	if c.role == "local_thr" {
		ep := c.endpoint
		if strings.HasSuffix(ep, ":*") {
			ep = strings.TrimSuffix(ep, "*") + "0"
		}
		if err := s.Listen(ep); err != nil {
			return err
		}
		if a, ok := s.Addr().(*net.TCPAddr); ok {
			ep = "tcp://" + a.String()
		}
		fmt.Fprintf(stdout, "READY endpoint=%s\n", ep)
		var start time.Time
		for i := range c.count {
			if err := recv(); err != nil {
				return fmt.Errorf("message %d: %w", i, err)
			}
			if i == 0 {
				start = time.Now()
			}
		}
		el := time.Since(start)
		rate := 0.0
		if el > 0 {
			rate = float64(c.count-1) / el.Seconds()
		}
		fmt.Fprintf(stdout, "%s msgs_per_s=%.0f mbit_per_s=%.1f seconds=%.3f\n", prefix, rate, rate*float64(c.size)*8/1e6, el.Seconds())
		fmt.Fprintf(stdout, "local_thr: %d messages of %d B in %.3f s: %.3f M msgs/s (gozmq null)\n", c.count, c.size, el.Seconds(), rate/1e6)
		return nil
	}
	if err := s.Dial(c.endpoint); err != nil {
		return err
	}
	start := time.Now()
	for i := range c.count {
		if err := s.Send(gozmq.NewMsg(payload)); err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
		progress.Add(1)
	}
	if err := s.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	el := time.Since(start)
	rate := float64(c.count) / el.Seconds()
	fmt.Fprintf(stdout, "%s msgs_per_s=%.0f mbit_per_s=%.1f seconds=%.3f\n", prefix, rate, rate*float64(c.size)*8/1e6, el.Seconds())
	return nil
}
