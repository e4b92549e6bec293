package transport

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
)

// TestIsTimeout: isTimeout is a timeout as internal/timeout finds it in the
// error tree (tested there), except a heartbeat timeout: the connection is
// over and the read may not be retried. It allocates nothing.
func TestIsTimeout(t *testing.T) {
	deadline := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false}, {io.EOF, false}, {deadline, true}, {fmt.Errorf("wrapped: %w", deadline), true},
		{errors.Join(io.EOF, deadline), true},
		{ErrHeartbeatTimeout, false}, {fmt.Errorf("w: %w", ErrHeartbeatTimeout), false},
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
