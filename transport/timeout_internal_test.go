package transport

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
)

type timeoutErr struct{ timeout bool }

func (e timeoutErr) Error() string { return "t" }
func (e timeoutErr) Timeout() bool { return e.timeout }

// asTimeout has an As method that answers for a timeout.
type asTimeout struct{}

func (asTimeout) Error() string { return "as" }
func (asTimeout) As(target any) bool {
	if p, ok := target.(*interface{ Timeout() bool }); ok {
		*p = timeoutErr{true}
		return true
	}
	return false
}

// TestIsTimeout: isTimeout is a timeout found in the error tree, as
// internal/timeout finds it, except a heartbeat timeout (the connection is
// over, the read may not be retried), and allocates nothing.
func TestIsTimeout(t *testing.T) {
	deadline := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false}, {io.EOF, false}, {deadline, true}, {timeoutErr{false}, false}, {timeoutErr{true}, true},
		{fmt.Errorf("wrapped: %w", deadline), true}, {errors.Join(io.EOF, timeoutErr{true}), true},
		{asTimeout{}, true}, {ErrHeartbeatTimeout, false}, {fmt.Errorf("w: %w", ErrHeartbeatTimeout), false},
	} {
		if got := isTimeout(tc.err); got != tc.want {
			t.Errorf("isTimeout(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	wrapped := fmt.Errorf("wrapped: %w", deadline)
	if n := testing.AllocsPerRun(100, func() { isTimeout(wrapped) }); n != 0 {
		t.Errorf("isTimeout: %v allocations, want 0", n)
	}
}
