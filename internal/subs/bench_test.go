package subs

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchTopics returns n distinct topics of 4 to 16 random bytes, the same
// every run, and a message of size bytes that starts with the last one
// (a hit) and another that shares no topic's first byte (a miss).
func benchTopics(n, size int) (topics [][]byte, hit, miss []byte) {
	r := rand.New(rand.NewPCG(uint64(n), 7))
	seen := map[string]bool{}
	for len(topics) < n {
		t := make([]byte, 4+r.IntN(13))
		for i := range t {
			t[i] = byte('A' + r.IntN(26))
		}
		if !seen[string(t)] {
			seen[string(t)] = true
			topics = append(topics, t)
		}
	}
	hit = make([]byte, size)
	copy(hit, topics[n-1])
	miss = make([]byte, size)
	for i := range miss {
		miss[i] = 'z'
	}
	return topics, hit, miss
}

var benchSizes = []struct {
	name string
	size int
}{{"16B", 16}, {"64KiB", 64 << 10}}

func BenchmarkTrieMatch(b *testing.B) {
	for _, n := range []int{1, 100, 10000} {
		for _, s := range benchSizes {
			topics, hit, miss := benchTopics(n, s.size)
			var tr Trie
			for _, t := range topics {
				tr.Add(t)
			}
			for _, c := range []struct {
				name string
				msg  []byte
				want bool
			}{{"hit", hit, true}, {"miss", miss, false}} {
				b.Run(fmt.Sprintf("topics=%d/msg=%s/%s", n, s.name, c.name), func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						if tr.Match(c.msg) != c.want {
							b.Fatal("wrong answer")
						}
					}
				})
			}
		}
	}
}

// BenchmarkMTrieMatch: topic i is held by pipe i%64, and every pipe also
// holds the first 2 bytes of its topics, so that a hit reports a pipe
// found twice on the path (once).
func BenchmarkMTrieMatch(b *testing.B) {
	pipes := make([]int, 64)
	for _, n := range []int{1, 100, 10000} {
		for _, s := range benchSizes {
			topics, hit, miss := benchTopics(n, s.size)
			var m MTrie[*int]
			for i, t := range topics {
				m.Add(t, &pipes[i%64])
				m.Add(t[:2], &pipes[i%64])
			}
			for _, c := range []struct {
				name string
				msg  []byte
			}{{"hit", hit}, {"miss", miss}} {
				b.Run(fmt.Sprintf("topics=%d/msg=%s/%s", n, s.name, c.name), func(b *testing.B) {
					b.ReportAllocs()
					var got int
					fn := func(*int) { got++ }
					for b.Loop() {
						m.Match(c.msg, fn)
					}
					if c.name == "hit" && got == 0 {
						b.Fatal("nothing matched")
					}
				})
			}
		}
	}
}

// BenchmarkMTrieMatchSubscribers: 1000 pipes all subscribed to "" and to
// the message's topic; the cost of reporting and deduplicating them.
func BenchmarkMTrieMatchSubscribers(b *testing.B) {
	pipes := make([]int, 1000)
	var m MTrie[*int]
	for i := range pipes {
		m.Add(nil, &pipes[i])
		m.Add([]byte("topic"), &pipes[i])
	}
	msg := []byte("topic/message")
	b.ReportAllocs()
	var got int
	fn := func(*int) { got++ }
	for b.Loop() {
		m.Match(msg, fn)
	}
	if got == 0 {
		b.Fatal("nothing matched")
	}
}

// BenchmarkChurn: subscribe and unsubscribe one topic on a trie of 10 000.
func BenchmarkChurn(b *testing.B) {
	topics, _, _ := benchTopics(10000, 16)
	var tr Trie
	var m MTrie[int]
	for i, t := range topics {
		tr.Add(t)
		m.Add(t, i%64)
	}
	topic := []byte("churn/topic")
	b.Run("Trie", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			tr.Add(topic)
			tr.Remove(topic)
		}
	})
	b.Run("MTrie", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.Add(topic, 1)
			m.Remove(topic, 1)
		}
	})
}
