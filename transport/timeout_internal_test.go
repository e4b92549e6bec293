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

// TestTimeoutOf: timeoutOf finds what errors.As finds for a target of
// interface{ Timeout() bool }, and allocates nothing.
func TestTimeoutOf(t *testing.T) {
	deadline := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	for _, err := range []error{
		nil, io.EOF, deadline, timeoutErr{false}, timeoutErr{true},
		fmt.Errorf("wrapped: %w", deadline), fmt.Errorf("twice: %w", fmt.Errorf("once: %w", timeoutErr{true})),
		errors.Join(io.EOF, timeoutErr{false}, timeoutErr{true}), errors.Join(nil, io.EOF),
		fmt.Errorf("%w and %w", io.ErrUnexpectedEOF, deadline), asTimeout{}, fmt.Errorf("w: %w", asTimeout{}),
		&net.OpError{Op: "read", Net: "tcp", Err: io.EOF}, ErrHeartbeatTimeout, fmt.Errorf("w: %w", ErrHeartbeatTimeout),
	} {
		var want interface{ Timeout() bool }
		wantOK := errors.As(err, &want)
		got, ok := timeoutOf(err)
		if ok != wantOK || got != want {
			t.Errorf("timeoutOf(%v) = %v, %v; errors.As finds %v, %v", err, got, ok, want, wantOK)
		}
		if isTimeout(err) != (wantOK && want.Timeout() && !errors.Is(err, ErrHeartbeatTimeout)) {
			t.Errorf("isTimeout(%v) = %v", err, isTimeout(err))
		}
	}
	wrapped := fmt.Errorf("wrapped: %w", deadline)
	if n := testing.AllocsPerRun(100, func() { isTimeout(wrapped) }); n != 0 {
		t.Errorf("isTimeout: %v allocations, want 0", n)
	}
}
