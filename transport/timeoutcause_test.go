// Copyright 2026 The zmtpsec Authors. All rights reserved.

package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// errFromKDC stands for a mechanism's own failure that wraps the
// context's error (GSSAPI's ticket request giving up at the deadline).
var errFromKDC = errors.New("gssapi: KDC unreachable")

// TestOutOfTimeKeepsTheCause: when the handshake's time runs out in a
// mechanism's own work, the error is still a handshake timeout (Timeout,
// ErrHandshakeTimeout, context.DeadlineExceeded) and also names that work
// (errors.Is finds its error); a read cut off by the deadline, or the
// context's bare error, stays the plain timeout it was.
func TestOutOfTimeKeepsTheCause(t *testing.T) {
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	<-ctx.Done()

	mech := &HandshakeError{Step: StepSecurity, Err: fmt.Errorf("%w: realm %q: %w", errFromKDC, "ZMTP.TEST", ctx.Err())}
	err := outOfTime(ctx, StepSecurity, mech)
	var he *HandshakeError
	if !errors.As(err, &he) || !he.Timeout() {
		t.Fatalf("outOfTime = %v, want a *HandshakeError that timed out", err)
	}
	for _, target := range []error{ErrHandshakeTimeout, context.DeadlineExceeded, errFromKDC} {
		if !errors.Is(err, target) {
			t.Errorf("errors.Is(%v, %v) = false", err, target)
		}
	}
	if msg := err.Error(); !strings.Contains(msg, "timed out in security handshake") || !strings.Contains(msg, "KDC unreachable") {
		t.Errorf("message %q does not say both", msg)
	}

	for _, plain := range []error{
		&net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded},
		ctx.Err(),
	} {
		err := outOfTime(ctx, StepSecurity, &HandshakeError{Step: StepSecurity, Err: plain})
		if !errors.As(err, &he) || he.Err != ErrHandshakeTimeout {
			t.Errorf("outOfTime(%v) = %#v, want the plain ErrHandshakeTimeout", plain, err)
		}
	}
}
