// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gss

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"time"
)

// DefaultReplayCacheSize is the number of live AP-REQs a ReplayCache holds
// when NewReplayCache is given zero: about 9 MiB at most.
const DefaultReplayCacheSize = 65536

// A ReplayCache remembers the AP-REQs an acceptor has accepted, for as long
// as they could be replayed: an authenticator is good for the clock skew
// either side of its time, so an entry lives for twice the skew from when
// it was accepted. It is in memory and bounded: when it holds its maximum
// of live entries it refuses new AP-REQs ([ErrReplayCacheFull]) rather than
// forget one that could still be replayed.
//
// A ReplayCache is safe for concurrent use, and one should be shared by all
// the acceptors that share a keytab.
type ReplayCache struct {
	mu      sync.Mutex
	max     int
	entries map[[32]byte]struct{}
	queue   []replayEntry // in insertion order, so in expiry order
	head    int
}

type replayEntry struct {
	key     [32]byte
	expires time.Time
}

// NewReplayCache returns a cache of at most max live entries (zero means
// DefaultReplayCacheSize).
func NewReplayCache(max int) *ReplayCache {
	if max <= 0 {
		max = DefaultReplayCacheSize
	}
	return &ReplayCache{max: max, entries: make(map[[32]byte]struct{})}
}

// replayKey identifies an AP-REQ: the client, the authenticator's time and
// a hash of its ciphertext.
func replayKey(client Principal, ctime time.Time, cusec int, authCipher []byte) [32]byte {
	h := sha256.New()
	var n [8]byte
	for _, c := range client.Components {
		binary.BigEndian.PutUint64(n[:], uint64(len(c)))
		h.Write(n[:])
		h.Write([]byte(c))
	}
	binary.BigEndian.PutUint64(n[:], uint64(len(client.Realm)))
	h.Write(n[:])
	h.Write([]byte(client.Realm))
	binary.BigEndian.PutUint64(n[:], uint64(ctime.Unix()))
	h.Write(n[:])
	binary.BigEndian.PutUint64(n[:], uint64(cusec))
	h.Write(n[:])
	h.Write(authCipher)
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// Len returns the number of entries held, expired ones not yet dropped
// included.
func (c *ReplayCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// add records key until now+ttl. It fails with ErrReplay if key is live,
// and with ErrReplayCacheFull if the cache is full of live entries.
func (c *ReplayCache) add(key [32]byte, now time.Time, ttl time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expireLocked(now)
	if _, ok := c.entries[key]; ok {
		return ErrReplay
	}
	if len(c.entries) >= c.max {
		return ErrReplayCacheFull
	}
	c.entries[key] = struct{}{}
	c.queue = append(c.queue, replayEntry{key: key, expires: now.Add(ttl)})
	return nil
}

func (c *ReplayCache) expireLocked(now time.Time) {
	for c.head < len(c.queue) && !now.Before(c.queue[c.head].expires) {
		delete(c.entries, c.queue[c.head].key)
		c.queue[c.head] = replayEntry{}
		c.head++
	}
	// Compact once the dead prefix is half the slice.
	if c.head > 0 && c.head*2 >= len(c.queue) {
		n := copy(c.queue, c.queue[c.head:])
		clear(c.queue[n:])
		c.queue = c.queue[:n]
		c.head = 0
	}
}
