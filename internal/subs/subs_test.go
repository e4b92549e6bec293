package subs

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func bs(s string) []byte { return []byte(s) }

// TestTrieSUB walks through what a SUB socket does with its trie
// (src/xsub.cpp): duplicates counted, CANCEL only at zero, prefix filter,
// replay of distinct topics.
func TestTrieSUB(t *testing.T) {
	var tr Trie
	if tr.Match(bs("anything")) || tr.Match(nil) {
		t.Fatal("an empty Trie matches")
	}
	steps := []struct {
		op        string // "add", "rm"
		topic     string
		first     bool // add
		last      bool // rm
		found     bool // rm
		len       int
		match     []string
		mismatch  []string
		replayed  []string
		hasTopics []string
	}{
		{op: "add", topic: "T2", first: true, len: 1, match: []string{"T2", "T2x"}, mismatch: []string{"T", "T1", ""}, replayed: []string{"T2"}},
		{op: "add", topic: "T2", first: false, len: 1, replayed: []string{"T2"}},
		{op: "add", topic: "T1", first: true, len: 2, match: []string{"T1"}, replayed: []string{"T1", "T2"}},
		{op: "rm", topic: "T2", found: true, last: false, len: 2, match: []string{"T2"}, replayed: []string{"T1", "T2"}},
		{op: "rm", topic: "T2", found: true, last: true, len: 1, mismatch: []string{"T2"}, replayed: []string{"T1"}},
		{op: "rm", topic: "T2", found: false, len: 1, replayed: []string{"T1"}},
		{op: "rm", topic: "never", found: false, len: 1, replayed: []string{"T1"}},
		{op: "rm", topic: "T", found: false, len: 1, replayed: []string{"T1"}},
		{op: "add", topic: "", first: true, len: 2, match: []string{"", "x", "T2"}, replayed: []string{"", "T1"}},
		{op: "add", topic: "T1abc", first: true, len: 3, replayed: []string{"", "T1", "T1abc"}},
		{op: "rm", topic: "", found: true, last: true, len: 2, match: []string{"T1", "T1abc"}, mismatch: []string{"", "x", "T"}, replayed: []string{"T1", "T1abc"}},
		{op: "rm", topic: "T1", found: true, last: true, len: 1, match: []string{"T1abc", "T1abcd"}, mismatch: []string{"T1", "T1ab"}, replayed: []string{"T1abc"}},
		{op: "rm", topic: "T1abc", found: true, last: true, len: 0, mismatch: []string{"T1abc", ""}},
	}
	for i, s := range steps {
		switch s.op {
		case "add":
			if got := tr.Add(bs(s.topic)); got != s.first {
				t.Fatalf("step %d: Add(%q) = %v, want %v", i, s.topic, got, s.first)
			}
		case "rm":
			last, found := tr.Remove(bs(s.topic))
			if last != s.last || found != s.found {
				t.Fatalf("step %d: Remove(%q) = %v, %v, want %v, %v", i, s.topic, last, found, s.last, s.found)
			}
		}
		if tr.Len() != s.len {
			t.Fatalf("step %d: Len() = %d, want %d", i, tr.Len(), s.len)
		}
		for _, m := range s.match {
			if !tr.Match(bs(m)) {
				t.Errorf("step %d: Match(%q) = false", i, m)
			}
		}
		for _, m := range s.mismatch {
			if tr.Match(bs(m)) {
				t.Errorf("step %d: Match(%q) = true", i, m)
			}
		}
		var replayed []string
		tr.Each(func(topic []byte) { replayed = append(replayed, string(topic)) })
		if diff := cmp.Diff(s.replayed, replayed); diff != "" {
			t.Fatalf("step %d: Each (-want +got):\n%s", i, diff)
		}
	}
	if _, _, err := checkTree(&tr.t, func(v *int) bool { return *v > 0 }); err != nil {
		t.Fatal(err)
	}
	if tr.t.root.children != nil || tr.t.root.keys != nil {
		t.Fatal("an emptied Trie keeps children")
	}
}

// TestMTrieXPUB walks through what an XPUB socket does with its trie
// (src/xpub.cpp): first subscriber reported, sets not counts, CANCEL of a
// topic never held, disconnect.
func TestMTrieXPUB(t *testing.T) {
	var m MTrie[string]
	match := func(data string) []string {
		var got []string
		m.Match(bs(data), func(p string) { got = append(got, p) })
		return got
	}
	type addRes struct{ First, Added bool }
	check := func(what string, got, want any) {
		t.Helper()
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("%s (-want +got):\n%s", what, diff)
		}
	}
	add := func(topic, p string) addRes {
		first, added := m.Add(bs(topic), p)
		return addRes{first, added}
	}

	check("Add(A, s1)", add("A", "s1"), addRes{true, true})
	check("Add(A, s2)", add("A", "s2"), addRes{false, true})
	check("Add(A, s1) again", add("A", "s1"), addRes{false, false})
	check("Add(AB, s1)", add("AB", "s1"), addRes{true, true})
	check("Add(B, s3)", add("B", "s3"), addRes{true, true})
	check("Len", m.Len(), 3)
	check("Pipes", m.Pipes(), 3)
	// s1 holds A and AB: reported once for ABC.
	check("Match(ABC)", match("ABC"), []string{"s1", "s2"})
	check("Match(B1)", match("B1"), []string{"s3"})
	check("Match(C)", match("C"), []string(nil))
	check("Match()", match(""), []string(nil))

	// One CANCEL removes a topic however many times it was subscribed.
	check("Remove(A, s1)", m.Remove(bs("A"), "s1"), ValuesRemain)
	check("Remove(A, s1) again", m.Remove(bs("A"), "s1"), NotFound)
	check("Match(ABC) after", match("ABC"), []string{"s2", "s1"})
	check("Remove(never, s1)", m.Remove(bs("never"), "s1"), NotFound)
	check("Remove(A, nobody)", m.Remove(bs("A"), "nobody"), NotFound)
	check("Remove(A, s2)", m.Remove(bs("A"), "s2"), LastValueRemoved)
	check("Match(A)", match("A"), []string(nil))
	check("Has(AB, s1)", m.Has(bs("AB"), "s1"), true)
	check("Has(A, s1)", m.Has(bs("A"), "s1"), false)

	// The empty topic matches everything.
	check("Add(, s4)", add("", "s4"), addRes{true, true})
	check("Add(AB, s4)", add("AB", "s4"), addRes{false, true})
	check("Match(ABC) with the empty topic", match("ABC"), []string{"s4", "s1"})
	check("Match() with the empty topic", match(""), []string{"s4"})

	// Disconnect.
	var gone []removed
	m.RemovePipe("s4", func(topic []byte, last bool) { gone = append(gone, removed{string(topic), last}) })
	check("RemovePipe(s4)", gone, []removed{{"", true}, {"AB", false}})
	gone = nil
	m.RemovePipe("s4", func(topic []byte, last bool) { gone = append(gone, removed{string(topic), last}) })
	check("RemovePipe(s4) again", gone, []removed(nil))
	m.RemovePipe("s1", nil)
	check("Pipes after", m.Pipes(), 1)
	var topics []string
	m.Each(func(topic []byte) { topics = append(topics, string(topic)) })
	check("Each", topics, []string{"B"})
	check("Remove(B, s3)", m.Remove(bs("B"), "s3"), LastValueRemoved)
	check("Len at the end", m.Len(), 0)
	check("Pipes at the end", m.Pipes(), 0)
	if m.t.root.children != nil {
		t.Fatal("an emptied MTrie keeps children")
	}
}

func TestRemoveResultString(t *testing.T) {
	for r, want := range map[RemoveResult]string{
		NotFound: "NotFound", LastValueRemoved: "LastValueRemoved", ValuesRemain: "ValuesRemain",
		0: "RemoveResult(0)", 9: "RemoveResult(9)",
	} {
		if got := r.String(); got != want {
			t.Errorf("RemoveResult(%d).String() = %q, want %q", int(r), got, want)
		}
	}
}

// randomTopic returns a topic over a small alphabet, so that topics often
// share prefixes, split edges and nest; now and then a long one.
func randomTopic(r *rand.Rand) []byte {
	if r.IntN(50) == 0 {
		// Long topics that share a long prefix and part at the end.
		t := bytes.Repeat([]byte{'a'}, 1000+r.IntN(3))
		return append(t, byte('a'+r.IntN(3)))
	}
	t := make([]byte, r.IntN(7))
	for i := range t {
		t[i] = byte('a' + r.IntN(3))
	}
	return t
}

// randomData returns data to match: a random topic, sometimes with a
// random suffix.
func randomData(r *rand.Rand) []byte {
	d := randomTopic(r)
	if r.IntN(2) == 0 {
		d = append(d, randomTopic(r)...)
	}
	return d
}

// TestTrieModel drives a Trie and its reference model with random
// operations and compares them after each.
func TestTrieModel(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 1))
			h := newTrieHarness()
			for i := range 2000 {
				switch r.IntN(7) {
				case 0, 1, 2:
					h.add(t, randomTopic(r))
				case 3, 4:
					h.remove(t, randomTopic(r))
				case 5:
					// Remove a topic that is there.
					for topic := range h.ref {
						h.remove(t, bs(topic))
						break
					}
				case 6:
					h.match(t, randomData(r))
				}
				if i < 200 || i%10 == 0 { // the full check is O(size)
					h.check(t)
				}
			}
			// Empty it: the tree must be back to a bare root.
			for topic, c := range h.ref {
				for range c {
					h.remove(t, bs(topic))
				}
			}
			h.check(t)
			if nodes, _, _ := checkTree(&h.tr.t, func(v *int) bool { return *v > 0 }); nodes != 1 {
				t.Fatalf("empty Trie has %d nodes", nodes)
			}
		})
	}
}

// TestMTrieModel drives an MTrie and its reference model with random
// operations and compares them after each. Some topics gather more pipes
// than indexAbove, so the indexed sets are exercised too.
func TestMTrieModel(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 2))
			h := newMTrieHarness()
			pipes := 4
			if seed%2 == 1 {
				pipes = 2 * indexAbove
			}
			for i := range 2000 {
				switch r.IntN(9) {
				case 0, 1, 2, 3:
					h.add(t, randomTopic(r), r.IntN(pipes))
				case 4, 5:
					h.remove(t, randomTopic(r), r.IntN(pipes))
				case 6:
					for topic, set := range h.ref {
						for p := range set {
							h.remove(t, bs(topic), p)
							break
						}
						break
					}
				case 7:
					if r.IntN(4) == 0 {
						h.removePipe(t, r.IntN(pipes))
					}
				case 8:
					h.match(t, randomData(r))
				}
				if i < 200 || i%10 == 0 { // the full check is O(size)
					h.check(t)
				}
			}
			for p := range pipes {
				h.removePipe(t, p)
			}
			h.check(t)
			if nodes, _, _ := checkTree(&h.m.t, func(v *pipeSet[int]) bool { return len(v.list) > 0 }); nodes != 1 {
				t.Fatalf("empty MTrie has %d nodes", nodes)
			}
		})
	}
}

// TestLongTopics checks that a long topic costs one node, not one per
// byte, and that splitting and merging long edges keep the invariants
// (labels own their bytes: a short label does not keep a long dead topic
// alive).
func TestLongTopics(t *testing.T) {
	long := func(prefix string, n int, c byte) []byte {
		return append(bs(prefix), bytes.Repeat([]byte{c}, n)...)
	}
	h := newMTrieHarness()
	h.add(t, long("", 10<<10, 'x'), 1)
	h.check(t)
	if nodes, _, _ := checkTree(&h.m.t, func(v *pipeSet[int]) bool { return len(v.list) > 0 }); nodes != 2 {
		t.Fatalf("one 10 KiB topic: %d nodes, want 2 (root and topic)", nodes)
	}
	h.add(t, long("", 64<<10, 'x'), 2)   // extends the first
	h.add(t, long("x", 64<<10, 'y'), 3)  // splits after one byte
	h.add(t, long("", 5<<10, 'x'), 1)    // splits the first
	h.add(t, bs("x"), 4)                 // a node where the split was
	h.match(t, long("", 64<<10+10, 'x')) // every x topic
	h.check(t)
	h.remove(t, long("", 10<<10, 'x'), 1)
	h.check(t)
	h.removePipe(t, 3)
	h.removePipe(t, 2)
	h.check(t)
	h.removePipe(t, 1)
	h.removePipe(t, 4)
	h.check(t)
}

// churnRound subscribes n unique topics (some long) on top of a base set
// and unsubscribes them again.
func churnRound(tr *Trie, m *MTrie[int], round, n int) {
	var buf []byte
	topic := func(i int) []byte {
		buf = fmt.Appendf(buf[:0], "churn/%d/%d/", round, i)
		if i%10 == 0 {
			buf = append(buf, bytes.Repeat([]byte{'z'}, 4<<10)...)
		}
		return buf
	}
	for i := range n {
		tr.Add(topic(i))
		m.Add(topic(i), i%7)
	}
	for i := range n {
		tr.Remove(topic(i))
		m.Remove(topic(i), i%7)
	}
}

// TestChurnDoesNotGrow checks that subscribing and unsubscribing gives the
// memory back: the trees return to their shape and the live heap does not
// grow with the number of rounds.
func TestChurnDoesNotGrow(t *testing.T) {
	var tr Trie
	var m MTrie[int]
	for i := range 1000 {
		topic := fmt.Appendf(nil, "base/%d", i)
		tr.Add(topic)
		m.Add(topic, i%7)
	}
	shape := func() [4]int {
		tn, _, err := checkTree(&tr.t, func(v *int) bool { return *v > 0 })
		if err != nil {
			t.Fatal(err)
		}
		mn, _, err := checkTree(&m.t, func(v *pipeSet[int]) bool { return len(v.list) > 0 })
		if err != nil {
			t.Fatal(err)
		}
		return [4]int{tn, tr.Len(), mn, m.Len()}
	}
	before := shape()
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	churnRound(&tr, &m, 0, 2000) // warm up: slices reach their sizes
	h0 := heap()
	const rounds = 30
	for round := 1; round <= rounds; round++ {
		churnRound(&tr, &m, round, 2000)
	}
	h1 := heap()
	if after := shape(); after != before {
		t.Fatalf("shape (nodes, topics) after churn %v, before %v", after, before)
	}
	// Each round allocates several MB (200 topics of 4 KiB in each trie);
	// a leak of even one topic per round would show.
	if h1 > h0+256<<10 {
		t.Fatalf("live heap grew from %d to %d bytes over %d churn rounds", h0, h1, rounds)
	}
	t.Logf("live heap %d -> %d bytes over %d rounds", h0, h1, rounds)
	runtime.KeepAlive(&tr)
	runtime.KeepAlive(&m)
}

// TestMatchAllocs checks that Match allocates nothing, here and in the
// benchmarks.
func TestMatchAllocs(t *testing.T) {
	var tr Trie
	var m MTrie[*int]
	pipes := make([]int, 8)
	for i := range 100 {
		topic := fmt.Appendf(nil, "topic/%d", i)
		tr.Add(topic)
		m.Add(topic, &pipes[i%8])
		m.Add(topic[:6], &pipes[i%8])
	}
	msg := append(bs("topic/42/"), make([]byte, 64<<10)...)
	var hits int
	fn := func(*int) { hits++ }
	if n := testing.AllocsPerRun(100, func() {
		if !tr.Match(msg) {
			t.Fatal("no match")
		}
		m.Match(msg, fn)
	}); n != 0 {
		t.Fatalf("Match allocates %v times per call", n)
	}
	if hits == 0 {
		t.Fatal("MTrie.Match reported nothing")
	}
}

// TestShrink checks that a node that had many children, or a topic that
// had many pipes, gives the room back when they go.
func TestShrink(t *testing.T) {
	var tr Trie
	tr.Add(bs("p"))
	for c := range 200 {
		tr.Add([]byte{'p', byte(c)})
	}
	for c := range 199 {
		tr.Remove([]byte{'p', byte(c)})
	}
	n := tr.t.root.children[0]
	if len(n.children) != 1 || cap(n.children) > 32 || cap(n.keys) > 32 {
		t.Errorf("1 child left of 200: len %d, cap %d (keys %d)", len(n.children), cap(n.children), cap(n.keys))
	}

	var m MTrie[int]
	for p := range 1000 {
		m.Add(bs("t"), p)
	}
	for p := range 995 {
		m.Remove(bs("t"), p)
	}
	s := &m.t.root.children[0].val
	if len(s.list) != 5 || cap(s.list) > 32 || s.index != nil {
		t.Errorf("5 pipes left of 1000: len %d, cap %d, index %v", len(s.list), cap(s.list), s.index != nil)
	}
}
