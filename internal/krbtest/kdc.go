package krbtest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// kdc is a krb5kdc process started by this package.
type kdc struct {
	cmd     *exec.Cmd
	exited  chan struct{} // closed once the process has been reaped
	waitErr error         // what Wait returned; read only after exited is closed
	release chan struct{} // closed by stop: the forking thread may go
}

// Ports are chosen in [portLow, portLow+portSpan): high, and below Linux's
// default ephemeral range (32768-60999), so that a port given to some
// outgoing connection or "listen on port 0" between our check and the
// KDC's bind is unlikely.
const (
	portLow   = 20000
	portSpan  = 12000
	portTries = 50
)

// freePort returns a port on which both a TCP listener and a UDP socket
// could be bound on 127.0.0.1 just now.
func freePort() (int, error) {
	for range portTries {
		port := portLow + rand.IntN(portSpan)
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		tl, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		ul, err := net.ListenPacket("udp", addr)
		tl.Close()
		if err != nil {
			continue
		}
		ul.Close()
		return port, nil
	}
	return 0, fmt.Errorf("krbtest: no port free for both TCP and UDP on 127.0.0.1 in %d-%d after %d tries",
		portLow, portLow+portSpan-1, portTries)
}

// errPortTaken is returned by launch when the KDC could not bind its port.
var errPortTaken = errors.New("krbtest: the KDC's port was taken")

// startKDC starts the KDC and waits until it listens, moving to another
// port when the one chosen was taken meanwhile.
func (r *Realm) startKDC(t tools) error {
	var err error
	for attempt := range startAttempts {
		if attempt > 0 {
			port, perr := freePort()
			if perr != nil {
				return perr
			}
			if werr := r.writeConfigs(port); werr != nil {
				return werr
			}
		}
		var k *kdc
		if k, err = r.launch(t); err == nil {
			r.kdc = k
			return nil
		}
		if !errors.Is(err, errPortTaken) {
			return err
		}
	}
	return err
}

// launch starts krb5kdc in the foreground (-n) as a child of this process
// and waits, within startTimeout, until its log says it serves and a TCP
// connection to its port succeeds.
func (r *Realm) launch(t tools) (*kdc, error) {
	logStart := fileSize(r.KDCLog)
	stderr, err := os.OpenFile(r.KDCStderr, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("krbtest: %w", err)
	}
	pidFile := filepath.Join(r.Dir, "kdc.pid")
	os.Remove(pidFile)
	cmd := exec.Command(t.krb5kdc, "-n", "-r", r.Name, "-P", pidFile)
	cmd.Dir = r.Dir
	cmd.Env = r.childEnv()
	cmd.Stdout = stderr
	cmd.Stderr = stderr
	cmd.SysProcAttr = sysProcAttr()
	k := &kdc{cmd: cmd, exited: make(chan struct{}), release: make(chan struct{})}

	// On Linux the KDC gets SIGKILL when the thread that forked it ends
	// (sysProcAttr), so that a test binary that dies without cleaning up
	// (a -timeout panic, a kill) leaves no KDC behind. Go may end a thread
	// only when a goroutine locked to it returns, so the fork happens on
	// a thread locked by a goroutine that waits until stop is done.
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		<-k.release
	}()
	err = <-started
	stderr.Close() // the child has its own copy
	if err != nil {
		return nil, fmt.Errorf("krbtest: starting krb5kdc: %w", err)
	}
	go func() {
		k.waitErr = cmd.Wait()
		close(k.exited)
	}()

	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-k.exited:
			close(k.release)
			log := logSince(r.KDCLog, logStart)
			if strings.Contains(log, "Address already in use") {
				return nil, fmt.Errorf("%w: %s", errPortTaken, r.KDCAddr)
			}
			return nil, fmt.Errorf("krbtest: krb5kdc exited at start (%v)\n%s", k.waitErr, r.kdcLogs(logStart))
		case <-time.After(10 * time.Millisecond):
		}
		if strings.Contains(logSince(r.KDCLog, logStart), "commencing operation") {
			if c, err := net.DialTimeout("tcp", r.KDCAddr, time.Second); err == nil {
				c.Close()
				// The pid file is krb5kdc's own word for its pid: it must be
				// our child's.
				b, _ := os.ReadFile(pidFile)
				if pid := strings.TrimSpace(string(b)); pid != strconv.Itoa(cmd.Process.Pid) {
					stopErr := k.stop(r)
					return nil, errors.Join(fmt.Errorf("krbtest: krb5kdc's pid file says %q, but the process started is %d", pid, cmd.Process.Pid), stopErr)
				}
				return k, nil
			}
		}
		if time.Now().After(deadline) {
			stopErr := k.stop(r)
			return nil, errors.Join(fmt.Errorf("krbtest: krb5kdc not serving on %s within %v\n%s", r.KDCAddr, startTimeout, r.kdcLogs(logStart)), stopErr)
		}
	}
}

// stop ends the KDC (see Realm.Close).
func (k *kdc) stop(r *Realm) error {
	defer close(k.release)
	pid := k.cmd.Process.Pid
	select {
	case <-k.exited:
		return fmt.Errorf("krbtest: the KDC (pid %d) had died before it was stopped (%v)\n%s", pid, k.waitErr, r.kdcLogs(0))
	default:
	}
	// The signals go through the os.Process of our own child, which
	// stays valid until it is reaped (by the goroutine that closes
	// exited), so they cannot reach another process.
	k.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-k.exited:
		return nil
	case <-time.After(stopTimeout):
	}
	k.cmd.Process.Kill()
	select {
	case <-k.exited:
		return fmt.Errorf("krbtest: the KDC (pid %d) ignored SIGTERM for %v and was killed", pid, stopTimeout)
	case <-time.After(stopTimeout):
		return fmt.Errorf("krbtest: the KDC (pid %d) still runs %v after SIGKILL", pid, stopTimeout)
	}
}

// kdcLogs returns the KDC's log from offset logStart on and its standard
// error, for an error message.
func (r *Realm) kdcLogs(logStart int64) string {
	return "kdc.log:\n" + logSince(r.KDCLog, logStart) + "\nkdc.stderr:\n" + readTail(r.KDCStderr, 4096)
}

// logSince returns what the file at path holds after offset off, at most
// its last 8 KiB.
func logSince(path string, off int64) string {
	n := fileSize(path) - off
	if n <= 0 {
		return ""
	}
	return readTail(path, min(n, 8192))
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}
