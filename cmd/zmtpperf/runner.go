package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// runner runs one role and reports its result.
type runner struct {
	c              *config
	sec            *security
	stdout, stderr io.Writer
	payload        []byte // -size bytes, shared read-only by every send

	// progress counts work done (messages, round trips, connections); the
	// watchdog gives up when it stops moving.
	progress atomic.Uint64

	// connected is set once a socket's handshake has succeeded (seen by
	// its event monitor).
	connected atomic.Bool

	// bg holds the goroutines that watch a socket's events; run waits for
	// them.
	bg sync.WaitGroup
}

func newRunner(c *config, sec *security, stdout, stderr io.Writer) *runner {
	payload := make([]byte, c.size)
	for i := range payload {
		payload[i] = 'x'
	}
	return &runner{
		c:       c,
		sec:     sec,
		stdout:  &lockedWriter{w: stdout},
		stderr:  &lockedWriter{w: stderr},
		payload: payload,
	}
}

// lockedWriter serialises the writes of the role and of the goroutines that
// report events.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// stallError is the cause of a run the watchdog ended.
type stallError struct{ timeout time.Duration }

func (e stallError) Error() string {
	return fmt.Sprintf("no progress for %v (-timeout): is the peer there, with the same -mechanism and keys?", e.timeout)
}

// run runs the role under a watchdog: ctx is cancelled, with a stallError
// as its cause, when no progress was made for -timeout.
func (r *runner) run(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		r.watch(done, cancel)
	}()
	var err error
	if r.c.layer == "conn" {
		err = r.runConn(ctx, cancel)
	} else {
		err = r.runSocket(ctx, cancel)
	}
	close(done)
	<-watched
	cause := context.Cause(ctx)
	cancel(nil)
	r.bg.Wait()
	if err != nil && cause != nil && !errors.Is(err, cause) {
		// The role failed because the run was ended: say why first.
		return fmt.Errorf("%w (%v)", cause, err)
	}
	return err
}

// watch cancels the run when progress stands still for -timeout, until done
// is closed.
func (r *runner) watch(done <-chan struct{}, cancel context.CancelCauseFunc) {
	period := max(r.c.timeout/20, 10*time.Millisecond)
	t := time.NewTicker(period)
	defer t.Stop()
	last, since := r.progress.Load(), time.Now()
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			if p := r.progress.Load(); p != last {
				last, since = p, now
			} else if now.Sub(since) >= r.c.timeout {
				cancel(stallError{r.c.timeout})
				return
			}
		}
	}
}

func (r *runner) tick() { r.progress.Add(1) }

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.stderr, "zmtpperf: "+format+"\n", args...)
}

// ready announces the bound endpoint.
func (r *runner) ready(endpoint string) {
	fmt.Fprintf(r.stdout, "READY endpoint=%s\n", endpoint)
}

// checkPayload checks that msg is frames frames, the last of them the
// payload (-size bytes), the others envelope (a routing id, or REQ/REP's
// empty delimiter when delimiter is set).
func (r *runner) checkPayload(msg [][]byte, frames int, delimiter bool) error {
	if len(msg) != frames {
		return fmt.Errorf("got a %d-frame message, want %d frames", len(msg), frames)
	}
	if delimiter && len(msg[0]) != 0 {
		return fmt.Errorf("got a %d-byte first frame, want the empty delimiter", len(msg[0]))
	}
	if n := len(msg[frames-1]); n != r.c.size {
		return fmt.Errorf("got a %d-byte payload, want %d (-size)", n, r.c.size)
	}
	return nil
}

// result prints the RESULT line, with the keys every role has and then
// metrics, and the human line.
func (r *runner) result(metrics, human string) {
	fmt.Fprintf(r.stdout, "RESULT role=%s impl=zmtpsec layer=%s mech=%s size=%d count=%d %s\n%s (zmtpsec %s %s)\n",
		r.c.role, r.c.layer, r.c.mech, r.c.size, r.c.count, metrics, human, r.c.layer, r.c.mech)
}

// throughput reports n messages in el.
func (r *runner) throughput(n int, el time.Duration, what string) {
	rate := 0.0
	if el > 0 {
		rate = float64(n) / el.Seconds()
	}
	mbit := rate * float64(r.c.size) * 8 / 1e6
	r.result(fmt.Sprintf("msgs_per_s=%.0f mbit_per_s=%.1f seconds=%.3f", rate, mbit, el.Seconds()),
		fmt.Sprintf("%s: %d messages of %d B in %.3f s: %.3f M msgs/s, %.1f Mbit/s", what, r.c.count, r.c.size, el.Seconds(), rate/1e6, mbit))
}

// reportThr reports what local_thr received: the clock starts when the
// first message arrives, as in libzmq's local_thr, so count-1 messages
// arrived in el.
func (r *runner) reportThr(el time.Duration) { r.throughput(r.c.count-1, el, "local_thr") }

// reportSend reports what remote_thr sent, its Close included.
func (r *runner) reportSend(el time.Duration) {
	r.throughput(r.c.count, el, "remote_thr (sent, close included)")
}

// reportLat reports the round-trip times.
func (r *runner) reportLat(lat []time.Duration) {
	var total time.Duration
	for _, d := range lat {
		total += d
	}
	slices.Sort(lat)
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	p50, p90, p99 := us(percentile(lat, 50)), us(percentile(lat, 90)), us(percentile(lat, 99))
	mean := us(total) / float64(len(lat))
	r.result(fmt.Sprintf("p50_us=%.2f p90_us=%.2f p99_us=%.2f mean_us=%.2f seconds=%.3f", p50, p90, p99, mean, total.Seconds()),
		fmt.Sprintf("remote_lat: %d round trips of %d B: p50 %.2f us, p90 %.2f us, p99 %.2f us, mean %.2f us", len(lat), r.c.size, p50, p90, p99, mean))
}

// reportConns reports conn_cli's connections.
func (r *runner) reportConns(el time.Duration) {
	total := r.c.count * r.c.clients
	rate := 0.0
	if el > 0 {
		rate = float64(total) / el.Seconds()
	}
	r.result(fmt.Sprintf("clients=%d conns_per_s=%.1f seconds=%.3f", r.c.clients, rate, el.Seconds()),
		fmt.Sprintf("conn_cli: %d connections (%d clients) in %.3f s: %.1f connections/s", total, r.c.clients, el.Seconds(), rate))
}

// percentile returns the nearest-rank percentile p of sorted, which is not
// empty.
func percentile(sorted []time.Duration, p int) time.Duration {
	rank := (len(sorted)*p + 99) / 100 // ceil(n*p/100)
	return sorted[max(rank, 1)-1]
}

// clients runs conn_cli's clients at once, each calling connect -count
// times, and returns the time they took together. The first error cancels
// the others.
func (r *runner) clients(ctx context.Context, cancel context.CancelCauseFunc, connect func(ctx context.Context) error) (time.Duration, error) {
	var wg sync.WaitGroup
	start := time.Now()
	for k := range r.c.clients {
		wg.Go(func() {
			for range r.c.count {
				if err := connect(ctx); err != nil {
					cancel(fmt.Errorf("client %d: %w", k, err)) // only the first cause counts
					return
				}
				r.tick()
			}
		})
	}
	wg.Wait()
	return time.Since(start), context.Cause(ctx)
}

// timeRoundTrips makes one warm-up round trip and then -count timed ones
// with roundTrip, checks each reply as checkPayload does (frames frames,
// the payload last, an empty delimiter first if delimiter), and reports the
// latencies.
func (r *runner) timeRoundTrips(roundTrip func() ([][]byte, error), frames int, delimiter bool) error {
	lat := make([]time.Duration, 0, r.c.count)
	for i := -1; i < r.c.count; i++ { // -1: the warm-up
		start := time.Now()
		rep, err := roundTrip()
		if err != nil {
			return fmt.Errorf("round trip %d: %w", i, err)
		}
		d := time.Since(start)
		if err := r.checkPayload(rep, frames, delimiter); err != nil {
			return fmt.Errorf("reply %d: %w", i, err)
		}
		if i >= 0 {
			lat = append(lat, d)
		}
		r.tick()
	}
	r.reportLat(lat)
	return nil
}
