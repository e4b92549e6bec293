//go:build linux || darwin

package zap

import (
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/cert"
)

// TestPasswordFileFIFO replaces the password file by a FIFO: the reload
// returns at once with cert.ErrNotRegular, and requests get 500 without
// blocking.
func TestPasswordFileFIFO(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "passwords", "u=p\n")
	a := newAuth(t)
	if err := a.ConfigurePlainFile("*", path); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skip("no FIFOs:", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := a.Reload(); !errors.Is(err, cert.ErrNotRegular) {
			t.Errorf("Reload: %v, want cert.ErrNotRegular", err)
		}
		if got := decide(t, a, plainReq("", "::1", "u", "p")); !same(got, internal) {
			t.Errorf("FIFO: %+v, want %+v", got, internal)
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("blocked on the FIFO")
	}
}
