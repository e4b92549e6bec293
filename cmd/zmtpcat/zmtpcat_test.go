package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/zmtpsec/zmtpsec/cert"
)

func TestLineFormat(t *testing.T) {
	for _, tc := range []struct {
		line string
		hex  bool
		msg  [][]byte
		out  string
	}{
		{"hello", false, [][]byte{[]byte("hello")}, "hello\n"},
		{"a\tb\t", false, [][]byte{[]byte("a"), []byte("b"), {}}, "a\tb\t\n"},
		{"", false, [][]byte{{}}, "\n"},
		{"00ff\t", true, [][]byte{{0, 0xff}, {}}, "00ff\t\n"},
	} {
		msg, err := parseLine([]byte(tc.line), tc.hex)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.msg, msg, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("parseLine(%q): %s", tc.line, diff)
		}
		if got := string(appendLine(nil, msg, tc.hex)); got != tc.out {
			t.Errorf("appendLine = %q, want %q", got, tc.out)
		}
	}
	if _, err := parseLine([]byte("zz"), true); err == nil {
		t.Error("bad hex accepted")
	}
	// Bytes that would break the line format are escaped.
	if got := string(appendLine(nil, [][]byte{[]byte("a\tb\nc\\")}, false)); got != "a\\x09b\\x0ac\\x5c\n" {
		t.Errorf("escaped: %q", got)
	}
}

func TestSubscriptions(t *testing.T) {
	var s subscriptions
	sub := func(b byte, topic string) [][]byte { return [][]byte{append([]byte{b}, topic...)} }
	if s.match([]byte("A1")) {
		t.Fatal("match with no subscription")
	}
	s.apply(sub(1, "A"))
	s.apply(sub(1, "A"))
	if !s.match([]byte("A1")) || s.match([]byte("B")) {
		t.Fatal("prefix match")
	}
	s.apply(sub(0, "A"))
	if !s.match([]byte("A")) {
		t.Fatal("one cancel undid two subscriptions")
	}
	s.apply(sub(0, "A"))
	if s.match([]byte("A")) {
		t.Fatal("cancelled subscription still matches")
	}
	if s.apply([][]byte{[]byte("x"), []byte("y")}) || s.apply([][]byte{{2}}) {
		t.Fatal("non-subscription messages taken as subscriptions")
	}
	s.apply(sub(1, ""))
	if !s.match([]byte("anything")) {
		t.Fatal("empty topic matches everything")
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{}, {"-nosuch", "tcp://127.0.0.1:1"}, {"tcp://a:1", "tcp://b:2"}, {"udp://x:1"}, {"-type", "FOO", "tcp://x:1"},
		{"-subscribe", "A", "tcp://x:1"}, {"-n", "-1", "tcp://x:1"}, {"-allow", "1.2.3.4", "-deny", "5.6.7.8", "tcp://x:1"},
		{"-allow", "not-an-ip", "-domain", "d", "tcp://x:1"}, {"-mechanism", "gssapi", "tcp://x:1"},
		{"-plain-user", "u", "tcp://x:1"}, {"-mechanism", "curve", "tcp://x:1"},
		{"-mechanism", "curve", "-curve-server", "tcp://x:1"}, {"-mechanism", "plain", "-plain-server", "-plain-user", "u", "tcp://x:1"},
		{"-mechanism", "plain", "-passwords", "f", "tcp://x:1"}, {"-allow", "127.0.0.1", "tcp://x:1"},
	} {
		var stderr bytes.Buffer
		if code := run(args, strings.NewReader(""), io.Discard, &stderr); code != 2 {
			t.Errorf("%q: exit %d, want 2 (%s)", args, code, stderr.String())
		}
	}
}

// freeEndpoint returns a tcp endpoint on a free loopback port.
func freeEndpoint(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "tcp://" + l.Addr().String()
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// server runs zmtpcat -bind in the background until the test ends; its
// stdin stays open until then.
func server(t *testing.T, args ...string) (stdout, stderr *syncBuffer) {
	t.Helper()
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	stop := make(chan struct{})
	go func() { done <- runUntil(append([]string{"-bind"}, args...), pr, stdout, stderr, stop) }()
	t.Cleanup(func() {
		close(stop)
		pw.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
	})
	// Wait until it listens.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(stderr.String(), "listening on") {
		if time.Now().After(deadline) {
			t.Fatalf("server did not start: %s", stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return stdout, stderr
}

// client runs zmtpcat to completion with the given stdin.
func client(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(args, strings.NewReader(stdin), &out, &errb) }()
	select {
	case code = <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("client %q did not finish: %s", args, errb.String())
	}
	return code, out.String(), errb.String()
}

func TestRouterEcho(t *testing.T) {
	ep := freeEndpoint(t)
	srvOut, _ := server(t, "-type", "ROUTER", "-echo", ep)
	code, out, errs := client(t, "one\ntwo\tparts\n\n", "-identity", "C1", "-n", "3", ep)
	if code != 0 || out != "one\ntwo\tparts\n\n" {
		t.Fatalf("exit %d, stdout %q, stderr %s", code, out, errs)
	}
	if !strings.Contains(errs, "mechanism NULL, peer type ROUTER") {
		t.Errorf("handshake outcome missing: %s", errs)
	}
	// The ROUTER prints the routing id as the first frame.
	if got := srvOut.String(); got != "C1\tone\nC1\ttwo\tparts\nC1\t\n" {
		t.Errorf("server printed %q", got)
	}
}

func TestReqRep(t *testing.T) {
	ep := freeEndpoint(t)
	srvOut, _ := server(t, "-type", "REP", "-echo", ep)
	code, out, errs := client(t, "ping\nhex?\n", "-type", "REQ", "-n", "2", ep)
	if code != 0 || out != "ping\nhex?\n" {
		t.Fatalf("exit %d, stdout %q, stderr %s", code, out, errs)
	}
	if got := srvOut.String(); got != "ping\nhex?\n" {
		t.Errorf("REP printed %q (the delimiter must be stripped)", got)
	}
}

func TestPushPull(t *testing.T) {
	ep := freeEndpoint(t)
	srvOut, _ := server(t, "-type", "PULL", "-hex", ep)
	code, _, errs := client(t, "a\nb\n", "-type", "PUSH", ep)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	deadline := time.Now().Add(5 * time.Second)
	for srvOut.String() != "61\n62\n" {
		if time.Now().After(deadline) {
			t.Fatalf("PULL printed %q", srvOut.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPubSubFilter(t *testing.T) {
	ep := freeEndpoint(t)
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	pr, pw := io.Pipe()
	defer pw.Close()
	go run([]string{"-bind", "-type", "PUB", ep}, pr, stdout, stderr)
	for !strings.Contains(stderr.String(), "listening on") {
		time.Sleep(5 * time.Millisecond)
	}
	subDone := make(chan string, 1)
	go func() {
		_, out, errs := client(t, "", "-type", "SUB", "-subscribe", "weather.", "-n", "2", ep)
		subDone <- out + errs
	}()
	for !strings.Contains(stderr.String(), "accepted") {
		time.Sleep(5 * time.Millisecond)
	}
	// Publish until the subscription has arrived and two matching
	// messages got through; others must never show up.
	for i := 0; ; i++ {
		fmt.Fprintf(pw, "sport.%d\nweather.%d\n", i, i)
		select {
		case got := <-subDone:
			if strings.Contains(got, "sport") || strings.Count(got, "weather.") != 2 {
				t.Fatalf("SUB got %q", got)
			}
			return
		case <-time.After(20 * time.Millisecond):
		}
		if i > 250 {
			t.Fatal("SUB never got its messages")
		}
	}
}

// TestSilentClientDoesNotBlockOthers: a connection that never handshakes
// does not delay the next one.
func TestSilentClientDoesNotBlockOthers(t *testing.T) {
	ep := freeEndpoint(t)
	server(t, "-type", "ROUTER", "-echo", ep)
	silent, err := net.Dial("tcp", strings.TrimPrefix(ep, "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	code, out, errs := client(t, "hello\n", "-n", "1", ep)
	if code != 0 || out != "hello\n" {
		t.Fatalf("exit %d, %q, %s", code, out, errs)
	}
}

func TestConnectRefused(t *testing.T) {
	ep := freeEndpoint(t) // nobody listens there now
	if code, _, _ := client(t, "", "-n", "1", ep); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
}

func TestCurveAndPlain(t *testing.T) {
	dir := t.TempDir()
	save := func(name string) string {
		kp, err := cert.GenerateKeyPair(nil)
		if err != nil {
			t.Fatal(err)
		}
		c := &cert.Certificate{Public: kp.Public, Secret: &kp.Secret}
		sub := filepath.Join(dir, name)
		os.MkdirAll(sub, 0o755)
		pub, sec, err := c.Save(sub, name, cert.LayoutPyzmq, nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = pub
		return sec
	}
	serverSecret, clientSecret, strangerSecret := save("server"), save("client"), save("stranger")
	serverPublic := strings.TrimSuffix(serverSecret, "_secret")

	ep := freeEndpoint(t)
	server(t, "-type", "ROUTER", "-echo", "-mechanism", "curve", "-curve-server", "-cert", serverSecret, "-client-certs", filepath.Join(dir, "client"), ep)
	code, out, errs := client(t, "secret stuff\n", "-mechanism", "curve", "-cert", clientSecret, "-server-key", serverPublic, "-n", "1", ep)
	if code != 0 || out != "secret stuff\n" || !strings.Contains(errs, "mechanism CURVE") {
		t.Fatalf("allowed client: exit %d, %q, %s", code, out, errs)
	}
	code, _, errs = client(t, "x\n", "-mechanism", "curve", "-cert", strangerSecret, "-server-key", serverPublic, "-n", "1", ep)
	if code != 1 || !strings.Contains(errs, `ERROR "400"`) {
		t.Fatalf("unknown client: exit %d, %s", code, errs)
	}

	pw := filepath.Join(dir, "passwords")
	os.WriteFile(pw, []byte("admin=secret\n"), 0o600)
	ep = freeEndpoint(t)
	_, srvErr := server(t, "-type", "REP", "-echo", "-mechanism", "plain", "-plain-server", "-passwords", pw, ep)
	code, out, errs = client(t, "hi\n", "-type", "REQ", "-mechanism", "plain", "-plain-user", "admin", "-plain-password", "secret", "-n", "1", ep)
	if code != 0 || out != "hi\n" {
		t.Fatalf("PLAIN: exit %d, %q, %s", code, out, errs)
	}
	if !strings.Contains(srvErr.String(), `peer user-id "admin"`) {
		t.Errorf("server did not report the user id: %s", srvErr.String())
	}
	code, _, errs = client(t, "hi\n", "-type", "REQ", "-mechanism", "plain", "-plain-user", "admin", "-plain-password", "nope", "-n", "1", ep)
	if code != 1 || !strings.Contains(errs, `ERROR "400"`) {
		t.Fatalf("wrong password: exit %d, %s", code, errs)
	}
}
