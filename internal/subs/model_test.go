package subs

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// This file holds the reference models the tries are compared with (maps,
// matched by trying every topic: O(topics × length), obviously right), the
// invariant checks of the tree's shape, and the two harnesses that apply
// one operation to a trie and to its model and compare the results. The
// property tests (subs_test.go) drive the harnesses with random
// operations, the fuzz targets (fuzz_test.go) with operations decoded from
// the fuzzer's input.

// checkTree checks the invariants of node (tree.go) on the whole tree and
// returns the number of nodes and the number of nodes holding a value.
func checkTree[V any](tr *tree[V], live func(*V) bool) (nodes, values int, err error) {
	if len(tr.root.label) != 0 {
		return 0, 0, fmt.Errorf("root label %q, want empty", tr.root.label)
	}
	// A node is named by its label and its depth in bytes: building whole
	// topics would make the check quadratic in the length of long topics.
	var check func(n *node[V], depth int, isRoot bool) error
	check = func(n *node[V], depth int, isRoot bool) error {
		where := func() string { return fmt.Sprintf("%.20q at depth %d", n.label, depth) }
		nodes++
		if live(&n.val) {
			values++
		}
		if !isRoot {
			if len(n.label) == 0 {
				return fmt.Errorf("node %s: empty label", where())
			}
			if !live(&n.val) && len(n.children) < 2 {
				return fmt.Errorf("node %s: no value and %d children (should be pruned or merged)", where(), len(n.children))
			}
			if cap(n.label) > 2*len(n.label)+32 {
				return fmt.Errorf("node %s: label of %d bytes keeps %d bytes alive", where(), len(n.label), cap(n.label))
			}
		}
		if len(n.keys) != len(n.children) {
			return fmt.Errorf("node %s: %d keys, %d children", where(), len(n.keys), len(n.children))
		}
		for i, c := range n.children {
			if c == nil || len(c.label) == 0 {
				return fmt.Errorf("node %s: child %d is nil or has an empty label", where(), i)
			}
			if n.keys[i] != c.label[0] {
				return fmt.Errorf("node %s: key %d is %q, child label %q", where(), i, n.keys[i], c.label)
			}
			if i > 0 && n.keys[i-1] >= n.keys[i] {
				return fmt.Errorf("node %s: keys not strictly ascending: %q", where(), n.keys)
			}
			if err := check(c, depth+len(c.label), false); err != nil {
				return err
			}
		}
		return nil
	}
	err = check(&tr.root, 0, true)
	return nodes, values, err
}

// --- Trie ---

type trieHarness struct {
	tr  Trie
	ref map[string]int
}

func newTrieHarness() *trieHarness { return &trieHarness{ref: map[string]int{}} }

func (h *trieHarness) refMatch(data []byte) bool {
	for topic := range h.ref {
		if bytes.HasPrefix(data, []byte(topic)) {
			return true
		}
	}
	return false
}

func (h *trieHarness) add(t testing.TB, topic []byte) {
	t.Helper()
	buf := slices.Clone(topic)
	got := h.tr.Add(buf)
	clear(buf) // the trie must have copied the topic
	h.ref[string(topic)]++
	if want := h.ref[string(topic)] == 1; got != want {
		t.Fatalf("Add(%.40q) = %v, want %v", topic, got, want)
	}
}

func (h *trieHarness) remove(t testing.TB, topic []byte) {
	t.Helper()
	last, found := h.tr.Remove(topic)
	var wantLast, wantFound bool
	if c := h.ref[string(topic)]; c > 0 {
		wantFound, wantLast = true, c == 1
		if c == 1 {
			delete(h.ref, string(topic))
		} else {
			h.ref[string(topic)] = c - 1
		}
	}
	if last != wantLast || found != wantFound {
		t.Fatalf("Remove(%.40q) = %v, %v, want %v, %v", topic, last, found, wantLast, wantFound)
	}
}

func (h *trieHarness) match(t testing.TB, data []byte) {
	t.Helper()
	if got, want := h.tr.Match(data), h.refMatch(data); got != want {
		t.Fatalf("Match(%.40q) = %v, want %v", data, got, want)
	}
	if got, want := h.tr.Has(data), h.ref[string(data)] > 0; got != want {
		t.Fatalf("Has(%.40q) = %v, want %v", data, got, want)
	}
}

// checkShape is the cheap part of check, O(nodes): Len and the shape of
// the tree.
func (h *trieHarness) checkShape(t testing.TB) {
	t.Helper()
	if got, want := h.tr.Len(), len(h.ref); got != want {
		t.Fatalf("Len() = %d, want %d", got, want)
	}
	_, values, err := checkTree(&h.tr.t, func(v *int) bool { return *v > 0 })
	if err != nil {
		t.Fatal(err)
	}
	if values != len(h.ref) {
		t.Fatalf("%d nodes hold a count, want %d", values, len(h.ref))
	}
}

// check compares everything: checkShape, Each and every topic's count,
// O(total length of the topics).
func (h *trieHarness) check(t testing.TB) {
	t.Helper()
	h.checkShape(t)
	var got []string
	h.tr.Each(func(topic []byte) { got = append(got, string(topic)) })
	want := slices.Sorted(maps.Keys(h.ref))
	if !slices.Equal(want, got) {
		t.Fatalf("Each (-want +got):\n%s", cmp.Diff(want, got))
	}
	counts := map[string]int{}
	walk(&h.tr.t.root, nil, func(topic []byte, n *node[int]) {
		if n.val < 0 {
			t.Fatalf("topic %.40q: count %d", topic, n.val)
		}
		if n.val > 0 {
			counts[string(topic)] = n.val
		}
	})
	if !maps.Equal(h.ref, counts) {
		t.Fatalf("counts (-want +got):\n%s", cmp.Diff(h.ref, counts))
	}
}

// --- MTrie ---

type mtrieHarness struct {
	m   MTrie[int]
	ref map[string]map[int]bool
}

func newMTrieHarness() *mtrieHarness { return &mtrieHarness{ref: map[string]map[int]bool{}} }

func (h *mtrieHarness) add(t testing.TB, topic []byte, p int) {
	t.Helper()
	buf := slices.Clone(topic)
	first, added := h.m.Add(buf, p)
	clear(buf)
	set := h.ref[string(topic)]
	wantFirst, wantAdded := len(set) == 0, !set[p]
	if set == nil {
		set = map[int]bool{}
		h.ref[string(topic)] = set
	}
	set[p] = true
	if first != wantFirst || added != wantAdded {
		t.Fatalf("Add(%.40q, %d) = %v, %v, want %v, %v", topic, p, first, added, wantFirst, wantAdded)
	}
}

func (h *mtrieHarness) remove(t testing.TB, topic []byte, p int) {
	t.Helper()
	got := h.m.Remove(topic, p)
	want := NotFound
	if set := h.ref[string(topic)]; set[p] {
		delete(set, p)
		want = ValuesRemain
		if len(set) == 0 {
			delete(h.ref, string(topic))
			want = LastValueRemoved
		}
	}
	if got != want {
		t.Fatalf("Remove(%.40q, %d) = %v, want %v", topic, p, got, want)
	}
}

type removed struct {
	Topic string
	Last  bool
}

func (h *mtrieHarness) removePipe(t testing.TB, p int) {
	t.Helper()
	var got []removed
	h.m.RemovePipe(p, func(topic []byte, last bool) {
		got = append(got, removed{string(topic), last})
	})
	var want []removed
	for _, topic := range slices.Sorted(maps.Keys(h.ref)) {
		set := h.ref[topic]
		if set[p] {
			delete(set, p)
			if len(set) == 0 {
				delete(h.ref, topic)
			}
			want = append(want, removed{topic, len(set) == 0})
		}
	}
	if !slices.Equal(want, got) {
		t.Fatalf("RemovePipe(%d) (-want +got):\n%s", p, cmp.Diff(want, got))
	}
}

func (h *mtrieHarness) match(t testing.TB, data []byte) {
	t.Helper()
	var got []int
	h.m.Match(data, func(p int) { got = append(got, p) })
	seen := map[int]bool{}
	for _, p := range got {
		if seen[p] {
			t.Fatalf("Match(%.40q) reported pipe %d twice: %v", data, p, got)
		}
		seen[p] = true
	}
	want := map[int]bool{}
	for topic, set := range h.ref {
		if bytes.HasPrefix(data, []byte(topic)) {
			maps.Copy(want, set)
		}
	}
	slices.Sort(got)
	if w := slices.Sorted(maps.Keys(want)); !slices.Equal(w, got) {
		t.Fatalf("Match(%.40q) (-want +got):\n%s", data, cmp.Diff(w, got))
	}
	for p := range 4 {
		if got, want := h.m.Has(data, p), h.ref[string(data)][p]; got != want {
			t.Fatalf("Has(%.40q, %d) = %v, want %v", data, p, got, want)
		}
	}
}

// checkShape is the cheap part of check, O(nodes): Len, Pipes and the
// shape of the tree.
func (h *mtrieHarness) checkShape(t testing.TB) {
	t.Helper()
	if got, want := h.m.Len(), len(h.ref); got != want {
		t.Fatalf("Len() = %d, want %d", got, want)
	}
	_, values, err := checkTree(&h.m.t, func(v *pipeSet[int]) bool { return len(v.list) > 0 })
	if err != nil {
		t.Fatal(err)
	}
	if values != len(h.ref) {
		t.Fatalf("%d nodes hold pipes, want %d", values, len(h.ref))
	}
	pipes := map[int]bool{}
	for _, set := range h.ref {
		for p := range set {
			pipes[p] = true
		}
	}
	if got, want := h.m.Pipes(), len(pipes); got != want {
		t.Fatalf("Pipes() = %d, want %d", got, want)
	}
}

// check compares everything: checkShape, Each, every topic's set of pipes
// and the per-pipe bookkeeping, O(total length of the topics).
func (h *mtrieHarness) check(t testing.TB) {
	t.Helper()
	h.checkShape(t)
	var topics []string
	h.m.Each(func(topic []byte) { topics = append(topics, string(topic)) })
	if w := slices.Sorted(maps.Keys(h.ref)); !slices.Equal(w, topics) {
		t.Fatalf("Each (-want +got):\n%s", cmp.Diff(w, topics))
	}

	got := map[string][]int{}
	held := map[*entry[int]]int{}
	walk(&h.m.t.root, nil, func(topic []byte, n *node[pipeSet[int]]) {
		s := &n.val
		if len(s.list) == 0 {
			if s.list != nil || s.index != nil {
				t.Fatalf("topic %.40q: empty set keeps storage", topic)
			}
			return
		}
		switch {
		case len(s.list) > indexAbove && s.index == nil:
			t.Fatalf("topic %.40q: %d pipes and no index", topic, len(s.list))
		case len(s.list) <= indexBelow && s.index != nil:
			t.Fatalf("topic %.40q: %d pipes and an index", topic, len(s.list))
		case s.index != nil && len(s.index) != len(s.list):
			t.Fatalf("topic %.40q: index of %d for %d pipes", topic, len(s.index), len(s.list))
		}
		var ps []int
		for i, e := range s.list {
			if s.index != nil && s.index[e] != i {
				t.Fatalf("topic %.40q: index says %d for position %d", topic, s.index[e], i)
			}
			if h.m.pipes[e.p] != e {
				t.Fatalf("topic %.40q: pipe %d's entry is not the MTrie's", topic, e.p)
			}
			held[e]++
			ps = append(ps, e.p)
		}
		slices.Sort(ps)
		if len(slices.Compact(slices.Clone(ps))) != len(ps) {
			t.Fatalf("topic %.40q: duplicate pipes %v", topic, ps)
		}
		got[string(topic)] = ps
	})
	want := map[string][]int{}
	for topic, set := range h.ref {
		want[topic] = slices.Sorted(maps.Keys(set))
	}
	if !maps.EqualFunc(want, got, slices.Equal) {
		t.Fatalf("pipes per topic (-want +got):\n%s", cmp.Diff(want, got))
	}
	if len(held) != len(h.m.pipes) || h.m.Pipes() != len(held) {
		t.Fatalf("%d pipes hold topics, the MTrie knows %d (Pipes() = %d)", len(held), len(h.m.pipes), h.m.Pipes())
	}
	for e, n := range held {
		if e.topics != n {
			t.Fatalf("pipe %d: counts %d topics, holds %d", e.p, e.topics, n)
		}
	}
}
