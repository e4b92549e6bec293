package transport

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

func TestAddrKey(t *testing.T) {
	tests := []struct {
		addr net.Addr
		want string
		ok   bool
	}{
		{&net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 5}, "192.0.2.7/32", true},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.7"), Port: 5}, "192.0.2.7/32", true},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:3:4:5:6"), Port: 5}, "2001:db8:1:2::/64", true},
		{&net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 5, Zone: "eth0"}, "fe80::/64", true},
		{&net.UnixAddr{Name: "/tmp/s", Net: "unix"}, "", false},
		{&net.TCPAddr{}, "", false},
		{nil, "", false},
	}
	for _, tt := range tests {
		k, ok := addrKey(tt.addr)
		if ok != tt.ok || (ok && k.String() != tt.want) {
			t.Errorf("addrKey(%v) = %v, %v; want %s, %v", tt.addr, k, ok, tt.want, tt.ok)
		}
	}
}

// TestAddrTable walks one address through the per-address limit, a ban and
// its expiry.
func TestAddrTable(t *testing.T) {
	tb := newAddrTable(2, 3, time.Minute, 10*time.Second)
	k := netip.MustParsePrefix("192.0.2.1/32")
	other := netip.MustParsePrefix("192.0.2.2/32")
	now := time.Unix(1000, 0)
	if err := tb.admit(k, now); err != nil {
		t.Fatal(err)
	}
	if err := tb.admit(k, now); err != nil {
		t.Fatal(err)
	}
	if err := tb.admit(k, now); !errors.Is(err, ErrAddressHandshakes) {
		t.Fatalf("third handshake: %v, want ErrAddressHandshakes", err)
	}
	if err := tb.admit(other, now); err != nil {
		t.Fatalf("another address: %v", err)
	}
	tb.done(other, now)
	// Three failures within the window ban; the fourth admit is refused.
	for i := range 3 {
		if i > 0 {
			if err := tb.admit(k, now); err != nil {
				t.Fatal(err)
			}
		}
		if banned := tb.fail(k, now); banned != (i == 2) {
			t.Fatalf("failure %d: banned = %v", i+1, banned)
		}
		tb.done(k, now)
	}
	tb.done(k, now) // the second handshake admitted at first
	if err := tb.admit(k, now.Add(9*time.Second)); !errors.Is(err, ErrAddressBanned) {
		t.Fatalf("while banned: %v, want ErrAddressBanned", err)
	}
	if !tb.banned(k, now) || tb.banned(other, now) {
		t.Fatal("banned() disagrees")
	}
	later := now.Add(10 * time.Second)
	if err := tb.admit(k, later); err != nil {
		t.Fatalf("after the ban: %v", err)
	}
	tb.done(k, later)
	if n := tb.len(); n != 0 {
		t.Errorf("%d entries left once everything expired", n)
	}
	// Failures spread beyond the window never ban.
	for i := range 10 {
		at := later.Add(time.Duration(i) * 2 * time.Minute)
		tb.admit(k, at)
		if tb.fail(k, at) {
			t.Fatalf("failure %d, two minutes apart, banned", i)
		}
		tb.done(k, at)
	}
}

// TestAddrTableBounded: failures from ever new addresses do not grow the
// table past maxIdle, and the bans already held stand.
func TestAddrTableBounded(t *testing.T) {
	tb := newAddrTable(0, 1, time.Minute, time.Hour)
	tb.maxIdle = 100
	now := time.Unix(1000, 0)
	first := netip.MustParsePrefix("10.0.0.0/32")
	for i := range 10_000 {
		var a [4]byte
		binary.BigEndian.PutUint32(a[:], 10<<24|uint32(i))
		k := netip.PrefixFrom(netip.AddrFrom4(a), 32)
		if err := tb.admit(k, now); err != nil {
			t.Fatalf("address %d: %v", i, err)
		}
		tb.fail(k, now)
		tb.done(k, now)
		now = now.Add(time.Millisecond)
	}
	if n := tb.len(); n > 100 {
		t.Errorf("table holds %d entries, bound 100", n)
	}
	if !tb.banned(first, now) {
		t.Error("the first ban was dropped to make room")
	}
	// Once the bans expire, the sweep makes room again.
	now = now.Add(2 * time.Hour)
	k := netip.MustParsePrefix("192.0.2.9/32")
	tb.admit(k, now)
	tb.fail(k, now)
	tb.done(k, now)
	if !tb.banned(k, now) {
		t.Error("no room for a new ban after the old ones expired")
	}
}

// FuzzAddrTable runs random operations on a small table and checks its
// invariants: bounded size, in-flight counts that match, the per-address
// limit, and bans that end.
func FuzzAddrTable(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{0x10, 0x10, 0x10, 0x11, 0x11, 0x12, 0x33, 0x33, 0x33, 0x44})
	f.Fuzz(func(t *testing.T, ops []byte) {
		const perAddr, idleCap = 3, 8
		tb := newAddrTable(perAddr, 2, 10*time.Second, 5*time.Second)
		tb.maxIdle = idleCap
		now := time.Unix(1000, 0)
		inflight := map[netip.Prefix]int{}
		total := 0
		for _, op := range ops {
			k := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, 0, op & 0x0f}), 32)
			switch op >> 4 & 3 {
			case 0: // a handshake starts
				err := tb.admit(k, now)
				switch {
				case err == nil:
					inflight[k]++
					total++
				case errors.Is(err, ErrAddressHandshakes):
					if inflight[k] < perAddr {
						t.Fatalf("refused %v with %d in flight", k, inflight[k])
					}
				case errors.Is(err, ErrAddressBanned):
				default:
					t.Fatal(err)
				}
			case 1, 2: // one ends, failed or not
				if inflight[k] == 0 {
					continue
				}
				if op>>4&3 == 2 {
					tb.fail(k, now)
				}
				tb.done(k, now)
				inflight[k]--
				total--
			case 3:
				now = now.Add(time.Duration(op>>6+1) * time.Second)
			}
			if n := tb.len(); n > idleCap+total {
				t.Fatalf("%d entries with %d handshakes in flight; bound %d", n, total, idleCap+total)
			}
			for k, n := range inflight {
				if e := tb.m[k]; n > 0 && (e == nil || e.inflight != n) {
					t.Fatalf("%v: table says %v, want %d in flight", k, e, n)
				}
			}
		}
		// Every ban ends: after the ban and the window, every address is
		// admitted again.
		now = now.Add(time.Minute)
		for k := range inflight {
			if tb.banned(k, now) {
				t.Fatalf("%v still banned", k)
			}
		}
	})
}

func TestZAPDeadline(t *testing.T) {
	now := time.Unix(1000, 0)
	tests := []struct{ left, margin time.Duration }{
		{30 * time.Second, 3 * time.Second},
		{time.Second, 100 * time.Millisecond},
		{300 * time.Millisecond, 100 * time.Millisecond},
		{100 * time.Millisecond, 50 * time.Millisecond},
	}
	for _, tt := range tests {
		d := now.Add(tt.left)
		if got := d.Sub(zapDeadline(d, now)); got != tt.margin {
			t.Errorf("%v left: cut off %v before the deadline, want %v", tt.left, got, tt.margin)
		}
	}
}

// TestListenerAccounting opens many connections at once, some of which
// complete their handshake, some fail, and some are closed mid-way while
// others close concurrently, and checks that every slot comes back.
func TestListenerAccounting(t *testing.T) {
	checkGoroutines(t)
	var events sync.Map
	cfg := &Config{SocketType: zmtp.ROUTER, HandshakeTimeout: 2 * time.Second, MaxHandshakes: 8,
		OnHandshake: func(ev HandshakeEvent) {
			if ev.Outcome != OutcomeRefused {
				if _, dup := events.LoadOrStore(ev.RemoteAddr, ev.Outcome); dup {
					t.Errorf("second event for %s", ev.RemoteAddr)
				}
			}
		}}
	l, err := Listen("tcp://127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	const n = 64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < n; i++ {
			c, err := l.Accept()
			if err != nil {
				t.Error(err)
				return
			}
			wg.Add(2)
			go func() { // handshake, and a racing Close for some
				defer wg.Done()
				c.Handshake()
			}()
			go func() {
				defer wg.Done()
				if i%3 == 0 {
					c.Close()
				}
				c.Handshake()
				c.Close()
				c.Close()
			}()
		}
	}()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nc, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Error(err)
				return
			}
			defer nc.Close()
			if i%2 == 0 {
				nc.Write([]byte("garbage that is no greeting at all, certainly not 64 bytes of it......."))
				return
			}
			c := Client(nc, &Config{SocketType: zmtp.DEALER})
			c.Handshake()
		}()
	}
	wg.Wait()
	l.Close()
	if s := l.Stats(); s != (ListenerStats{}) {
		t.Errorf("stats after everything closed: %+v, want zero", s)
	}
}

// TestListenerHandshakeClockStartsAtAccept: a Conn whose handshake is
// never started fails at Accept + HandshakeTimeout, frees its slot, and is
// reported once.
func TestListenerHandshakeClockStartsAtAccept(t *testing.T) {
	checkGoroutines(t)
	evs := make(chan HandshakeEvent, 4)
	l, err := Listen("tcp://127.0.0.1:0", &Config{SocketType: zmtp.ROUTER, HandshakeTimeout: 100 * time.Millisecond,
		OnHandshake: func(ev HandshakeEvent) { evs <- ev }})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if s := l.Stats(); s.Handshakes != 1 || s.Conns != 1 {
		t.Fatalf("stats: %+v", s)
	}
	ev := <-evs
	if ev.Outcome != OutcomeFailedNoDetail || !errors.Is(ev.Err, context.DeadlineExceeded) {
		t.Fatalf("event: %+v", ev)
	}
	err = c.Handshake()
	var he *HandshakeError
	if !errors.As(err, &he) || !he.Timeout() {
		t.Fatalf("Handshake after the timeout: %v", err)
	}
	if s := l.Stats(); s.Handshakes != 0 || s.Conns != 0 {
		t.Fatalf("stats: %+v", s)
	}
	select {
	case ev := <-evs:
		t.Fatalf("second event: %+v", ev)
	case <-time.After(50 * time.Millisecond):
	}
}

// TestZAPCapAndTimeout: with one ZAP slot, a hung handler is cut off
// before the deadline (the client reads ERROR "500"), keeps its slot until
// it returns, and the next handshake is refused at once with 300.
func TestZAPCapAndTimeout(t *testing.T) {
	checkGoroutines(t)
	release := make(chan struct{})
	calls := make(chan struct{}, 4)
	h := zap.HandlerFunc(func(ctx context.Context, _ *zap.Request) (*zap.Reply, error) {
		calls <- struct{}{}
		<-release
		return &zap.Reply{StatusCode: 200}, nil
	})
	evs := make(chan HandshakeEvent, 4)
	l, err := Listen("tcp://127.0.0.1:0", &Config{SocketType: zmtp.ROUTER, ZAPHandler: h, ZAPDomain: "d",
		HandshakeTimeout: 3 * time.Second, MaxZAPInFlight: 1,
		OnHandshake: func(ev HandshakeEvent) { evs <- ev }})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { c.Handshake(); c.Close() }()
		}
	}()
	// The bounds tell the outcomes apart with room for a loaded machine:
	// the server cuts the stuck ZAP request off at its 3 s handshake
	// deadline, well before the client's own 20 s; a client over the cap
	// is refused at once, not after those 3 s.
	client := &Config{SocketType: zmtp.DEALER, HandshakeTimeout: 20 * time.Second}
	start := time.Now()
	_, err = Dial(l.Endpoint(), client)
	var pe interface{ Status() zap.StatusCode }
	if !errors.As(err, &pe) || pe.Status() != zap.StatusInternalError {
		t.Fatalf("first client: %v, want a peer ERROR 500", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("refusal took %v, long after the server's 3 s handshake deadline", took)
	}
	ev := <-evs
	if ev.Outcome != OutcomeFailedAuth || ev.ZAPStatus != 500 || !errors.Is(ev.Err, ErrZAPTimeout) {
		t.Fatalf("event: %+v", ev)
	}
	if s := l.Stats(); s.ZAPInFlight != 1 {
		t.Fatalf("stats after the cut-off: %+v", s)
	}
	start = time.Now()
	if _, err := Dial(l.Endpoint(), client); err == nil {
		t.Fatal("second client served with the ZAP cap reached")
	}
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("refusal over the cap took %v: it waited for the slot", took)
	}
	ev = <-evs
	if ev.ZAPStatus != 300 || ev.ZAPText != ZAPBusyText {
		t.Fatalf("event over the cap: %+v", ev)
	}
	if len(calls) != 1 {
		t.Fatalf("handler asked %d times", len(calls))
	}
	close(release)
	deadline := time.Now().Add(2 * time.Second)
	for l.Stats().ZAPInFlight != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("ZAP slot not returned: %+v", l.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestListenerCloseWhileWaitingForSlot: an Accept waiting for a handshake
// slot returns net.ErrClosed when the listener is closed, and the slot of
// the connection already accepted still comes back.
func TestListenerCloseWhileWaitingForSlot(t *testing.T) {
	checkGoroutines(t)
	l, err := Listen("tcp://127.0.0.1:0", &Config{SocketType: zmtp.ROUTER, MaxHandshakes: 1})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	nc2, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc2.Close()
	errc := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if c != nil {
			c.Close()
		}
		errc <- err
	}()
	select {
	case err := <-errc:
		t.Fatalf("Accept returned with no slot free: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	l.Close()
	if err := <-errc; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v, want net.ErrClosed", err)
	}
	c.Close()
	if s := l.Stats(); s.Handshakes != 0 || s.Conns != 0 {
		t.Fatalf("stats: %+v", s)
	}
}
