package zmtpcat

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

	"github.com/zmtpsec/zmtpsec/internal/testhelp"
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
	stopCh         chan struct{}
	stopOnce       sync.Once
}

// stop ends the run (status 0), as if it had been interrupted.
func (p *proc) stop() { p.stopOnce.Do(func() { close(p.stopCh) }) }

func start(t *testing.T, args ...string) *proc {
	t.Helper()
	pr, pw := io.Pipe()
	p := &proc{args: args, stdin: pw, stdout: &syncBuffer{}, stderr: &syncBuffer{}, exit: make(chan int, 1), stopCh: make(chan struct{})}
	go func() { p.exit <- runUntil(&Program{}, args, pr, p.stdout, p.stderr, p.stopCh) }()
	t.Cleanup(func() {
		p.stop()
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

// logged waits up to 10 s for want to appear in p's stderr, where the
// events of its socket are reported as they come.
func (p *proc) logged(t *testing.T, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(p.stderr.String(), want); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("zmtpcat %q: stderr %q, want %q", p.args, p.stderr.String(), want)
		}
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
	srv.logged(t, "peer type DEALER, peer user-id \"\", peer address 127.0.0.1, routing id C1\n")
}

// TestRouterRoutes: stdin lines go to the peer named by their first frame;
// a peer without an Identity gets a routing id made up (libzmq's form: a
// zero byte and a counter from a random start), different for each, which
// the ROUTER prints as the first frame of what that peer sends.
func TestRouterRoutes(t *testing.T) {
	srv, ep := server(t, "-type", "ROUTER", anyPort)
	results := make(chan string, 4)
	for _, tc := range []struct {
		args  []string
		stdin string
	}{{[]string{"-identity", "A"}, ""}, {[]string{"-identity", "B"}, ""}, {nil, "anon\n"}, {nil, "anon\n"}} {
		go func() {
			_, out, errs := client(t, tc.stdin, append(tc.args, "-n", "1", ep)...)
			results <- fmt.Sprintf("%v: %s", tc.args, out+errs)
		}()
	}
	waitFor(t, "four connections", func() bool { return strings.Count(srv.stderr.String(), "accepted") == 4 })
	for _, id := range []string{"A", "B"} {
		if !strings.Contains(srv.stderr.String(), ", routing id "+id+"\n") {
			t.Errorf("no peer with routing id %s: %s", id, srv.stderr.String())
		}
	}
	if n := strings.Count(srv.stderr.String(), ", routing id generated (the first frame of its messages)\n"); n != 2 {
		t.Errorf("%d peers with a generated routing id, want 2: %s", n, srv.stderr.String())
	}
	// The anonymous peers' ids, from what they sent.
	var anon []string
	waitFor(t, "the anonymous peers' lines", func() bool {
		anon = regexp.MustCompile(`(?m)^(.+)\tanon$`).FindAllString(srv.stdout.String(), -1)
		return len(anon) == 2
	})
	for i, l := range anon {
		anon[i] = strings.TrimSuffix(l, "\tanon")
		if id := unescape([]byte(anon[i])); len(id) != 5 || id[0] != 0 {
			t.Errorf("generated routing id %s: want a zero byte and four more", anon[i])
		}
	}
	if anon[0] == anon[1] {
		t.Fatalf("two anonymous peers share routing id %s", anon[0])
	}
	srv.write(t, "B\tfor\tB\nA\tfor A\nnobody\tlost\n"+anon[0]+"\tfor anon\n"+anon[1]+"\tfor anon\n")
	got := map[string]int{}
	for range 4 {
		select {
		case r := <-results:
			got[r[:strings.Index(r, "\n")+1]]++
		case <-time.After(10 * time.Second):
			t.Fatalf("clients did not all get their message; got %v", got)
		}
	}
	for want, n := range map[string]int{"[-identity B]: for\tB\n": 1, "[-identity A]: for A\n": 1, "[]: for anon\n": 2} {
		if got[want] != n {
			t.Errorf("%q %d times, want %d: %v", want, got[want], n, got)
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
// delimiter comes back to it. A REP takes turns, as libzmq's: the second
// request is received, and printed, once the first is answered. (Before
// zmtpcat was built on package socket it printed both at once.)
func TestRepAnswersFromStdin(t *testing.T) {
	srv, ep := server(t, "-type", "REP", anyPort)
	req := start(t, "-type", "REQ", "-n", "1", ep)
	dealer := start(t, "-n", "1", ep)
	req.write(t, "question\n")
	waitFor(t, "the REQ's request", func() bool { return srv.stdout.String() == "question\n" })
	dealer.write(t, "\tfrom\tdealer\n") // an empty delimiter, as a DEALER talking to REP must send
	srv.write(t, "answer\n")
	if code := req.wait(t); code != 0 || req.stdout.String() != "answer\n" {
		t.Errorf("REQ: exit %d, stdout %q, stderr %s", code, req.stdout.String(), req.stderr.String())
	}
	waitFor(t, "the DEALER's request", func() bool { return srv.stdout.String() == "question\nfrom\tdealer\n" })
	srv.write(t, "to\tdealer\n")
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
	srv.logged(t, "accepted")
	if strings.Count(srv.stderr.String(), "accepted") != 1 {
		t.Errorf("server log: %s", srv.stderr.String())
	}
}

// TestSlowSubscriberDoesNotBlockOthers: a SUB that stops reading misses
// messages once its queue is full (the PUB's SendHWM); the others still
// get theirs.
func TestSlowSubscriberDoesNotBlockOthers(t *testing.T) {
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

// TestConnectBeforeBind: a connecting zmtpcat started before anybody
// listens waits for the peer (it used to exit 1 with "connection
// refused"), and the lines it read meanwhile reach the peer once it binds.
func TestConnectBeforeBind(t *testing.T) {
	ep := deadEndpoint(t)
	cl := start(t, "-type", "PUSH", ep)
	cl.write(t, "early\none\tmore\n")
	waitFor(t, "a connect attempt", func() bool { return strings.Contains(cl.stderr.String(), "trying again until the peer is there") })
	if len(cl.exit) > 0 {
		t.Fatalf("the client exited before the peer was there: %s", cl.stderr.String())
	}
	srv := start(t, "-bind", "-type", "PULL", "-n", "2", ep)
	if code := srv.wait(t); code != 0 || srv.stdout.String() != "early\none\tmore\n" {
		t.Fatalf("PULL: exit %d, stdout %q, stderr %s", code, srv.stdout.String(), srv.stderr.String())
	}
	cl.logged(t, "connected to "+ep+": mechanism NULL, peer type PULL")
}

// TestReconnectAfterPeerRestarts: a connection the peer closes is made
// again when the peer is back on the same endpoint, and traffic resumes.
// (Before zmtpcat was built on package socket, a connecting run ended with
// its connection: 0 if the peer closed it, 1 if -n was still waiting.)
func TestReconnectAfterPeerRestarts(t *testing.T) {
	srv, ep := server(t, "-type", "PULL", "-n", "1", anyPort)
	cl := start(t, "-type", "PUSH", ep)
	cl.write(t, "one\n")
	if code := srv.wait(t); code != 0 || srv.stdout.String() != "one\n" {
		t.Fatalf("first PULL: exit %d, %q, %s", code, srv.stdout.String(), srv.stderr.String())
	}
	// The PULL has exited, closing the connection; the PUSH says so and
	// carries on. (A line written before it noticed could be lost in the
	// dead connection, as with libzmq.)
	waitFor(t, "the client to see the connection end", func() bool {
		return strings.Contains(cl.stderr.String(), ep+": the peer closed the connection")
	})
	if len(cl.exit) > 0 {
		t.Fatalf("the client exited with its connection: %s", cl.stderr.String())
	}
	cl.write(t, "two\n")
	srv2 := start(t, "-bind", "-type", "PULL", "-n", "1", ep)
	if code := srv2.wait(t); code != 0 || srv2.stdout.String() != "two\n" {
		t.Fatalf("restarted PULL: exit %d, %q, %s", code, srv2.stdout.String(), srv2.stderr.String())
	}
	waitFor(t, "the client to connect twice", func() bool { return strings.Count(cl.stderr.String(), "connected to "+ep+":") == 2 })
	// A REQ whose peer restarts gets the next reply from the new one.
	rep, ep := server(t, "-type", "REP", "-echo", anyPort)
	req := start(t, "-type", "REQ", "-n", "2", ep)
	req.write(t, "first\n")
	waitFor(t, "the first reply", func() bool { return req.stdout.String() == "first\n" })
	rep.stop()
	if code := rep.wait(t); code != 0 {
		t.Fatalf("REP: exit %d", code)
	}
	waitFor(t, "the REQ to see the connection end", func() bool {
		return strings.Contains(req.stderr.String(), ep+": the peer closed the connection")
	})
	start(t, "-bind", "-type", "REP", "-echo", ep)
	req.write(t, "second\n")
	if code := req.wait(t); code != 0 || req.stdout.String() != "first\nsecond\n" {
		t.Fatalf("REQ: exit %d, %q, %s", code, req.stdout.String(), req.stderr.String())
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

// TestStdinEOFLinger: a connecting zmtpcat whose stdin ends exits once
// every line it read has reached the peer: the socket's linger. The
// lines are written and stdin closed before the peer exists.
func TestStdinEOFLinger(t *testing.T) {
	ep := deadEndpoint(t)
	const n = 500
	var in strings.Builder
	for i := range n {
		fmt.Fprintf(&in, "line %d\twith\tframes\n", i)
	}
	cl := start(t, "-type", "DEALER", ep)
	cl.write(t, in.String())
	cl.stdin.Close()
	waitFor(t, "a connect attempt", func() bool { return strings.Contains(cl.stderr.String(), "trying again until the peer is there") })
	if len(cl.exit) > 0 {
		t.Fatalf("the client exited before its lines were sent: exit %d, %s", cl.wait(t), cl.stderr.String())
	}
	srv := start(t, "-bind", "-type", "ROUTER", ep)
	if code := cl.wait(t); code != 0 {
		t.Fatalf("client: exit %d: %s", code, cl.stderr.String())
	}
	// Everything was delivered before the client exited.
	waitFor(t, "the server to print every line", func() bool { return strings.Count(srv.stdout.String(), "\n") >= n })
	lines := strings.Split(strings.TrimSuffix(srv.stdout.String(), "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("server printed %d lines, want %d", len(lines), n)
	}
	for i, l := range lines {
		if want := fmt.Sprintf("line %d\twith\tframes", i); !strings.HasSuffix(l, "\t"+want) {
			t.Fatalf("line %d: %q, want the routing id and %q", i, l, want)
		}
	}

	// -linger 0: what is queued at the end of stdin is dropped; the run
	// ends without waiting for a peer.
	if code, _, errs := client(t, "dropped\n", "-type", "PUSH", "-linger", "0", deadEndpoint(t)); code != 0 {
		t.Fatalf("-linger 0: exit %d, %s", code, errs)
	}
}

func TestIPC(t *testing.T) {
	ep := "ipc://" + filepath.Join(t.TempDir(), "zmtpcat.sock")
	srv, _ := server(t, "-type", "PAIR", "-echo", ep)
	code, out, errs := client(t, "over\tipc\n", "-type", "PAIR", "-n", "1", ep)
	if code != 0 || out != "over\tipc\n" {
		t.Fatalf("exit %d, %q, %s", code, out, errs)
	}
	srv.logged(t, "accepted ipc peer: mechanism NULL, peer type PAIR, peer user-id \"\", peer address (none)")
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
	if _, err := c.Write(testhelp.NullDealerHello(identity)); err != nil {
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

// TestRouterDuplicateID: a second peer with a routing id in use is
// refused, its connection closed, and the first holder keeps the id (as
// libzmq without ROUTER_HANDOVER, except that libzmq keeps the second
// connection open and loses what it sends). A peer may claim an id in the
// form of the generated ones (a zero byte first), as with libzmq.
func TestRouterDuplicateID(t *testing.T) {
	srv, ep := server(t, "-type", "ROUTER", anyPort)
	first := rawNullPeer(t, ep, []byte("X"))
	waitFor(t, "the first X", func() bool { return strings.Count(srv.stderr.String(), "accepted") == 1 })
	second := rawNullPeer(t, ep, []byte("X"))
	if !closedWithin(second, 5*time.Second) {
		t.Fatal("the ROUTER kept a second peer with routing id X")
	}
	waitFor(t, "the refusal", func() bool {
		return strings.Contains(srv.stderr.String(), ": its routing id is in use by another peer; connection closed\n")
	})
	if closedWithin(first, 100*time.Millisecond) {
		t.Fatal("the first peer with routing id X was dropped")
	}
	zero := rawNullPeer(t, ep, []byte{0, 'z'})
	waitFor(t, "the peer with id 00 7a", func() bool {
		return strings.Contains(srv.stderr.String(), `, routing id \x00z`+"\n")
	})
	if closedWithin(zero, 100*time.Millisecond) {
		t.Fatal("the peer with routing id 00 7a was dropped")
	}
}

// TestXPubXSub: an XSUB sends its -subscribe topics as subscription
// messages, which an XPUB prints (\x01 and the topic) and applies: what it
// publishes then reaches the XSUB.
func TestXPubXSub(t *testing.T) {
	srv, ep := server(t, "-type", "XPUB", "-n", "1", anyPort)
	sub := start(t, "-type", "XSUB", "-subscribe", "weather.", "-n", "1", ep)
	if code := srv.wait(t); code != 0 || srv.stdout.String() != "\\x01weather.\n" {
		t.Fatalf("XPUB: exit %d, stdout %q, stderr %s", code, srv.stdout.String(), srv.stderr.String())
	}
	pub := start(t, "-bind", "-type", "XPUB", ep)
	for i := 0; len(sub.exit) == 0; i++ {
		pub.write(t, fmt.Sprintf("sport.%d\nweather.%d\n", i, i))
		time.Sleep(10 * time.Millisecond)
		if i > 500 {
			t.Fatalf("the XSUB has %q", sub.stdout.String())
		}
	}
	if code := sub.wait(t); code != 0 || !regexp.MustCompile(`^weather\.\d+\n$`).MatchString(sub.stdout.String()) {
		t.Fatalf("XSUB: exit %d, stdout %q, stderr %s", code, sub.stdout.String(), sub.stderr.String())
	}
}

// TestLingerExpiredExit: messages that no peer took within -linger are
// dropped, and the exit status says so.
func TestLingerExpiredExit(t *testing.T) {
	code, _, errs := client(t, "never delivered\n", "-type", "PUSH", "-linger", "200ms", deadEndpoint(t))
	if code != 1 || !strings.Contains(errs, "1 queued message(s) dropped") {
		t.Fatalf("exit %d, stderr %q; want 1 and the dropped count", code, errs)
	}
}
