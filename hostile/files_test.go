//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package hostile_test

// Attacks through the files a ZAP authenticator follows: password files and
// certificate directories that are huge, or hold FIFOs, devices, links to
// secrets, or are swapped under the reader; and floods of unknown CURVE keys
// against a directory of many certificates. An authenticator must answer
// every request at once from memory, never block on a file, never quote a
// file's content in its logs, and leave no goroutine behind once closed.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/cert"
	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// fileAuth returns an Authenticator that reloads every interval, logs
// into logs (if not nil), and is closed when the test ends.
func fileAuth(t testing.TB, interval time.Duration, logs *syncBuffer) *zap.Authenticator {
	t.Helper()
	a := zap.NewAuthenticator()
	t.Cleanup(func() { a.Close() })
	a.SetReloadInterval(interval)
	if logs != nil {
		a.SetLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	}
	return a
}

// curveAuthServer starts a CURVE server whose ZAP handler is a, and
// returns it with the config of a legitimate client whose public
// certificate is written to dir (in pyzmq's layout, as "legit.key").
func curveAuthServer(t testing.TB, a *zap.Authenticator, dir string) (srv *server, ccfg *transport.Config, serverKeys, clientKeys cert.KeyPair) {
	t.Helper()
	scfg, ccfg, serverKeys, clientKeys := curvePair(t)
	writePublicCert(t, dir, "legit.key", clientKeys.Public)
	scfg.ZAPHandler = a
	scfg.HandshakeTimeout = 2 * time.Second
	return startServer(t, scfg), ccfg, serverKeys, clientKeys
}

// strangerConfig is a CURVE client config with a fresh key, for the
// server with key server.
func strangerConfig(t testing.TB, server cert.PublicKey) *transport.Config {
	t.Helper()
	kp, err := cert.GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := mechanism.CurveClient(server, kp)
	if err != nil {
		t.Fatal(err)
	}
	return &transport.Config{SocketType: zmtp.DEALER, Mechanism: m}
}

// publicCertFile is a public certificate file as pyzmq writes it.
func publicCertFile(key cert.PublicKey) []byte {
	return []byte("#   ****  Generated on 2026-01-02 03:04:05 by pyzmq  ****\n" +
		"#   ZeroMQ CURVE Public Certificate\n" +
		"#   Exchange securely, or use a secure mechanism to verify the contents\n" +
		"#   of this file after exchange. Store public certificates in your home\n" +
		"#   directory, in the .curve subdirectory.\n\n" +
		"metadata\n" +
		"curve\n" +
		"    public-key = \"" + key.String() + "\"\n")
}

// writePublicCert writes a public certificate to dir/name the careful way
// (a dotfile renamed into place), so that no reload reads it half-written.
func writePublicCert(t testing.TB, dir, name string, key cert.PublicKey) {
	t.Helper()
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, publicCertFile(key), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

// fillCertDir writes n public certificates with keys drawn from a fixed
// seed. Only public keys are stored, so any canonical 32 bytes will do (bit
// 255 clear; a value at or above 2^255-19 is too unlikely to draw): no
// X25519 work is needed to make them.
func fillCertDir(t testing.TB, dir string, n int) {
	t.Helper()
	rng := rand.NewChaCha8([32]byte{'z', 'm', 't', 'p'})
	var wg sync.WaitGroup
	const workers = 8
	errs := make(chan error, workers)
	for w := range workers {
		var keys []cert.PublicKey
		for i := w; i < n; i += workers {
			var k cert.PublicKey
			rng.Read(k[:])
			k[31] &= 0x7f
			keys = append(keys, k)
		}
		wg.Go(func() {
			for i, k := range keys {
				name := fmt.Sprintf("c%06d.key", i*workers+w)
				if err := os.WriteFile(filepath.Join(dir, name), publicCertFile(k), 0o644); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
}

// randomKeyRequest is a CURVE ZAP request for a fresh random key, as from
// an attacker with a new key each time.
func randomKeyRequest(rng *rand.ChaCha8) *zap.Request {
	var k cert.PublicKey
	rng.Read(k[:])
	return &zap.Request{Version: zap.Version, RequestID: []byte("1"), Address: attackerIP,
		Mechanism: "CURVE", Credentials: [][]byte{k[:]}}
}

func curveRequest(k cert.PublicKey) *zap.Request {
	return &zap.Request{Version: zap.Version, RequestID: []byte("1"), Address: legitIP,
		Mechanism: "CURVE", Credentials: [][]byte{k[:]}}
}

// status asks a directly and returns the reply's status.
func status(a *zap.Authenticator, req *zap.Request) zap.StatusCode {
	rep, _ := a.Authenticate(context.Background(), req)
	return rep.StatusCode
}

// unknownKeyFlood runs workers goroutines that send ZAP requests for random
// keys to a until stop is closed, and returns the count when they end.
func unknownKeyFlood(t testing.TB, a *zap.Authenticator, workers int, stop <-chan struct{}) func() int64 {
	var n atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.NewChaCha8([32]byte{byte(w), 'f'})
			for {
				select {
				case <-stop:
					return
				default:
				}
				if s := status(a, randomKeyRequest(rng)); s != zap.StatusAuthenticationError {
					t.Errorf("unknown key: status %d, want 400", s)
					return
				}
				n.Add(1)
			}
		})
	}
	return func() int64 { wg.Wait(); return n.Load() }
}

// certDirFlood is the scale test: a directory of n certificates, an
// authenticator following it at the default reload interval, and a flood
// of unknown keys, both straight at the authenticator (one goroutine per
// core) and through CURVE handshakes from attackerIP, while a legitimate
// key logs in, a certificate is added and another removed.
func certDirFlood(t *testing.T, n int, staleness time.Duration) {
	leakCheck(t)
	dir := t.TempDir()
	start := time.Now()
	fillCertDir(t, dir, n)
	written := time.Now()
	t.Logf("%d certificate files written in %v", n, written.Sub(start))
	gone, err := cert.GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	writePublicCert(t, dir, "gone.key", gone.Public)

	a := fileAuth(t, 0, nil) // the default interval
	srv, ccfg, serverKeys, legitKeys := curveAuthServer(t, a, dir)
	// Files changed within cert.RecentWindow are read again by every
	// scan (their times cannot be trusted yet); measure the steady state.
	time.Sleep(time.Until(written.Add(cert.RecentWindow)))
	start = time.Now()
	if err := a.ConfigureCurve("*", dir); err != nil {
		t.Fatal(err)
	}
	t.Logf("first load of %d certificates: %v", n+2, time.Since(start))
	var scan time.Duration
	for range 3 {
		start = time.Now()
		if err := a.Reload(); err != nil {
			t.Fatal(err)
		}
		scan = max(scan, time.Since(start))
	}
	t.Logf("full rescan of %d unchanged certificates: %v (longest of 3)", n+2, scan)
	// The bound on staleness is about spacing, not speed: on a machine so
	// loaded that a quiet rescan already takes seconds, the listings that
	// see changes are spaced out in proportion.
	staleness = max(staleness, 8*scan)

	mem := watchMemory()
	stop := make(chan struct{})
	var stopOnce sync.Once
	halt := func() { stopOnce.Do(func() { close(stop) }) }
	t.Cleanup(halt) // after a Fatal
	flooded := unknownKeyFlood(t, a, runtime.GOMAXPROCS(0), stop)

	// CURVE handshakes from attackerIP with fresh keys: refused by ZAP.
	var attacks sync.WaitGroup
	var refused atomic.Int64
	attacks.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			nc, err := dialFrom(t, attackerIP, srv.endpoint)
			if err != nil {
				return
			}
			c := transport.Client(nc, strangerConfig(t, serverKeys.Public))
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			err = c.HandshakeContext(ctx)
			cancel()
			c.Close()
			var pe *mechanism.PeerError
			if errors.As(err, &pe) && pe.Status() == zap.StatusAuthenticationError {
				refused.Add(1)
			}
		}
	})

	// A certificate added and another removed during the flood.
	late, err := cert.GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	writePublicCert(t, dir, "late.key", late.Public)
	if err := os.Remove(filepath.Join(dir, "gone.key")); err != nil {
		t.Fatal(err)
	}
	changed := time.Now()

	var lookups []time.Duration
	var seenLate, seenGone time.Duration
	floodEnd := time.Now().Add(1500 * time.Millisecond)
	for time.Now().Before(floodEnd) || seenLate == 0 || seenGone == 0 {
		t0 := time.Now()
		if s := status(a, curveRequest(legitKeys.Public)); s != zap.StatusOK {
			t.Fatalf("legitimate key: status %d", s)
		}
		lookups = append(lookups, time.Since(t0))
		if seenLate == 0 && status(a, curveRequest(late.Public)) == zap.StatusOK {
			seenLate = time.Since(changed)
		}
		if seenGone == 0 && status(a, curveRequest(gone.Public)) == zap.StatusAuthenticationError {
			seenGone = time.Since(changed)
		}
		if time.Since(changed) > staleness {
			t.Fatalf("after %v, added certificate seen after %v, removed one after %v (0: not yet)",
				staleness, seenLate, seenGone)
		}
		time.Sleep(5 * time.Millisecond)
	}
	logins := make([]time.Duration, 3)
	for i := range logins {
		if logins[i], err = legit(t, srv.endpoint, ccfg, 5*time.Second); err != nil {
			t.Fatalf("legitimate client not served during the flood (after %v): %v", logins[i], err)
		}
	}
	halt()
	total := flooded()
	attacks.Wait()
	assertGrowth(t, mem, uint64(n)*1024+64<<20)

	slices.Sort(lookups)
	p99 := lookups[len(lookups)*99/100]
	// The bound is on p95: a run makes about a hundred lookups, of which
	// p99 is the slowest one, a single scheduler pause on a loaded
	// machine; the slowest has its own, wider bound below.
	p95 := lookups[len(lookups)*95/100]
	t.Logf("flood: %d unknown-key requests answered, %d CURVE handshakes refused by ZAP", total, refused.Load())
	t.Logf("legitimate key during the flood: %d lookups, median %v, p99 %v, slowest %v; CURVE logins through transport %v",
		len(lookups), lookups[len(lookups)/2], p99, lookups[len(lookups)-1], logins)
	t.Logf("during the flood: added certificate accepted after %v, removed one refused after %v", seenLate, seenGone)
	// Each lookup is a map read; what remains is the scheduler of a
	// loaded 2-core machine under -race. Before the index, every unknown
	// key rescanned the directory under a lock (0.3 s at 10,000 files),
	// and a legitimate key queued behind them for seconds.
	// On a machine loaded by other jobs the scheduler's delays grow with
	// everything else; the bounds scale with the quiet rescan measured
	// above (about 1 s at 100,000 files on an idle machine), never below
	// their base.
	p95Bound := max(50*time.Millisecond, scan/40)
	slowBound := max(250*time.Millisecond, scan/5)
	if p95 > p95Bound || lookups[len(lookups)-1] > slowBound {
		t.Errorf("legitimate lookups during the flood: p95 %v, slowest %v; want under %v and %v",
			p95, lookups[len(lookups)-1], p95Bound, slowBound)
	}
	if total == 0 || refused.Load() == 0 {
		t.Error("the flood sent nothing")
	}
}

// TestFileCertDirFlood10k: 10,000 certificates; changes seen within 3 s
// (about one 1 s interval, under -race on a loaded machine).
func TestFileCertDirFlood10k(t *testing.T) { certDirFlood(t, 10_000, 3*time.Second) }

// TestFileCertDirFlood100k: 100,000 certificates; the listing that sees
// additions and removals then takes long enough under -race for the cost
// bound to space it out to a few seconds.
func TestFileCertDirFlood100k(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 files: not in -short")
	}
	certDirFlood(t, 100_000, 10*time.Second)
}

// within runs f and fails the test if it does not return within d: nothing
// an authenticator does may block on a file.
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s blocked for %v", what, d)
	}
}

// fileCase is the common setup of the file attacks: an authenticator that
// reloads every 20 ms and follows dir for CURVE, and a CURVE server that
// asks it, with a legitimate client whose certificate is in dir.
type fileCase struct {
	a    *zap.Authenticator
	dir  string
	srv  *server
	ccfg *transport.Config
	keys cert.KeyPair // the legitimate client's
	logs *syncBuffer
	mem  *memWatch
}

func newFileCase(t *testing.T) *fileCase {
	t.Helper()
	leakCheck(t)
	fc := &fileCase{dir: t.TempDir(), logs: &syncBuffer{}}
	fc.a = fileAuth(t, 20*time.Millisecond, fc.logs)
	fc.srv, fc.ccfg, _, fc.keys = curveAuthServer(t, fc.a, fc.dir)
	if err := fc.a.ConfigureCurve("*", fc.dir); err != nil {
		t.Fatal(err)
	}
	fc.mem = watchMemory()
	return fc
}

// reload runs a.Reload, which must return within a second, and returns
// its error.
func (fc *fileCase) reload(t *testing.T) (err error) {
	t.Helper()
	within(t, time.Second, "Reload", func() { err = fc.a.Reload() })
	return err
}

// finish checks that the legitimate client is served and by ZAP directly,
// and that memory stayed bounded.
func (fc *fileCase) finish(t *testing.T) {
	t.Helper()
	within(t, time.Second, "a ZAP request", func() {
		if s := status(fc.a, curveRequest(fc.keys.Public)); s != zap.StatusOK {
			t.Errorf("legitimate key: status %d", s)
		}
	})
	mustLegit(t, fc.srv.endpoint, fc.ccfg, 3*time.Second)
	assertGrowth(t, fc.mem, 32<<20)
}

func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatalf("mkfifo: %v", err)
	}
}

// TestFileCertDirFIFO: a FIFO appears in the certificate directory (a
// plain open for reading would wait for a writer forever). It is skipped,
// as anything but a regular file is.
func TestFileCertDirFIFO(t *testing.T) {
	fc := newFileCase(t)
	mkfifo(t, filepath.Join(fc.dir, "fifo.key"))
	if err := fc.reload(t); err != nil {
		t.Errorf("Reload: %v, want nil (a FIFO is skipped)", err)
	}
	time.Sleep(60 * time.Millisecond) // background reloads meet it too
	fc.finish(t)
}

// TestFileCertDirLinkToFIFO: a symbolic link in the directory points to a
// FIFO elsewhere.
func TestFileCertDirLinkToFIFO(t *testing.T) {
	fc := newFileCase(t)
	fifo := filepath.Join(t.TempDir(), "fifo")
	mkfifo(t, fifo)
	if err := os.Symlink(fifo, filepath.Join(fc.dir, "link.key")); err != nil {
		t.Fatal(err)
	}
	if err := fc.reload(t); err != nil {
		t.Errorf("Reload: %v, want nil (a link to a FIFO is skipped)", err)
	}
	if _, _, err := cert.ReadFile(filepath.Join(fc.dir, "link.key"), 1<<10); !errors.Is(err, cert.ErrNotRegular) {
		t.Errorf("cert.ReadFile of the link: %v, want cert.ErrNotRegular", err)
	}
	fc.finish(t)
}

// TestFileCertDirLinkToDevice: links to /dev/zero (endless zeros),
// /dev/urandom and /dev/null.
func TestFileCertDirLinkToDevice(t *testing.T) {
	fc := newFileCase(t)
	for _, dev := range []string{"/dev/zero", "/dev/urandom", "/dev/null"} {
		if err := os.Symlink(dev, filepath.Join(fc.dir, filepath.Base(dev)+".key")); err != nil {
			t.Fatal(err)
		}
		if _, _, err := cert.ReadFile(dev, 1<<10); !errors.Is(err, cert.ErrNotRegular) {
			t.Errorf("cert.ReadFile(%s): %v, want cert.ErrNotRegular", dev, err)
		}
	}
	if err := fc.reload(t); err != nil {
		t.Errorf("Reload: %v, want nil (devices are skipped)", err)
	}
	fc.finish(t)
}

// TestFileCertDirFIFOSwappedIn renames a FIFO and a certificate in turn
// over one name while the directory is reloaded: whatever a reload finds
// between its stat and its open, it must not block.
func TestFileCertDirFIFOSwappedIn(t *testing.T) {
	fc := newFileCase(t)
	other, err := cert.GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	spare := t.TempDir()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			tmp := filepath.Join(spare, "tmp")
			if i%2 == 0 {
				if err := syscall.Mkfifo(tmp, 0o600); err != nil {
					t.Error(err)
					return
				}
			} else if err := os.WriteFile(tmp, publicCertFile(other.Public), 0o644); err != nil {
				t.Error(err)
				return
			}
			// spare is on the same file system as fc.dir (both in TMPDIR).
			if err := os.Rename(tmp, filepath.Join(fc.dir, "swap.key")); err != nil {
				t.Error(err)
				return
			}
		}
	})
	var notRegular int
	for range 200 {
		err := fc.reload(t)
		switch {
		case err == nil:
		case errors.Is(err, cert.ErrNotRegular):
			notRegular++ // the FIFO came between stat and open
		default:
			var pe *cert.ParseError
			if !errors.As(err, &pe) { // a certificate read half-written
				t.Errorf("Reload: %v", err)
			}
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("200 reloads; %d met the FIFO after their stat", notRegular)
	fc.finish(t)
}

// TestFileCertDirSecretLink links a file that is not a certificate (a
// secret token) into the directory: the parse error names the file, line
// and column, and neither it nor the log quotes the file.
func TestFileCertDirSecretLink(t *testing.T) {
	fc := newFileCase(t)
	secret := filepath.Join(t.TempDir(), "token")
	const token = "hunter2-SECRET-TOKEN"
	for _, tt := range []struct {
		content   string
		line, col int
	}{
		{token + " rest of the line\n", 1, 22},
		{token + "\n", 0, 0}, // a name line: no curve/public-key
		{"curve\n    public-key = \"" + token + "xxxxxxxxxxxxxxxxxxx\"\n", 2, 19}, // 39 characters
		{"curve\n    public-key = " + token + "~xxxxxxxxxxxxxxxxxxx\n", 2, 38},    // not Z85
	} {
		content := tt.content
		if err := os.WriteFile(secret, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(fc.dir, "token.key")
		os.Remove(link)
		if err := os.Symlink(secret, link); err != nil {
			t.Fatal(err)
		}
		err := fc.reload(t)
		var pe *cert.ParseError
		if !errors.As(err, &pe) || pe.Path != link || pe.Line != tt.line || pe.Column != tt.col {
			t.Fatalf("Reload: %v, want a *cert.ParseError for %s at %d:%d", err, link, tt.line, tt.col)
		}
		if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "TOKEN") {
			t.Errorf("error quotes the file: %v", err)
		}
		// Known keys still pass; an unknown key may be in the broken file.
		if s := status(fc.a, curveRequest(fc.keys.Public)); s != zap.StatusOK {
			t.Errorf("legitimate key beside a broken file: %d", s)
		}
		var k cert.PublicKey
		if s := status(fc.a, curveRequest(k)); s != zap.StatusInternalError {
			t.Errorf("unknown key beside a broken file: %d, want 500", s)
		}
	}
	time.Sleep(60 * time.Millisecond) // background reloads log too
	logs := fc.logs.String()
	if !strings.Contains(logs, "token.key:") {
		t.Errorf("the log does not name the file:\n%s", logs)
	}
	if strings.Contains(logs, "hunter2") || strings.Contains(logs, "TOKEN") {
		t.Errorf("the log quotes the file:\n%s", logs)
	}
	os.Remove(filepath.Join(fc.dir, "token.key"))
	if err := fc.reload(t); err != nil {
		t.Errorf("Reload after the link went: %v", err)
	}
	fc.finish(t)
}

// TestFileCertDirHugeFile puts a 1 TiB (sparse) file in the directory: it
// is refused by its size, without a byte read.
func TestFileCertDirHugeFile(t *testing.T) {
	fc := newFileCase(t)
	huge := filepath.Join(fc.dir, "huge.key")
	if err := os.WriteFile(huge, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(huge, 1<<40); err != nil {
		t.Skip("no sparse files here:", err)
	}
	err := fc.reload(t)
	if !errors.Is(err, cert.ErrFileTooLarge) {
		t.Errorf("Reload: %v, want cert.ErrFileTooLarge", err)
	}
	// A file that grows past the limit between stat and read is cut off
	// by the read itself.
	if _, _, err := cert.ReadFile(huge, cert.MaxFileSize); !errors.Is(err, cert.ErrFileTooLarge) {
		t.Errorf("cert.ReadFile: %v, want cert.ErrFileTooLarge", err)
	}
	fc.finish(t)
}

// TestFileCertDirReplaced replaces the directory by a regular file, then
// by a FIFO: every request fails closed (500) at once, and the directory
// coming back is served again.
func TestFileCertDirReplaced(t *testing.T) {
	fc := newFileCase(t)
	saved := filepath.Join(t.TempDir(), "saved")
	if err := os.Rename(fc.dir, saved); err != nil {
		t.Fatal(err)
	}
	for _, make := range []func(string) error{
		func(p string) error { return os.WriteFile(p, publicCertFile(fc.keys.Public), 0o644) },
		func(p string) error { return syscall.Mkfifo(p, 0o600) },
	} {
		if err := make(fc.dir); err != nil {
			t.Fatal(err)
		}
		if err := fc.reload(t); !errors.Is(err, syscall.ENOTDIR) {
			t.Errorf("Reload: %v, want ENOTDIR", err)
		}
		if s := status(fc.a, curveRequest(fc.keys.Public)); s != zap.StatusInternalError {
			t.Errorf("legitimate key with no directory: %d, want 500 (fail closed)", s)
		}
		_, err := legit(t, fc.srv.endpoint, fc.ccfg, 3*time.Second)
		var pe *mechanism.PeerError
		if !errors.As(err, &pe) || pe.Status() != zap.StatusInternalError {
			t.Errorf("legitimate client with no directory: %v, want ERROR 500", err)
		}
		if err := os.Remove(fc.dir); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Rename(saved, fc.dir); err != nil {
		t.Fatal(err)
	}
	if err := fc.reload(t); err != nil {
		t.Errorf("Reload with the directory back: %v", err)
	}
	fc.finish(t)
}

// plainCase adds to a fileCase a PLAIN password file for the domain "*"
// and a PLAIN server that asks the same authenticator.
func plainCase(t *testing.T, fc *fileCase) (path string, srv *server, ccfg *transport.Config) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "passwords")
	if err := os.WriteFile(path, []byte("alice=wonderland\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := fc.a.ConfigurePlainFile("*", path); err != nil {
		t.Fatal(err)
	}
	srv = startServer(t, &transport.Config{SocketType: zmtp.ROUTER, Mechanism: mechanism.PlainServer(),
		ZAPHandler: fc.a, HandshakeTimeout: 2 * time.Second})
	cm, err := mechanism.PlainClient("alice", "wonderland")
	if err != nil {
		t.Fatal(err)
	}
	return path, srv, &transport.Config{SocketType: zmtp.DEALER, Mechanism: cm}
}

func plainRequest(user, password string) *zap.Request {
	return &zap.Request{Version: zap.Version, RequestID: []byte("1"), Address: attackerIP,
		Mechanism: "PLAIN", Credentials: [][]byte{[]byte(user), []byte(password)}}
}

// TestFilePasswordFIFO configures a FIFO as the password file: refused at
// once with cert.ErrNotRegular.
func TestFilePasswordFIFO(t *testing.T) {
	fc := newFileCase(t)
	fifo := filepath.Join(t.TempDir(), "passwords")
	mkfifo(t, fifo)
	var err error
	within(t, time.Second, "ConfigurePlainFile", func() { err = fc.a.ConfigurePlainFile("*", fifo) })
	if !errors.Is(err, cert.ErrNotRegular) {
		t.Errorf("ConfigurePlainFile(FIFO): %v, want cert.ErrNotRegular", err)
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(fifo, link); err != nil {
		t.Fatal(err)
	}
	within(t, time.Second, "ConfigurePlainFile", func() { err = fc.a.ConfigurePlainFile("*", link) })
	if !errors.Is(err, cert.ErrNotRegular) {
		t.Errorf("ConfigurePlainFile(link to a FIFO): %v, want cert.ErrNotRegular", err)
	}
	fc.finish(t)
}

// TestFilePasswordReplacedByFIFO renames a FIFO over the password file
// while PLAIN requests flow: they get 500 within a reload interval and
// never wait; a CURVE client is served throughout; the file coming back
// is served again.
func TestFilePasswordReplacedByFIFO(t *testing.T) {
	fc := newFileCase(t)
	path, psrv, pcfg := plainCase(t, fc)
	mustLegit(t, psrv.endpoint, pcfg, 3*time.Second)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var answered, failedClosed atomic.Int64
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				switch status(fc.a, plainRequest("alice", "wonderland")) {
				case zap.StatusOK:
				case zap.StatusInternalError:
					failedClosed.Add(1)
				default:
					t.Error("PLAIN request: neither 200 nor 500")
				}
				answered.Add(1)
			}
		})
	}
	fifo := filepath.Join(filepath.Dir(path), "fifo")
	mkfifo(t, fifo)
	if err := os.Rename(fifo, path); err != nil {
		t.Fatal(err)
	}
	replaced := time.Now()
	for status(fc.a, plainRequest("alice", "wonderland")) != zap.StatusInternalError {
		if time.Since(replaced) > 2*time.Second {
			t.Fatal("the FIFO was not noticed within 2 s")
		}
		time.Sleep(time.Millisecond)
	}
	t.Logf("PLAIN requests fail closed %v after the FIFO came", time.Since(replaced))
	if err := fc.reload(t); !errors.Is(err, cert.ErrNotRegular) {
		t.Errorf("Reload: %v, want cert.ErrNotRegular", err)
	}
	mustLegit(t, fc.srv.endpoint, fc.ccfg, 3*time.Second) // CURVE is not affected
	_, err := legit(t, psrv.endpoint, pcfg, 3*time.Second)
	var pe *mechanism.PeerError
	if !errors.As(err, &pe) || pe.Status() != zap.StatusInternalError {
		t.Errorf("PLAIN client while the file is a FIFO: %v, want ERROR 500", err)
	}

	tmp := filepath.Join(filepath.Dir(path), "tmp")
	if err := os.WriteFile(tmp, []byte("alice=wonderland\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	if err := fc.reload(t); err != nil {
		t.Errorf("Reload with the file back: %v", err)
	}
	mustLegit(t, psrv.endpoint, pcfg, 3*time.Second)
	close(stop)
	wg.Wait()
	t.Logf("%d PLAIN requests answered, %d failed closed", answered.Load(), failedClosed.Load())
	fc.finish(t)
}

// TestFilePasswordHuge replaces the password file by a 1 TiB sparse file:
// refused by its size, nothing read, memory flat.
func TestFilePasswordHuge(t *testing.T) {
	fc := newFileCase(t)
	path, _, _ := plainCase(t, fc)
	tmp := filepath.Join(filepath.Dir(path), "tmp")
	if err := os.WriteFile(tmp, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(tmp, 1<<40); err != nil {
		t.Skip("no sparse files here:", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	if err := fc.reload(t); !errors.Is(err, cert.ErrFileTooLarge) {
		t.Errorf("Reload: %v, want cert.ErrFileTooLarge", err)
	}
	if s := status(fc.a, plainRequest("alice", "wonderland")); s != zap.StatusInternalError {
		t.Errorf("PLAIN with a huge file: %d, want 500", s)
	}
	fc.finish(t)
}
