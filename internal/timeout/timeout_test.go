package timeout

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

// TestOf: Of finds what errors.As finds for a target of
// interface{ Timeout() bool }, and allocates nothing.
func TestOf(t *testing.T) {
	deadline := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	for _, err := range []error{
		nil, io.EOF, deadline, timeoutErr{false}, timeoutErr{true},
		fmt.Errorf("wrapped: %w", deadline), fmt.Errorf("twice: %w", fmt.Errorf("once: %w", timeoutErr{true})),
		errors.Join(io.EOF, timeoutErr{false}, timeoutErr{true}), errors.Join(nil, io.EOF),
		fmt.Errorf("%w and %w", io.ErrUnexpectedEOF, deadline), asTimeout{}, fmt.Errorf("w: %w", asTimeout{}),
		&net.OpError{Op: "read", Net: "tcp", Err: io.EOF},
	} {
		var want interface{ Timeout() bool }
		wantOK := errors.As(err, &want)
		got, ok := Of(err)
		if ok != wantOK || got != want {
			t.Errorf("Of(%v) = %v, %v; errors.As finds %v, %v", err, got, ok, want, wantOK)
		}
		if Is(err) != (wantOK && want.Timeout()) {
			t.Errorf("Is(%v) = %v", err, Is(err))
		}
	}
	wrapped := fmt.Errorf("wrapped: %w", deadline)
	if n := testing.AllocsPerRun(100, func() { Is(wrapped) }); n != 0 {
		t.Errorf("Is: %v allocations, want 0", n)
	}
}
