// Package subs holds the two subscription tries of libzmq's publish and
// subscribe sockets, for a socket layer above transport:
//
//   - Trie counts references per topic, as the SUB and XSUB side keeps its
//     own subscriptions (libzmq's trie_t, xsub_t::_subscriptions): it says
//     when a topic's count goes from 0 to 1 and back to 0, filters incoming
//     messages by prefix, and lists the distinct topics to replay on a new
//     connection.
//   - MTrie keeps a set of pipes per topic, as the PUB and XPUB side keeps
//     its subscribers' subscriptions (libzmq's generic_mtrie_t,
//     xpub_t::_subscriptions): it says when a topic gains its first pipe or
//     loses its last one, removes a disconnected pipe everywhere, and
//     reports each pipe that matches a message exactly once.
//
// A topic matches a message when it is a byte prefix of the message (of its
// first frame, in the socket layer); the empty topic matches everything.
//
// Both are radix (PATRICIA) trees: each edge holds a run of bytes, so a
// topic costs one node and its own bytes however long it is (a 10 KiB topic
// that shares nothing is one node with a 10 KiB label, not 10 K nodes), and
// a node exists only where a topic ends or where two topics part. Matching
// walks the tree along the message, comparing each edge once: its cost is
// bounded by the length of the longest subscribed topic that is a prefix of
// the message (plus the edge where the walk stops), never by the length of
// the message or by the number of topics, and it allocates nothing.
// Removing a topic prunes the nodes it no longer needs and merges edges
// back, so memory returns after unsubscribing: a subscribe and unsubscribe
// churn does not grow the trees.
//
// Topics are copied on insert; the slices the methods take may be reused by
// the caller as soon as the call returns. A slice passed to a callback is
// valid only during that call and must not be modified.
//
// Neither type is safe for concurrent use (the socket that owns one holds a
// lock), and a callback must not call methods of the tree that called it.
// The zero value of each is an empty tree ready to use.
package subs

import (
	"bytes"
	"slices"
)

// node is a node of the radix tree shared by Trie and MTrie. The topic of a
// node is the concatenation of the labels from the root down to it.
//
// Invariants (checked by the tests after every operation):
//   - the root's label is empty; every other node's label is not;
//   - keys[i] == children[i].label[0], and keys is strictly ascending;
//   - a node other than the root holds a value or has at least two
//     children (otherwise it is pruned or merged with its only child);
//   - each label owns its backing array (labels are copied when they are
//     split or merged), so a short label never keeps a long dead topic
//     alive.
type node[V any] struct {
	label    []byte
	keys     []byte
	children []*node[V]
	val      V
}

// tree is a radix tree with a value of type V at each node. It knows the
// shape of the tree only; whether a node's value is empty is for the caller
// to say.
type tree[V any] struct {
	root node[V]
}

// child returns the child of n whose label starts with b, or nil.
func (n *node[V]) child(b byte) *node[V] {
	if i := bytes.IndexByte(n.keys, b); i >= 0 {
		return n.children[i]
	}
	return nil
}

// commonPrefix returns the length of the longest common prefix of a and b.
func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// insert returns the node of topic, creating it (and splitting an edge) if
// needed. A node it creates holds the zero V. The bytes of topic are
// copied.
func (t *tree[V]) insert(topic []byte) *node[V] {
	n := &t.root
	for len(topic) > 0 {
		i, found := slices.BinarySearch(n.keys, topic[0])
		if !found {
			c := &node[V]{label: bytes.Clone(topic)}
			n.keys = slices.Insert(n.keys, i, topic[0])
			n.children = slices.Insert(n.children, i, c)
			return c
		}
		c := n.children[i]
		k := commonPrefix(c.label, topic)
		if k < len(c.label) {
			// Split c: it keeps the first k bytes and becomes the
			// parent of a new node that takes the rest of the label,
			// c's value and c's children. k >= 1: c.label[0] ==
			// topic[0].
			lower := &node[V]{
				label:    bytes.Clone(c.label[k:]),
				keys:     c.keys,
				children: c.children,
				val:      c.val,
			}
			var zero V
			c.label = bytes.Clone(c.label[:k])
			c.keys = []byte{lower.label[0]}
			c.children = []*node[V]{lower}
			c.val = zero
		}
		topic = topic[k:]
		n = c
	}
	return n
}

// lookup returns the node of topic and its parent (nil for the root), or
// nil, nil if topic has no node.
func (t *tree[V]) lookup(topic []byte) (parent, n *node[V]) {
	n = &t.root
	for len(topic) > 0 {
		c := n.child(topic[0])
		if c == nil || !bytes.HasPrefix(topic, c.label) {
			return nil, nil
		}
		parent, n = n, c
		topic = topic[len(c.label):]
	}
	return parent, n
}

// removeChild removes c, a child of n.
func (n *node[V]) removeChild(c *node[V]) {
	i := bytes.IndexByte(n.keys, c.label[0])
	n.keys = slices.Delete(n.keys, i, i+1)
	n.children = slices.Delete(n.children, i, i+1)
	switch {
	case len(n.children) == 0:
		n.keys, n.children = nil, nil
	case cap(n.children) >= 32 && len(n.children) <= cap(n.children)/4:
		// Give back what a burst of children left behind.
		n.keys = slices.Clip(slices.Clone(n.keys))
		n.children = slices.Clip(slices.Clone(n.children))
	}
}

// absorb merges n with its only child: n takes the child's value and
// children, and its label grows by the child's. n must have exactly one
// child and hold no value.
func (n *node[V]) absorb() {
	c := n.children[0]
	label := make([]byte, len(n.label)+len(c.label))
	copy(label, n.label)
	copy(label[len(n.label):], c.label)
	n.label = label
	n.keys, n.children, n.val = c.keys, c.children, c.val
}

// compact restores the invariants after n's value became empty (nEmpty) or
// changed: n is pruned if it has no children, or merged with its only
// child; if n was pruned, its parent may now be a valueless node with one
// child, and is merged with it (parentEmpty says whether the parent holds
// no value). parent is nil when n is the root, which is never pruned.
func (t *tree[V]) compact(parent, n *node[V], nEmpty, parentEmpty bool) {
	if !nEmpty || parent == nil {
		return
	}
	switch len(n.children) {
	case 0:
		parent.removeChild(n)
		if parent != &t.root && parentEmpty && len(parent.children) == 1 {
			parent.absorb()
		}
	case 1:
		n.absorb()
	}
}

// walk calls fn for every node of the subtree of n, in bytewise order of
// their topics (a node before its descendants, children by first byte),
// with the topic of each in buf. It returns buf, possibly grown, for reuse.
// fn must not change the tree.
func walk[V any](n *node[V], buf []byte, fn func(topic []byte, n *node[V])) []byte {
	buf = append(buf, n.label...)
	fn(buf[:len(buf):len(buf)], n)
	for _, c := range n.children {
		buf = walk(c, buf, fn)
	}
	return buf[:len(buf)-len(n.label)]
}
