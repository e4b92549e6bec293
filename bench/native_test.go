package bench

// The two-process peers of run-native.sh: perf/zmqperf.c on native libzmq,
// cmd/zmtpperf and gozmqperf. Each is built into a temporary directory and
// run against the others with tiny counts, so that a broken setup (a
// mechanism that no longer agrees, an output format the driver cannot
// read) fails `go test ./...` at once. Nothing here is timed.

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// nativeWait bounds each process of these tests; the tools themselves give
// up after -timeout without progress.
const nativeWait = 60 * time.Second

var (
	nativeOnce sync.Once
	nativeDir  string
	nativeErr  error
)

// nativeTools builds zmqperf, boxperf (C and Go), zmtpperf and gozmqperf once per test binary
// and returns their directory (TestMain removes it). It skips the test when the C toolchain or
// libzmq's pkg-config file is missing.
func nativeTools(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"cc", "pkg-config"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found: the native libzmq peer needs a C compiler and pkg-config (make deps installs them)", tool)
		}
	}
	if err := exec.Command("pkg-config", "--exists", "libzmq").Run(); err != nil {
		t.Skip("pkg-config knows no libzmq (make deps installs it)")
	}
	nativeOnce.Do(func() {
		dir, err := os.MkdirTemp("", "zmtpsec-native-")
		if err != nil {
			nativeErr = err
			return
		}
		nativeDir = dir
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		for _, args := range [][]string{
			{"bash", "perf/build.sh", dir},
			{"go", "build", "-o", filepath.Join(dir, "zmtpperf"), "github.com/zmtpsec/zmtpsec/cmd/zmtpperf"},
			{"go", "build", "-o", filepath.Join(dir, "gozmqperf"), "./gozmqperf"},
			{"go", "build", "-o", filepath.Join(dir, "boxperf-go"), "./boxperf"},
		} {
			out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
			if err != nil {
				nativeErr = fmt.Errorf("%q: %v\n%s", args, err, out)
				return
			}
		}
	})
	if nativeErr != nil {
		t.Fatal(nativeErr)
	}
	return nativeDir
}

// peer is one side of a measurement: an implementation's binary and the
// flags it needs beyond the shared ones.
type peer struct {
	impl  string // the impl= it prints
	bin   string
	extra []string
}

func nativePeers(dir string) map[string]peer {
	return map[string]peer{
		"libzmq":         {"libzmq", filepath.Join(dir, "zmqperf"), nil},
		"zmtpsec-socket": {"zmtpsec", filepath.Join(dir, "zmtpperf"), []string{"-layer", "socket"}},
		"zmtpsec-conn":   {"zmtpsec", filepath.Join(dir, "zmtpperf"), []string{"-layer", "conn"}},
		"gozmq":          {"gozmq", filepath.Join(dir, "gozmqperf"), nil},
	}
}

// runNative starts server's binding role, then client's connecting role
// against the endpoint on its READY line, and returns both outputs.
func runNative(t *testing.T, server, client peer, srvRole, cliRole string, args []string) (srvOut, cliOut string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), nativeWait)
	defer cancel()
	args = append(args, "-timeout", "20s")
	srv := exec.CommandContext(ctx, server.bin, append(append([]string{srvRole, "-endpoint", "tcp://127.0.0.1:*"}, args...), server.extra...)...)
	var srvErr strings.Builder
	srv.Stderr = &srvErr
	pipe, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	var out strings.Builder
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			out.WriteString(line + "\n")
			if ep, ok := strings.CutPrefix(line, "READY endpoint="); ok {
				ready <- ep
			}
		}
	}()
	var ep string
	select {
	case ep = <-ready:
	case <-scanned:
		srv.Wait()
		t.Fatalf("%s %s exited before READY; stderr:\n%s", server.impl, srvRole, srvErr.String())
	case <-ctx.Done():
		t.Fatalf("%s %s: no READY line within %v", server.impl, srvRole, nativeWait)
	}
	cli := exec.CommandContext(ctx, client.bin, append(append([]string{cliRole, "-endpoint", ep}, args...), client.extra...)...)
	cliBytes, cliErr := cli.Output()
	<-scanned
	srvWaitErr := srv.Wait()
	if cliErr != nil {
		var stderr []byte
		if ee, ok := cliErr.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("%s %s: %v\nstderr:\n%s\nserver stderr:\n%s", client.impl, cliRole, cliErr, stderr, srvErr.String())
	}
	if srvWaitErr != nil {
		t.Fatalf("%s %s: %v\nstderr:\n%s", server.impl, srvRole, srvWaitErr, srvErr.String())
	}
	return out.String(), string(cliBytes)
}

// nativeResult returns the fields of out's RESULT line for role.
func nativeResult(t *testing.T, out, role string) map[string]string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "RESULT" || f[1] != "role="+role {
			continue
		}
		kv := map[string]string{}
		for _, x := range f[1:] {
			if k, v, ok := strings.Cut(x, "="); ok {
				kv[k] = v
			}
		}
		return kv
	}
	t.Fatalf("no RESULT line for %s in:\n%s", role, out)
	return nil
}

// TestNativePeers runs our tools against libzmq's (and go-zeromq's) in
// both directions, for every mechanism each supports: throughput,
// latency and connection setup, with tiny counts, and checks the RESULT
// line of the measuring side.
func TestNativePeers(t *testing.T) {
	dir := nativeTools(t)
	peers := nativePeers(dir)
	type kind struct {
		name, srvRole, cliRole, measuring, metric string
		args                                      []string
	}
	kinds := []kind{
		{"thr", "local_thr", "remote_thr", "local_thr", "msgs_per_s", []string{"-size", "100", "-count", "3000"}},
		{"lat", "local_lat", "remote_lat", "remote_lat", "p50_us", []string{"-size", "64", "-count", "20"}},
		{"conn", "conn_srv", "conn_cli", "conn_cli", "conns_per_s", []string{"-count", "3", "-clients", "2"}},
	}
	pairs := [][2]string{ // server, client
		{"libzmq", "libzmq"},
		{"zmtpsec-socket", "libzmq"},
		{"libzmq", "zmtpsec-socket"},
		{"zmtpsec-conn", "libzmq"},
		{"libzmq", "zmtpsec-conn"},
	}
	for _, mech := range []string{"null", "plain", "curve"} {
		for _, k := range kinds {
			for _, p := range pairs {
				server, client := peers[p[0]], peers[p[1]]
				t.Run(fmt.Sprintf("%s/%s/%s-%s", mech, k.name, p[0], p[1]), func(t *testing.T) {
					t.Parallel()
					args := append([]string{"-mechanism", mech}, k.args...)
					srvOut, cliOut := runNative(t, server, client, k.srvRole, k.cliRole, args)
					out, measurer := srvOut, server
					if k.measuring == k.cliRole {
						out, measurer = cliOut, client
					}
					checkNative(t, nativeResult(t, out, k.measuring), measurer.impl, mech, k.metric)
				})
			}
		}
	}
	// go-zeromq/zmq4: NULL throughput, with itself and with zmtpsec.
	for _, p := range [][2]string{{"gozmq", "gozmq"}, {"gozmq", "zmtpsec-socket"}, {"zmtpsec-socket", "gozmq"}, {"gozmq", "libzmq"}} {
		server, client := peers[p[0]], peers[p[1]]
		t.Run(fmt.Sprintf("null/thr/%s-%s", p[0], p[1]), func(t *testing.T) {
			t.Parallel()
			srvOut, _ := runNative(t, server, client, "local_thr", "remote_thr", []string{"-size", "16", "-count", "500"})
			checkNative(t, nativeResult(t, srvOut, "local_thr"), server.impl, "null", "msgs_per_s")
		})
	}
}

func checkNative(t *testing.T, kv map[string]string, impl, mech, metric string) {
	t.Helper()
	if kv["impl"] != impl || kv["mech"] != mech {
		t.Errorf("RESULT impl=%s mech=%s, want impl=%s mech=%s (%v)", kv["impl"], kv["mech"], impl, mech, kv)
	}
	if v, err := strconv.ParseFloat(kv[metric], 64); err != nil || !(v > 0) {
		t.Errorf("RESULT %s=%q, want a positive number (%v)", metric, kv[metric], kv)
	}
}

// TestNativeUsage: the C peer refuses what the Go tool refuses, with exit
// status 2.
func TestNativeUsage(t *testing.T) {
	bin := filepath.Join(nativeTools(t), "zmqperf")
	for _, args := range [][]string{
		{},
		{"-count", "1"},
		{"local_tput"},
		{"local_thr", "-nosuch", "1"},
		{"local_thr", "-count", "x"},
		{"local_thr", "-mechanism", "gssapi"},
		{"remote_thr", "-server-key", "k"},
		{"local_thr", "-mechanism", "curve", "-server-key", "k"},
		{"remote_thr", "-timeout", "5h"},
	} {
		err := exec.Command(bin, args...).Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
			t.Errorf("zmqperf %q: %v, want exit status 2", args, err)
		}
	}
}

// TestBoxperf: both crypto-alone programs seal and open the asked number of
// payloads and print a RESULT line nativeratios reads (a broken build or a
// failed open fails here, not in a five-minute run).
func TestBoxperf(t *testing.T) {
	dir := nativeTools(t)
	for impl, bin := range map[string]string{"libsodium": "boxperf", "zmtpsec": "boxperf-go"} {
		out, err := exec.Command(filepath.Join(dir, bin), "-size", "300", "-count", "50").Output()
		if err != nil {
			t.Fatalf("%s: %v", bin, err)
		}
		want := "RESULT role=box_thr impl=" + impl + " mech=curve size=300 count=50 msgs_per_s="
		if !strings.HasPrefix(string(out), want) {
			t.Errorf("%s printed %q, want a line starting %q", bin, out, want)
		}
	}
}
