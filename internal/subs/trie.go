package subs

import "bytes"

// Trie is a set of topics with a reference count each: the subscriptions
// of a SUB or XSUB socket (libzmq's trie_t in src/trie.cpp, used by
// src/xsub.cpp).
//
// libzmq's SUB sends every SUBSCRIBE upstream, duplicates included, and a
// CANCEL only when a topic's count reaches zero; XSUB does not send a
// CANCEL for a topic it does not hold. Add and Remove report the
// transitions; what goes on the wire is the caller's decision.
//
// The zero value is an empty Trie. A Trie is not safe for concurrent use.
type Trie struct {
	t tree[int] // the value of a node is its topic's count; 0 = no topic
	n int       // topics with a count > 0
}

// Add adds one reference to topic and reports whether it is the first,
// that is whether the topic's count went from 0 to 1. topic is copied.
func (t *Trie) Add(topic []byte) (first bool) {
	n := t.t.insert(topic)
	n.val++
	if n.val == 1 {
		t.n++
		return true
	}
	return false
}

// Remove removes one reference to topic. found is false, and nothing
// changes, if topic had no reference; otherwise last reports whether that
// was its last reference (the count reached 0 and the topic is gone).
func (t *Trie) Remove(topic []byte) (last, found bool) {
	parent, n := t.t.lookup(topic)
	if n == nil || n.val == 0 {
		return false, false
	}
	n.val--
	if n.val > 0 {
		return false, true
	}
	t.n--
	t.t.compact(parent, n, true, parent != nil && parent.val == 0)
	return true, true
}

// Match reports whether some topic of t is a prefix of data (the empty
// topic matches everything). It walks the tree along data, so its cost is
// bounded by the length of the shortest matching topic (or of the path
// that fails), not by len(data) or by the number of topics; it does not
// allocate.
func (t *Trie) Match(data []byte) bool {
	n := &t.t.root
	for {
		if n.val > 0 {
			return true
		}
		if len(data) == 0 {
			return false
		}
		c := n.child(data[0])
		if c == nil || !bytes.HasPrefix(data, c.label) {
			return false
		}
		data = data[len(c.label):]
		n = c
	}
}

// Has reports whether topic has at least one reference.
func (t *Trie) Has(topic []byte) bool {
	_, n := t.t.lookup(topic)
	return n != nil && n.val > 0
}

// Each calls fn once for every distinct topic of t, in ascending bytewise
// order, whatever its count: what a new connection is sent (one SUBSCRIBE
// per topic, as xsub_t::xattach_pipe). The slice passed to fn is valid
// only during the call and must not be modified; fn must not change t.
func (t *Trie) Each(fn func(topic []byte)) {
	if t.n == 0 {
		return
	}
	walk(&t.t.root, nil, func(topic []byte, n *node[int]) {
		if n.val > 0 {
			fn(topic)
		}
	})
}

// Len returns the number of distinct topics of t.
func (t *Trie) Len() int { return t.n }
