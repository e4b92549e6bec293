package transport

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Refusals by a Listener's admission control. They are the Err of the
// [HandshakeEvent] of a refused connection; Accept itself never returns
// them, it goes on to the next connection.
var (
	// ErrAddressBanned refuses a source address banned after repeated
	// failed handshakes (Config.BanAfterFailures).
	ErrAddressBanned = errors.New("transport: source address banned after repeated failed handshakes")

	// ErrAddressHandshakes refuses a source address that already has
	// Config.MaxHandshakesPerAddress handshakes in flight.
	ErrAddressHandshakes = errors.New("transport: too many handshakes in flight from the source address")

	// ErrTooManyConns refuses a connection to a Listener that already has
	// Config.MaxConns connections open.
	ErrTooManyConns = errors.New("transport: too many connections")
)

// ZAPBusyText is the status text of the status-300 answer given in place of
// the ZAP handler's when Config.MaxZAPInFlight requests are already running.
const ZAPBusyText = "too many ZAP requests in flight"

// maxTrackedAddresses bounds the per-address table of a Listener for
// addresses with no handshake in flight (those are bounded by
// MaxHandshakes): failure counts and bans. When it is full, expired
// entries are dropped (at most once a second); if none has expired, the
// failures and bans of addresses not yet in the table are forgotten, and
// those already kept stand until they expire.
const maxTrackedAddresses = 1 << 14

// sweepInterval is how often a full table may be swept for idle entries.
const sweepInterval = time.Second

func (c *Config) maxHandshakes() int {
	if c.MaxHandshakes == 0 {
		return DefaultMaxHandshakes
	}
	return max(c.MaxHandshakes, 0)
}

func (c *Config) maxHandshakesPerAddress() int {
	if c.MaxHandshakesPerAddress == 0 {
		return DefaultMaxHandshakesPerAddress
	}
	return max(c.MaxHandshakesPerAddress, 0)
}

func (c *Config) maxZAPInFlight() int {
	if c.MaxZAPInFlight == 0 {
		return DefaultMaxZAPInFlight
	}
	return max(c.MaxZAPInFlight, 0)
}

func (c *Config) banWindow() time.Duration {
	if c.BanWindow <= 0 {
		return DefaultBanWindow
	}
	return c.BanWindow
}

func (c *Config) banDuration() time.Duration {
	if c.BanDuration <= 0 {
		return DefaultBanDuration
	}
	return c.BanDuration
}

// addrKey returns the key a remote address is counted under: the IP for
// IPv4 (and IPv4-mapped IPv6), the /64 prefix for IPv6. ok is false for
// addresses without an IP (IPC).
func addrKey(a net.Addr) (key netip.Prefix, ok bool) {
	var ip netip.Addr
	switch a := a.(type) {
	case *net.TCPAddr:
		ip, ok = netip.AddrFromSlice(a.IP)
	default:
		if a == nil {
			return key, false
		}
		ap, err := netip.ParseAddrPort(a.String())
		if err != nil {
			return key, false
		}
		ip, ok = ap.Addr(), true
	}
	if !ok || !ip.IsValid() {
		return key, false
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is4() {
		return netip.PrefixFrom(ip, 32), true
	}
	key, _ = ip.Prefix(64)
	return key, true
}

// addrTable counts, per source address, the handshakes in flight and the
// failed handshakes in the current window, and holds bans. Its size is
// bounded: entries with handshakes in flight number at most the listener's
// handshake slots, and the others at most maxTrackedAddresses.
type addrTable struct {
	perAddr  int // handshakes in flight per address; 0 = no limit
	banAfter int // failures that ban; 0 = banning off
	window   time.Duration
	banFor   time.Duration
	maxIdle  int // entries without a handshake in flight

	mu        sync.Mutex
	m         map[netip.Prefix]*addrEntry
	idle      int // entries with inflight == 0; under mu
	lastSweep time.Time
}

type addrEntry struct {
	inflight    int
	failures    int       // failures since windowStart
	windowStart time.Time // first failure of the current window
	bannedUntil time.Time
}

func newAddrTable(perAddr, banAfter int, window, banFor time.Duration) *addrTable {
	return &addrTable{
		perAddr: perAddr, banAfter: banAfter, window: window, banFor: banFor,
		maxIdle: maxTrackedAddresses,
		m:       make(map[netip.Prefix]*addrEntry),
	}
}

// expired reports whether e holds nothing worth keeping at now.
func (t *addrTable) expired(e *addrEntry, now time.Time) bool {
	return e.inflight == 0 && !now.Before(e.bannedUntil) &&
		(e.failures == 0 || now.Sub(e.windowStart) >= t.window)
}

// admit counts a new handshake from k, or refuses it with ErrAddressBanned
// or ErrAddressHandshakes.
func (t *addrTable) admit(k netip.Prefix, now time.Time) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.m[k]
	if e != nil && now.Before(e.bannedUntil) {
		return ErrAddressBanned
	}
	if e != nil && t.perAddr > 0 && e.inflight >= t.perAddr {
		return ErrAddressHandshakes
	}
	if e == nil {
		e = &addrEntry{}
		t.m[k] = e
	} else if e.inflight == 0 {
		t.idle--
	}
	e.inflight++
	return nil
}

// done ends a handshake admitted from k.
func (t *addrTable) done(k netip.Prefix, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.m[k]
	if e == nil || e.inflight == 0 {
		panic("transport: address table: handshake released twice") // a bug of ours
	}
	e.inflight--
	if e.inflight > 0 {
		return
	}
	if t.expired(e, now) {
		delete(t.m, k)
		return
	}
	// The entry keeps failures or a ban: keep it if there is room.
	t.trimLocked(now)
	if t.idle >= t.maxIdle {
		delete(t.m, k)
		return
	}
	t.idle++
}

// fail counts a failed handshake from k and reports whether it banned k.
// Call it before done, while the handshake still holds its entry.
func (t *addrTable) fail(k netip.Prefix, now time.Time) (banned bool) {
	if t.banAfter <= 0 {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.m[k]
	if e == nil {
		// The handshake's entry is gone (it was released first); track
		// the address again only if there is room.
		t.trimLocked(now)
		if t.idle >= t.maxIdle {
			return false
		}
		e = &addrEntry{}
		t.m[k] = e
		t.idle++
	}
	if now.Before(e.bannedUntil) {
		return false // failures while banned do not extend the ban
	}
	if e.failures == 0 || now.Sub(e.windowStart) >= t.window {
		e.failures, e.windowStart = 0, now
	}
	e.failures++
	if e.failures < t.banAfter {
		return false
	}
	e.failures, e.windowStart = 0, time.Time{}
	e.bannedUntil = now.Add(t.banFor)
	return true
}

// trimLocked drops expired entries when the table holds too many idle
// ones, at most once per sweepInterval; the caller holds mu.
func (t *addrTable) trimLocked(now time.Time) {
	if t.idle < t.maxIdle || now.Sub(t.lastSweep) < sweepInterval {
		return
	}
	t.lastSweep = now
	for k, e := range t.m {
		if t.expired(e, now) {
			delete(t.m, k)
			t.idle--
		}
	}
}

// banned reports whether k is banned at now.
func (t *addrTable) banned(k netip.Prefix, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.m[k]
	return e != nil && now.Before(e.bannedUntil)
}

// len returns the number of entries.
func (t *addrTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

// counter is a counting semaphore that never blocks: acquire fails at the
// limit. A limit of 0 means none (the count is still kept).
type counter struct {
	limit int64
	n     atomic.Int64
}

func (c *counter) acquire() bool {
	for {
		n := c.n.Load()
		if c.limit > 0 && n >= c.limit {
			return false
		}
		if c.n.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (c *counter) release() {
	if c.n.Add(-1) < 0 {
		panic("transport: counter released more than acquired") // a bug of ours
	}
}
