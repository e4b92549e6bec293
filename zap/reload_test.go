package zap

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/cert"
	"github.com/zmtpsec/zmtpsec/internal/testhelp/testkeys"
)

// goroutinesBack waits for the goroutine count to come back to n.
func goroutinesBack(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, want %d", runtime.NumGoroutine(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestNoGoroutineWithoutFiles(t *testing.T) {
	before := runtime.NumGoroutine()
	a := NewAuthenticator()
	a.ConfigurePlain("*", map[string]string{"u": "p"})
	if err := a.ConfigureCurve("*", CurveAllowAny); err != nil {
		t.Fatal(err)
	}
	a.SetReloadInterval(time.Millisecond)
	if err := a.Reload(); err != nil {
		t.Fatal(err)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines, want %d", n, before)
	}
	var zero Authenticator
	zero.ConfigurePlain("*", nil)
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("zero value: %d goroutines, want %d", n, before)
	}
}

func TestClose(t *testing.T) {
	before := runtime.NumGoroutine()
	dir := t.TempDir()
	kp := testkeys.FromSeed(t, 61)
	saveCert(t, dir, "c", cert.LayoutPyzmq, kp)
	pw := writeFile(t, t.TempDir(), "passwords", "u=p\n")

	a := NewAuthenticator()
	a.SetReloadInterval(time.Millisecond)
	if err := a.ConfigureCurve("*", dir); err != nil {
		t.Fatal(err)
	}
	if err := a.ConfigurePlainFile("file", pw); err != nil {
		t.Fatal(err)
	}
	a.ConfigurePlain("*", map[string]string{"u": "p"})
	if err := a.ConfigureCurve("open", CurveAllowAny); err != nil {
		t.Fatal(err)
	}
	a.mu.RLock()
	running := a.refresher != nil
	a.mu.RUnlock()
	if !running {
		t.Error("no refresher with files configured")
	}
	time.Sleep(20 * time.Millisecond) // let it reload a few times
	if got := decide(t, a, curveReq("", "::1", kp.Public)); !same(got, ok(kp.Public.String())) {
		t.Errorf("before Close: %+v", got)
	}
	for range 2 { // idempotent
		if err := a.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	goroutinesBack(t, before)

	// Files are no longer followed: their domains fail closed; the
	// others are served.
	if got := decide(t, a, curveReq("", "::1", kp.Public)); !same(got, internal) {
		t.Errorf("CURVE from a directory after Close: %+v, want %+v", got, internal)
	}
	if got := decide(t, a, plainReq("file", "::1", "u", "p")); !same(got, internal) {
		t.Errorf("PLAIN from a file after Close: %+v, want %+v", got, internal)
	}
	if got := decide(t, a, plainReq("", "::1", "u", "p")); !same(got, ok("u")) {
		t.Errorf("PLAIN from a map after Close: %+v", got)
	}
	if got := decide(t, a, curveReq("open", "::1", kp.Public)); !same(got, ok(kp.Public.String())) {
		t.Errorf("CURVE allow any after Close: %+v", got)
	}
	if err := a.ConfigureCurve("*", dir); !errors.Is(err, ErrClosed) {
		t.Errorf("ConfigureCurve after Close: %v, want ErrClosed", err)
	}
	if err := a.ConfigurePlainFile("*", pw); !errors.Is(err, ErrClosed) {
		t.Errorf("ConfigurePlainFile after Close: %v, want ErrClosed", err)
	}
	goroutinesBack(t, before)
}

// TestCertificateDirectoryFollowedInBackground checks that an added and a
// removed certificate reach requests within about one reload interval.
func TestCertificateDirectoryFollowedInBackground(t *testing.T) {
	dir := t.TempDir()
	k1, k2 := testkeys.FromSeed(t, 71), testkeys.FromSeed(t, 72)
	saveCert(t, dir, "one", cert.LayoutPyzmq, k1)
	a := newAuth(t)
	a.SetReloadInterval(20 * time.Millisecond)
	if err := a.ConfigureCurve("*", dir); err != nil {
		t.Fatal(err)
	}
	waitFor := func(what string, kp cert.KeyPair, want outcome) {
		t.Helper()
		start := time.Now()
		for !same(decide(t, a, curveReq("", "::1", kp.Public)), want) {
			if time.Since(start) > 2*time.Second {
				t.Fatalf("%s: not seen within 2 s", what)
			}
			time.Sleep(2 * time.Millisecond)
		}
		t.Logf("%s: seen after %v", what, time.Since(start))
	}
	saveCert(t, dir, "two", cert.LayoutPyzmq, k2)
	waitFor("added", k2, ok(k2.Public.String()))
	if err := os.Remove(filepath.Join(dir, "one.key")); err != nil {
		t.Fatal(err)
	}
	waitFor("removed", k1, no("Unknown key"))
}

// TestReloadScheduleBoundsCost checks that a slow reload pushes the next
// one back by ten times its duration, and that a short interval applies.
func TestReloadScheduleBoundsCost(t *testing.T) {
	var p poller
	p.interval.Store(int64(time.Millisecond))
	start := time.Now()
	p.run(func() { time.Sleep(10 * time.Millisecond) })
	if next := time.Unix(0, p.next.Load()); next.Sub(start) < 100*time.Millisecond {
		t.Errorf("next reload %v after the start of a 10 ms reload, want at least 100 ms", next.Sub(start))
	}
	p.interval.Store(int64(time.Hour))
	p.run(func() {})
	if next := time.Unix(0, p.next.Load()); time.Until(next) < 59*time.Minute {
		t.Errorf("next reload in %v, want an hour", time.Until(next))
	}
	p.setInterval(time.Second)
	if next := time.Unix(0, p.next.Load()); time.Until(next) > time.Second {
		t.Errorf("after setInterval(1s), next reload in %v", time.Until(next))
	}
}
