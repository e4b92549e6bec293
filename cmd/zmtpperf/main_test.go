package main

import (
	"bytes"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/cert"
)

// wait bounds every wait of these tests for a role to finish; the roles
// themselves give up after -timeout without progress.
const (
	wait        = 60 * time.Second
	roleTimeout = "20s"
)

// output collects what a role prints and hands on the endpoint of its READY
// line.
type output struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	sent  bool
	ready chan string
}

func newOutput() *output { return &output{ready: make(chan string, 1)} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	if !o.sent {
		for _, line := range strings.SplitAfter(o.buf.String(), "\n") {
			if ep, ok := strings.CutPrefix(line, "READY endpoint="); ok && strings.HasSuffix(ep, "\n") {
				o.ready <- strings.TrimSuffix(ep, "\n")
				o.sent = true
			}
		}
	}
	return len(p), nil
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// runPair runs the binding role with server's arguments on an ephemeral
// port, then the connecting role with client's against it, and returns
// what each printed on standard output. Both must exit with status want.
func runPair(t *testing.T, server, client []string, want int) (serverOut, clientOut string) {
	t.Helper()
	sOut, sErr := newOutput(), newOutput()
	sDone := make(chan int, 1)
	go func() {
		sDone <- run(append(server, "-endpoint", "tcp://127.0.0.1:*", "-timeout", roleTimeout), sOut, sErr)
	}()
	var ep string
	select {
	case ep = <-sOut.ready:
	case code := <-sDone:
		t.Fatalf("zmtpperf %q exited %d before READY; stderr:\n%s", server, code, sErr)
	case <-time.After(wait):
		t.Fatalf("zmtpperf %q: no READY line within %v", server, wait)
	}
	cOut, cErr := newOutput(), newOutput()
	cDone := make(chan int, 1)
	go func() {
		cDone <- run(append(client, "-endpoint", ep, "-timeout", roleTimeout), cOut, cErr)
	}()
	for _, side := range []struct {
		args      []string
		done      chan int
		out, serr *output
	}{{client, cDone, cOut, cErr}, {server, sDone, sOut, sErr}} {
		select {
		case code := <-side.done:
			if code != want {
				t.Fatalf("zmtpperf %q: exit %d, want %d; stdout:\n%s\nstderr:\n%s", side.args, code, want, side.out, side.serr)
			}
		case <-time.After(wait):
			t.Fatalf("zmtpperf %q: still running after %v", side.args, wait)
		}
	}
	return sOut.String(), cOut.String()
}

// result returns the key=value fields of out's RESULT line of role.
func result(t *testing.T, out, role string) map[string]string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 || fields[0] != "RESULT" || fields[1] != "role="+role {
			continue
		}
		kv := map[string]string{}
		for _, f := range fields[1:] {
			k, v, ok := strings.Cut(f, "=")
			if !ok {
				t.Fatalf("RESULT field %q is not key=value in %q", f, line)
			}
			kv[k] = v
		}
		return kv
	}
	t.Fatalf("no RESULT line for %s in:\n%s", role, out)
	return nil
}

// checkResult checks the common fields of a RESULT line and that each of
// metrics is a positive number.
func checkResult(t *testing.T, kv map[string]string, want map[string]string, metrics ...string) {
	t.Helper()
	for k, v := range want {
		if kv[k] != v {
			t.Errorf("RESULT %s=%q, want %q (line %v)", k, kv[k], v, kv)
		}
	}
	for _, m := range metrics {
		v, err := strconv.ParseFloat(kv[m], 64)
		if err != nil || !(v > 0) {
			t.Errorf("RESULT %s=%q, want a positive number (line %v)", m, kv[m], kv)
		}
	}
}

// TestRoles runs every pair of roles, on each layer and with each
// mechanism, with tiny counts, and checks the results they print. The
// mixed-layer cases show that both layers put the same bytes on the wire.
func TestRoles(t *testing.T) {
	layers := [][2]string{{"socket", "socket"}, {"conn", "conn"}, {"socket", "conn"}, {"conn", "socket"}}
	for _, mech := range []string{"null", "plain", "curve"} {
		for _, l := range layers {
			name := fmt.Sprintf("%s/%s-%s", mech, l[0], l[1])
			common := []string{"-mechanism", mech}
			srv := append([]string{"-layer", l[0]}, common...)
			cli := append([]string{"-layer", l[1]}, common...)
			want := func(layer, count string) map[string]string {
				return map[string]string{"impl": "zmtpsec", "layer": layer, "mech": mech, "count": count}
			}
			t.Run(name+"/thr", func(t *testing.T) {
				t.Parallel()
				// -batch 7 leaves a partial batch at the end of 2000.
				sOut, cOut := runPair(t,
					append([]string{"local_thr", "-size", "100", "-count", "2000"}, srv...),
					append([]string{"remote_thr", "-size", "100", "-count", "2000", "-batch", "7"}, cli...), 0)
				checkResult(t, result(t, sOut, "local_thr"), want(l[0], "2000"), "msgs_per_s", "mbit_per_s")
				checkResult(t, result(t, cOut, "remote_thr"), want(l[1], "2000"), "msgs_per_s")
			})
			t.Run(name+"/lat", func(t *testing.T) {
				t.Parallel()
				_, cOut := runPair(t,
					append([]string{"local_lat", "-size", "64", "-count", "20"}, srv...),
					append([]string{"remote_lat", "-size", "64", "-count", "20"}, cli...), 0)
				kv := result(t, cOut, "remote_lat")
				checkResult(t, kv, want(l[1], "20"), "p50_us", "p90_us", "p99_us", "mean_us")
				p50, _ := strconv.ParseFloat(kv["p50_us"], 64)
				p99, _ := strconv.ParseFloat(kv["p99_us"], 64)
				if p50 > p99 {
					t.Errorf("p50 %v > p99 %v", p50, p99)
				}
			})
			t.Run(name+"/conn", func(t *testing.T) {
				t.Parallel()
				_, cOut := runPair(t,
					append([]string{"conn_srv", "-count", "4", "-clients", "2"}, srv...),
					append([]string{"conn_cli", "-count", "4", "-clients", "2"}, cli...), 0)
				w := want(l[1], "4")
				w["clients"] = "2"
				checkResult(t, result(t, cOut, "conn_cli"), w, "conns_per_s")
			})
		}
	}
}

// TestZeroSize sends empty payloads, which every layer must count as
// messages.
func TestZeroSize(t *testing.T) {
	for _, layer := range []string{"socket", "conn"} {
		t.Run(layer, func(t *testing.T) {
			sOut, _ := runPair(t,
				[]string{"local_thr", "-size", "0", "-count", "50", "-layer", layer},
				[]string{"remote_thr", "-size", "0", "-count", "50", "-layer", layer}, 0)
			checkResult(t, result(t, sOut, "local_thr"), map[string]string{"size": "0", "count": "50"}, "msgs_per_s")
		})
	}
}

// TestKeyFiles replaces the fixed CURVE keys with keys from files: the
// server's secret as 40 Z85 characters, the server's public key as a
// certificate, and the client's secret as a secret certificate.
func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	server, err := cert.GenerateKeyPair(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	client, err := cert.GenerateKeyPair(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serverSecret := filepath.Join(dir, "server.z85")
	if err := os.WriteFile(serverSecret, []byte(server.Secret.Z85()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sk := server.Secret
	serverPublic, _, err := (&cert.Certificate{Public: server.Public, Secret: &sk}).Save(dir, "server", cert.LayoutPyzmq, nil)
	if err != nil {
		t.Fatal(err)
	}
	ck := client.Secret
	_, clientSecret, err := (&cert.Certificate{Public: client.Public, Secret: &ck}).Save(dir, "client", cert.LayoutPyzmq, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, layer := range []string{"socket", "conn"} {
		t.Run(layer, func(t *testing.T) {
			sOut, _ := runPair(t,
				[]string{"local_thr", "-count", "100", "-mechanism", "curve", "-secret", serverSecret, "-layer", layer},
				[]string{"remote_thr", "-count", "100", "-mechanism", "curve", "-server-key", serverPublic, "-secret", clientSecret, "-layer", layer}, 0)
			checkResult(t, result(t, sOut, "local_thr"), map[string]string{"mech": "curve"}, "msgs_per_s")
		})
	}
}

// TestWrongServerKeyGivesUp: a client that trusts another server key never
// completes a handshake; both sides give up after -timeout instead of
// hanging, and say why.
func TestWrongServerKeyGivesUp(t *testing.T) {
	other, err := cert.GenerateKeyPair(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "other.key")
	if err := os.WriteFile(keyFile, []byte(other.Public.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, layer := range []string{"socket", "conn"} {
		t.Run(layer, func(t *testing.T) {
			t.Parallel()
			sOut, sErr := newOutput(), newOutput()
			sDone := make(chan int, 1)
			go func() {
				sDone <- run([]string{"local_lat", "-count", "1", "-mechanism", "curve", "-layer", layer, "-endpoint", "tcp://127.0.0.1:*", "-timeout", "1s"}, sOut, sErr)
			}()
			var ep string
			select {
			case ep = <-sOut.ready:
			case <-time.After(wait):
				t.Fatal("no READY line")
			}
			var cErr bytes.Buffer
			cDone := make(chan int, 1)
			go func() {
				cDone <- run([]string{"remote_lat", "-count", "1", "-mechanism", "curve", "-server-key", keyFile, "-layer", layer, "-endpoint", ep, "-timeout", "1s"}, io.Discard, &cErr)
			}()
			for _, done := range []chan int{cDone, sDone} {
				select {
				case code := <-done:
					if code != 1 {
						t.Errorf("exit %d, want 1", code)
					}
				case <-time.After(wait):
					t.Fatalf("still running after %v", wait)
				}
			}
			if !strings.Contains(sErr.String(), "no progress for 1s") {
				t.Errorf("server stderr %q does not say it gave up", sErr)
			}
			if !strings.Contains(sErr.String(), "handshake with") {
				t.Errorf("server stderr %q does not report the failed handshake", sErr)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // in stderr
	}{
		{[]string{}, "no role"},
		{[]string{"-size", "16"}, "no role"},
		{[]string{"local_tput"}, `unknown role "local_tput"`},
		{[]string{"local_thr", "extra"}, `unexpected argument "extra"`},
		{[]string{"local_thr", "-nosuch"}, "flag provided but not defined"},
		{[]string{"local_thr", "-size", "-1"}, "-size -1"},
		{[]string{"local_thr", "-count", "-1"}, "-count -1"},
		{[]string{"conn_cli", "-clients", "0"}, "-clients 0"},
		{[]string{"remote_thr", "-batch", "0"}, "-batch 0"},
		{[]string{"remote_thr", "-timeout", "0s"}, "-timeout 0s"},
		{[]string{"remote_thr", "-layer", "zmq"}, `-layer "zmq"`},
		{[]string{"remote_thr", "-mechanism", "gssapi"}, `-mechanism "gssapi"`},
		{[]string{"remote_thr", "-server-key", "k"}, "need -mechanism curve"},
		{[]string{"remote_thr", "-mechanism", "plain", "-secret", "k"}, "need -mechanism curve"},
		{[]string{"local_thr", "-mechanism", "curve", "-server-key", "k"}, "-server-key is for the connecting side"},
	} {
		var stderr bytes.Buffer
		code := run(tc.args, io.Discard, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("zmtpperf %q: exit %d, stderr %q; want exit 2 and %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}

// TestMissingKeyFile: a key file that cannot be read fails at once.
func TestMissingKeyFile(t *testing.T) {
	var stderr bytes.Buffer
	code := run([]string{"remote_thr", "-mechanism", "curve", "-server-key", filepath.Join(t.TempDir(), "none")}, io.Discard, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "none") {
		t.Errorf("exit %d, stderr %q; want exit 1 naming the file", code, stderr.String())
	}
}

// TestUsageListsFlags: the help text names every flag, and -h prints it.
func TestUsageListsFlags(t *testing.T) {
	(&config{}).flags().VisitAll(func(f *flag.Flag) {
		if !strings.Contains(usage, "  -"+f.Name+" ") {
			t.Errorf("usage does not list -%s", f.Name)
		}
	})
	var stderr bytes.Buffer
	if code := run([]string{"-h"}, io.Discard, &stderr); code != 0 || stderr.String() != usage {
		t.Errorf("-h: exit %d, stderr %q; want 0 and the usage", code, stderr.String())
	}
}

func TestPercentile(t *testing.T) {
	var v []time.Duration
	for i := 1; i <= 100; i++ {
		v = append(v, time.Duration(i))
	}
	for _, tc := range []struct{ p, want int }{{50, 50}, {90, 90}, {99, 99}, {100, 100}, {1, 1}} {
		if got := percentile(v, tc.p); got != time.Duration(tc.want) {
			t.Errorf("percentile(1..100, %d) = %d, want %d", tc.p, got, tc.want)
		}
	}
	if got := percentile([]time.Duration{7}, 99); got != 7 {
		t.Errorf("percentile([7], 99) = %d, want 7", got)
	}
	// Nearest rank over 3 values: p50 is the 2nd, p90 the 3rd.
	three := []time.Duration{1, 2, 3}
	if got := percentile(three, 50); got != 2 {
		t.Errorf("percentile(1..3, 50) = %d, want 2", got)
	}
	if got := percentile(three, 90); got != 3 {
		t.Errorf("percentile(1..3, 90) = %d, want 3", got)
	}
}
