package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

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

// proc is a zmtpcat run in the background: stdin is a pipe the test writes
// to; it is stopped (status 0) when the test ends.
type proc struct {
	args           []string
	stdin          *io.PipeWriter
	stdout, stderr *syncBuffer
	exit           chan int
}

func start(t *testing.T, args ...string) *proc {
	t.Helper()
	pr, pw := io.Pipe()
	p := &proc{args: args, stdin: pw, stdout: &syncBuffer{}, stderr: &syncBuffer{}, exit: make(chan int, 1)}
	stop := make(chan struct{})
	go func() { p.exit <- runUntil(args, pr, p.stdout, p.stderr, stop) }()
	t.Cleanup(func() {
		close(stop)
		pw.Close()
		select {
		case code := <-p.exit:
			p.exit <- code
		case <-time.After(5 * time.Second):
			t.Errorf("zmtpcat %q did not stop", args)
		}
	})
	return p
}

// wait returns the exit status.
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case code := <-p.exit:
		p.exit <- code
		return code
	case <-time.After(10 * time.Second):
		t.Fatalf("zmtpcat %q did not exit; stdout %q, stderr %q", p.args, p.stdout.String(), p.stderr.String())
		return -1
	}
}

func (p *proc) write(t *testing.T, lines string) {
	t.Helper()
	if _, err := io.WriteString(p.stdin, lines); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

var listening = regexp.MustCompile(`listening on (\S+)`)

// server starts zmtpcat -bind with args (the endpoint last, often
// tcp://127.0.0.1:0) and returns it with the endpoint it listens on.
func server(t *testing.T, args ...string) (*proc, string) {
	t.Helper()
	p := start(t, append([]string{"-bind"}, args...)...)
	var ep string
	waitFor(t, "the server to listen", func() bool {
		m := listening.FindStringSubmatch(p.stderr.String())
		if m != nil {
			ep = m[1]
		}
		return m != nil || len(p.exit) > 0
	})
	if ep == "" {
		t.Fatalf("server %q did not start: %s", args, p.stderr.String())
	}
	return p, ep
}

// client runs zmtpcat to the end with stdin.
func client(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(args, strings.NewReader(stdin), &out, &errb) }()
	select {
	case code = <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("zmtpcat %q did not finish: stdout %q, stderr %q", args, out.String(), errb.String())
	}
	return code, out.String(), errb.String()
}

// deadEndpoint returns a loopback endpoint nobody listens on.
func deadEndpoint(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	return "tcp://" + l.Addr().String()
}

const anyPort = "tcp://127.0.0.1:0"

func TestRouterEchoDealer(t *testing.T) {
	srv, ep := server(t, "-type", "ROUTER", "-echo", anyPort)
	code, out, errs := client(t, "one\ntwo\tparts\n\n", "-identity", "C1", "-n", "3", ep)
	if code != 0 || out != "one\ntwo\tparts\n\n" {
		t.Fatalf("DEALER: exit %d, stdout %q, stderr %s", code, out, errs)
	}
	if want := `connected to ` + ep + `: mechanism NULL, peer type ROUTER, peer user-id "", peer address 127.0.0.1`; !strings.Contains(errs, want) {
		t.Errorf("DEALER stderr %q, want the outcome %q", errs, want)
	}
	// The ROUTER prints the routing id as the first frame.
	if got := srv.stdout.String(); got != "C1\tone\nC1\ttwo\tparts\nC1\t\n" {
		t.Errorf("ROUTER printed %q", got)
	}
	if want := "peer type DEALER, peer user-id \"\", peer address 127.0.0.1, routing id C1\n"; !strings.Contains(srv.stderr.String(), want) {
		t.Errorf("ROUTER stderr %q, want %q", srv.stderr.String(), want)
	}
}

// TestRouterRoutes: stdin lines go to the peer named by their first frame;
// a peer without an Identity gets a routing id made up, and anonymous
// peers get different ones.
func TestRouterRoutes(t *testing.T) {
	srv, ep := server(t, "-type", "ROUTER", anyPort)
	results := make(chan string, 4)
	for _, args := range [][]string{{"-identity", "A"}, {"-identity", "B"}, {}, {}} {
		go func() {
			_, out, errs := client(t, "", append(args, "-n", "1", ep)...)
			results <- fmt.Sprintf("%v: %s", args, out+errs)
		}()
	}
	waitFor(t, "four connections", func() bool { return strings.Count(srv.stderr.String(), "accepted") == 4 })
	for _, id := range []string{"A", "B", `\x00\x00\x00\x00\x01`, `\x00\x00\x00\x00\x02`} {
		if !strings.Contains(srv.stderr.String(), ", routing id "+id+"\n") {
			t.Errorf("no peer with routing id %s: %s", id, srv.stderr.String())
		}
	}
	srv.write(t, "B\tfor\tB\nA\tfor A\nnobody\tlost\n\\x00\\x00\\x00\\x00\\x02\tfor 2\n\\x00\\x00\\x00\\x00\\x01\tfor 1\n")
	got := map[string]bool{}
	for range 4 {
		select {
		case r := <-results:
			got[r[:strings.Index(r, "\n")+1]] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("clients did not all get their message; got %v", got)
		}
	}
	for _, want := range []string{"[-identity B]: for\tB\n", "[-identity A]: for A\n", "[]: for 1\n", "[]: for 2\n"} {
		if !got[want] {
			t.Errorf("missing %q in %v", want, got)
		}
	}
	if !strings.Contains(srv.stderr.String(), "no peer has routing id nobody; message dropped") {
		t.Errorf("unroutable message not reported: %s", srv.stderr.String())
	}
}

func TestReqRepEcho(t *testing.T) {
	srv, ep := server(t, "-type", "REP", "-echo", anyPort)
	code, out, errs := client(t, "ping\ntwo\tframes\n", "-type", "REQ", "-n", "2", ep)
	if code != 0 || out != "ping\ntwo\tframes\n" {
		t.Fatalf("REQ: exit %d, stdout %q, stderr %s", code, out, errs)
	}
	if got := srv.stdout.String(); got != "ping\ntwo\tframes\n" {
		t.Errorf("REP printed %q (the envelope must be stripped)", got)
	}
}

// TestRepAnswersFromStdin: without -echo a REP answers each request with
// the next stdin line, putting the envelope back: a DEALER's own
// delimiter comes back to it.
func TestRepAnswersFromStdin(t *testing.T) {
	srv, ep := server(t, "-type", "REP", anyPort)
	req := start(t, "-type", "REQ", "-n", "1", ep)
	dealer := start(t, "-n", "1", ep)
	req.write(t, "question\n")
	waitFor(t, "the REQ's request", func() bool { return srv.stdout.String() == "question\n" })
	dealer.write(t, "\tfrom\tdealer\n") // an empty delimiter, as a DEALER talking to REP must send
	waitFor(t, "the DEALER's request", func() bool { return srv.stdout.String() == "question\nfrom\tdealer\n" })
	srv.write(t, "answer\nto\tdealer\n")
	if code := req.wait(t); code != 0 || req.stdout.String() != "answer\n" {
		t.Errorf("REQ: exit %d, stdout %q, stderr %s", code, req.stdout.String(), req.stderr.String())
	}
	if code := dealer.wait(t); code != 0 || dealer.stdout.String() != "\tto\tdealer\n" {
		t.Errorf("DEALER: exit %d, stdout %q, stderr %s", code, dealer.stdout.String(), dealer.stderr.String())
	}
}

func TestPushPullHex(t *testing.T) {
	srv, ep := server(t, "-type", "PULL", "-hex", "-n", "3", anyPort)
	code, _, errs := client(t, "a\nb\tc\n\\x00\n", "-type", "PUSH", ep)
	if code != 0 {
		t.Fatalf("PUSH: exit %d: %s", code, errs)
	}
	if code := srv.wait(t); code != 0 {
		t.Fatalf("PULL -n 3: exit %d: %s", code, srv.stderr.String())
	}
	if got := srv.stdout.String(); got != "61\n62\t63\n00\n" {
		t.Errorf("PULL printed %q", got)
	}
}

// TestPubSubFilter: the PUB sends a SUB only what it subscribed to.
func TestPubSubFilter(t *testing.T) {
	srv, ep := server(t, "-type", "PUB", anyPort)
	sub := start(t, "-type", "SUB", "-subscribe", "weather.", "-subscribe", "news", "-n", "4", ep)
	waitFor(t, "the SUB", func() bool { return strings.Contains(srv.stderr.String(), "accepted") })
	// The subscriptions arrive a little after the handshake: publish until
	// the SUB has had four messages.
	for i := 0; len(sub.exit) == 0; i++ {
		srv.write(t, fmt.Sprintf("sport.%d\nweather.%d\tparts\nnew\nnews%d\n", i, i, i))
		time.Sleep(10 * time.Millisecond)
		if i > 500 {
			t.Fatalf("the SUB has %q", sub.stdout.String())
		}
	}
	if code := sub.wait(t); code != 0 {
		t.Fatalf("SUB: exit %d: %s", code, sub.stderr.String())
	}
	got := sub.stdout.String()
	if strings.Contains(got, "sport") || strings.Contains(got, "new\n") || strings.Count(got, "\n") != 4 ||
		!regexp.MustCompile(`^(weather\.\d+\tparts\nnews\d+\n)+$`).MatchString(got) {
		t.Fatalf("SUB printed %q", got)
	}
}

// TestBindSub: a SUB that binds subscribes on every connection it accepts.
func TestBindSub(t *testing.T) {
	srv, ep := server(t, "-type", "SUB", "-subscribe", "A", "-n", "2", anyPort)
	pub := start(t, "-type", "PUB", ep)
	for i := 0; len(srv.exit) == 0; i++ {
		pub.write(t, fmt.Sprintf("B%d\nA%d\n", i, i))
		time.Sleep(10 * time.Millisecond)
		if i > 500 {
			t.Fatalf("the SUB has %q", srv.stdout.String())
		}
	}
	if code := srv.wait(t); code != 0 {
		t.Fatalf("SUB: exit %d: %s", code, srv.stderr.String())
	}
	if got := srv.stdout.String(); !regexp.MustCompile(`^A\d+\nA\d+\n$`).MatchString(got) {
		t.Fatalf("SUB printed %q", got)
	}
}

// TestSilentClientDoesNotBlockOthers: connections that never send a
// greeting, or never read, do not delay the next.
func TestSilentClientDoesNotBlockOthers(t *testing.T) {
	srv, ep := server(t, "-type", "ROUTER", "-echo", anyPort)
	addr := strings.TrimPrefix(ep, "tcp://")
	for range 3 {
		silent, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer silent.Close()
	}
	code, out, errs := client(t, "hello\n", "-identity", "C2", "-n", "1", ep)
	if code != 0 || out != "hello\n" {
		t.Fatalf("exit %d, %q, %s", code, out, errs)
	}
	if strings.Count(srv.stderr.String(), "accepted") != 1 {
		t.Errorf("server log: %s", srv.stderr.String())
	}
}

// TestSlowSubscriberDoesNotBlockOthers: a SUB that stops reading misses
// messages once its queue is full; the others still get theirs.
func TestSlowSubscriberDoesNotBlockOthers(t *testing.T) {
	defer func(n int) { queueLen = n }(queueLen)
	queueLen = 4
	srv, ep := server(t, "-type", "PUB", anyPort)
	cfg := &transport.Config{SocketType: zmtp.SUB}
	var subs [2]*transport.Conn
	for i := range subs {
		c, err := transport.Dial(ep, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if i == 1 {
			// A fixed small buffer (no autotuning): little is needed to
			// fill the stuck connection.
			if err := c.NetConn().(*net.TCPConn).SetReadBuffer(4096); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Subscribe(nil); err != nil {
			t.Fatal(err)
		}
		subs[i] = c
	}
	// Both get a first message: their subscriptions are in place.
	got := make(chan string, 1000)
	stuck := make(chan struct{})
	for i, c := range subs {
		go func() {
			var msg [][]byte
			for {
				var err error
				if msg, err = c.ReadMessage(msg); err != nil {
					return
				}
				got <- fmt.Sprintf("%d %.10s", i, msg[0])
				if i == 1 {
					<-stuck // sub 1 reads one message, then nothing
				}
			}
		}()
	}
	defer close(stuck)
	seen := map[string]bool{}
	for !seen["0 sync"] || !seen["1 sync"] {
		srv.write(t, "sync\n")
		select {
		case m := <-got:
			seen[m] = true
		case <-time.After(10 * time.Millisecond):
		}
	}
	// Far more than the kernel buffers of the stuck connection hold (the
	// server's send buffer grows to 4 MiB on Linux by default).
	big := strings.Repeat("x", 64<<10)
	go func() {
		for range 200 {
			if _, err := io.WriteString(srv.stdin, big+"\n"); err != nil {
				return
			}
		}
		for {
			if _, err := io.WriteString(srv.stdin, "end\n"); err != nil {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case m := <-got:
			if m == "0 end" {
				return
			}
		case <-timeout:
			t.Fatal("the reading SUB stopped getting messages")
		}
	}
}

func TestHandshakeFailureWhileBinding(t *testing.T) {
	srv, ep := server(t, "-type", "REP", "-echo", anyPort)
	code, _, errs := client(t, "x\n", "-type", "PUSH", ep)
	if code != 1 || !strings.Contains(errs, `cannot talk to a peer of type "REP"`) {
		t.Fatalf("PUSH to REP: exit %d, stderr %s", code, errs)
	}
	waitFor(t, "the server to report the failure", func() bool {
		return strings.Contains(srv.stderr.String(), `cannot talk to a peer of type "PUSH"`)
	})
	// It serves on.
	code, out, errs := client(t, "still there?\n", "-type", "REQ", "-n", "1", ep)
	if code != 0 || out != "still there?\n" {
		t.Fatalf("REQ after a failed handshake: exit %d, %q, %s", code, out, errs)
	}
}

func TestConnectRefused(t *testing.T) {
	ep := deadEndpoint(t)
	code, _, errs := client(t, "", "-n", "1", ep)
	if code != 1 || !strings.Contains(errs, ep) {
		t.Fatalf("exit %d, stderr %q; want 1 and the endpoint", code, errs)
	}
}

// TestPeerGoneWhileWaiting: the connection ends before -n messages came.
func TestPeerGoneWhileWaiting(t *testing.T) {
	srv, ep := server(t, "-type", "ROUTER", anyPort)
	cl := start(t, "-n", "1", ep)
	waitFor(t, "the connection", func() bool { return strings.Contains(srv.stderr.String(), "accepted") })
	srv.stdin.Close() // end of stdin: the server exits, closing the connection
	if code := srv.wait(t); code != 0 {
		t.Fatalf("server: exit %d", code)
	}
	if code := cl.wait(t); code != 1 || !strings.Contains(cl.stderr.String(), "the peer closed the connection") {
		t.Fatalf("client: exit %d, stderr %q", code, cl.stderr.String())
	}
}

// TestPeerCloses: a peer that closes the connection ends a connecting run
// with 0 when -n is not waiting, whatever is left on stdin.
func TestPeerCloses(t *testing.T) {
	srv, ep := server(t, "-type", "PULL", "-n", "1", anyPort)
	cl := start(t, "-type", "PUSH", ep)
	cl.write(t, "one\n")
	if code := srv.wait(t); code != 0 || srv.stdout.String() != "one\n" {
		t.Fatalf("server: exit %d, %q", code, srv.stdout.String())
	}
	if code := cl.wait(t); code != 0 || !strings.Contains(cl.stderr.String(), "the peer closed the connection") {
		t.Fatalf("client: exit %d, stderr %q", code, cl.stderr.String())
	}
}

// TestStdinEOF: at the end of stdin what is queued is sent, waiting for a
// peer if need be, and then the run ends with 0.
func TestStdinEOF(t *testing.T) {
	srv, ep := server(t, "-type", "PUSH", anyPort)
	srv.write(t, "queued\n")
	srv.stdin.Close()
	code, out, errs := client(t, "", "-type", "PULL", "-n", "1", ep)
	if code != 0 || out != "queued\n" {
		t.Fatalf("PULL: exit %d, %q, %s", code, out, errs)
	}
	if code := srv.wait(t); code != 0 {
		t.Fatalf("PUSH: exit %d: %s", code, srv.stderr.String())
	}
}

func TestIPC(t *testing.T) {
	ep := "ipc://" + filepath.Join(t.TempDir(), "zmtpcat.sock")
	srv, _ := server(t, "-type", "PAIR", "-echo", ep)
	code, out, errs := client(t, "over\tipc\n", "-type", "PAIR", "-n", "1", ep)
	if code != 0 || out != "over\tipc\n" {
		t.Fatalf("exit %d, %q, %s", code, out, errs)
	}
	if !strings.Contains(srv.stderr.String(), "accepted ipc peer: mechanism NULL, peer type PAIR, peer user-id \"\", peer address (none)") {
		t.Errorf("server log: %s", srv.stderr.String())
	}
}

// rawNullPeer connects to ep and does a NULL handshake by hand as a DEALER
// with the given Identity, which may be one the transport would refuse to
// send (a zero first byte). It returns the connection.
func rawNullPeer(t *testing.T, ep string, identity []byte) net.Conn {
	t.Helper()
	network, addr, err := transport.ParseEndpoint(ep)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	out := zmtp.Greeting{Major: 3, Minor: 1, Mechanism: "NULL"}.Append(nil)
	ready := zmtp.AppendReady(nil, zmtp.Metadata{
		{Name: zmtp.PropSocketType, Value: []byte("DEALER")},
		{Name: zmtp.PropIdentity, Value: identity},
	})
	out = zmtp.AppendFrame(out, zmtp.FlagCommand, ready)
	if _, err := c.Write(out); err != nil {
		t.Fatal(err)
	}
	return c
}

// closedWithin reports whether the peer closes c within d.
func closedWithin(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 512)
	for {
		if _, err := c.Read(buf); err != nil {
			var ne net.Error
			return !(errors.As(err, &ne) && ne.Timeout())
		}
	}
}

// TestRouterReservesGeneratedIDs: a peer that claims a routing id in the
// form a ROUTER makes up (a zero byte first) is refused, so it cannot take
// the id an anonymous peer will get and lock that peer out; the anonymous
// peer that comes next gets the id and is served.
func TestRouterReservesGeneratedIDs(t *testing.T) {
	srv, ep := server(t, "-type", "ROUTER", anyPort)
	claim := rawNullPeer(t, ep, []byte{0, 0, 0, 0, 1})
	if !closedWithin(claim, 5*time.Second) {
		t.Fatal("the ROUTER kept a peer that claimed routing id 00 00 00 00 01")
	}
	waitFor(t, "the refusal", func() bool { return strings.Contains(srv.stderr.String(), "reserved for generated ids") })
	if want := `routing id \x00\x00\x00\x00\x01 starts with a zero byte, which is reserved for generated ids; connection closed`; !strings.Contains(srv.stderr.String(), want) {
		t.Errorf("ROUTER stderr %q, want %q", srv.stderr.String(), want)
	}

	anon := start(t, "-n", "1", ep)
	// Every connection gets an outcome line, the refused one included.
	waitFor(t, "the anonymous peer", func() bool { return strings.Count(srv.stderr.String(), `routing id \x00\x00\x00\x00\x01`+"\n") == 2 })
	srv.write(t, "\\x00\\x00\\x00\\x00\\x01\tfor the anonymous peer\n")
	if code := anon.wait(t); code != 0 || anon.stdout.String() != "for the anonymous peer\n" {
		t.Fatalf("anonymous peer: exit %d, stdout %q, stderr %s", code, anon.stdout.String(), anon.stderr.String())
	}

	// A peer-chosen id that is in use is refused too, as in libzmq, and
	// the first holder keeps it.
	first := rawNullPeer(t, ep, []byte("X"))
	waitFor(t, "the first X", func() bool { return strings.Count(srv.stderr.String(), "accepted") == 3 })
	second := rawNullPeer(t, ep, []byte("X"))
	if !closedWithin(second, 5*time.Second) {
		t.Fatal("the ROUTER kept a second peer with routing id X")
	}
	if closedWithin(first, 100*time.Millisecond) {
		t.Fatal("the first peer with routing id X was dropped")
	}
}
