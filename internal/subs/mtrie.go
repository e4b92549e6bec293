package subs

import (
	"bytes"
	"fmt"
)

// MTrie maps each topic to the set of pipes that subscribed to it: the
// subscriptions of a PUB or XPUB socket (libzmq's generic_mtrie_t in
// src/generic_mtrie_impl.hpp, used by src/xpub.cpp). P identifies a pipe
// (a connection); any comparable type will do, typically a pointer.
//
// It holds sets, not counts: a pipe that subscribes twice to a topic holds
// it once, and one CANCEL removes it. XPUB reports a subscription when its
// topic gains its first pipe (every time with ZMQ_XPUB_VERBOSE) and an
// unsubscription when the topic loses its last pipe, or when the pipe did
// not hold the topic at all; Add and Remove give what each case needs.
//
// The zero value is an empty MTrie. An MTrie is not safe for concurrent
// use.
type MTrie[P comparable] struct {
	t     tree[pipeSet[P]]
	pipes map[P]*entry[P] // every pipe that holds at least one topic
	n     int             // topics held by at least one pipe
	gen   uint64          // generation of the last Match, for entry.mark
}

// entry is what the MTrie knows of one pipe. The node of a topic holds
// pointers to the entries of its pipes, so Match marks a pipe as reported
// without looking it up.
type entry[P comparable] struct {
	p      P
	topics int    // number of topics p holds
	mark   uint64 // the generation of the last Match that reported p
}

// pipeSet is the set of pipes holding one topic: a slice in no particular
// order, plus an index from entry to position once the set is large, so
// that adding and removing stay O(1) when thousands of pipes share a topic
// (everyone subscribed to the empty topic).
type pipeSet[P comparable] struct {
	list  []*entry[P]
	index map[*entry[P]]int // nil while len(list) <= indexAbove
}

// Above indexAbove pipes a set keeps an index; it drops it again when it
// shrinks to indexBelow, so that a set hovering around one size does not
// rebuild its index on every call.
const (
	indexAbove = 16
	indexBelow = 8
)

func (s *pipeSet[P]) find(e *entry[P]) int {
	if s.index != nil {
		if i, ok := s.index[e]; ok {
			return i
		}
		return -1
	}
	for i, x := range s.list {
		if x == e {
			return i
		}
	}
	return -1
}

func (s *pipeSet[P]) add(e *entry[P]) {
	s.list = append(s.list, e)
	switch {
	case s.index != nil:
		s.index[e] = len(s.list) - 1
	case len(s.list) > indexAbove:
		s.index = make(map[*entry[P]]int, len(s.list))
		for i, x := range s.list {
			s.index[x] = i
		}
	}
}

// remove removes the element at position i (moving the last one there).
func (s *pipeSet[P]) remove(i int) {
	last := len(s.list) - 1
	e := s.list[i]
	s.list[i] = s.list[last]
	s.list[last] = nil
	s.list = s.list[:last]
	if s.index != nil {
		delete(s.index, e)
		if i < last {
			s.index[s.list[i]] = i
		}
		if len(s.list) <= indexBelow {
			s.index = nil
		}
	}
	switch {
	case len(s.list) == 0:
		s.list = nil
	case cap(s.list) >= 32 && len(s.list) <= cap(s.list)/4:
		s.list = append([]*entry[P](nil), s.list...)
	}
}

// RemoveResult is what MTrie.Remove did, as libzmq's rm_result.
type RemoveResult int

const (
	// NotFound: the pipe did not hold the topic; nothing changed.
	// (libzmq's XPUB still reports such a CANCEL to the application.)
	NotFound RemoveResult = iota + 1
	// LastValueRemoved: the pipe was the last one holding the topic,
	// which is gone.
	LastValueRemoved
	// ValuesRemain: the pipe no longer holds the topic; other pipes do.
	ValuesRemain
)

func (r RemoveResult) String() string {
	switch r {
	case NotFound:
		return "NotFound"
	case LastValueRemoved:
		return "LastValueRemoved"
	case ValuesRemain:
		return "ValuesRemain"
	}
	return fmt.Sprintf("RemoveResult(%d)", int(r))
}

// Add makes p hold topic. added is false, and nothing changes, if p held
// topic already; first is true when topic had no pipe before (then added
// is true as well). topic is copied.
//
// XPUB reports the subscription upstream when first is true, or on every
// call with ZMQ_XPUB_VERBOSE.
func (m *MTrie[P]) Add(topic []byte, p P) (first, added bool) {
	e := m.pipes[p]
	n := m.t.insert(topic)
	first = len(n.val.list) == 0
	if e == nil {
		if m.pipes == nil {
			m.pipes = make(map[P]*entry[P])
		}
		e = &entry[P]{p: p}
		m.pipes[p] = e
	} else if !first && n.val.find(e) >= 0 {
		return false, false
	}
	n.val.add(e)
	e.topics++
	if first {
		m.n++
	}
	return first, true
}

// Remove makes p stop holding topic and says what happened: NotFound if p
// did not hold it, LastValueRemoved if no pipe holds it any more,
// ValuesRemain otherwise.
func (m *MTrie[P]) Remove(topic []byte, p P) RemoveResult {
	e := m.pipes[p]
	if e == nil {
		return NotFound
	}
	parent, n := m.t.lookup(topic)
	if n == nil {
		return NotFound
	}
	i := n.val.find(e)
	if i < 0 {
		return NotFound
	}
	n.val.remove(i)
	m.release(e)
	if len(n.val.list) > 0 {
		return ValuesRemain
	}
	m.n--
	m.t.compact(parent, n, true, parent != nil && len(parent.val.list) == 0)
	return LastValueRemoved
}

// release counts one topic less for e, and forgets the pipe when it holds
// none.
func (m *MTrie[P]) release(e *entry[P]) {
	e.topics--
	if e.topics == 0 {
		delete(m.pipes, e.p)
	}
}

// RemovePipe removes p from every topic it holds, as when its connection
// goes away, and calls fn (if not nil) for each of those topics in
// ascending bytewise order, with last true when no pipe holds the topic
// any more. The slice passed to fn is valid only during the call and must
// not be modified; fn must not change m.
//
// A pipe that holds nothing costs one map lookup; otherwise the walk
// visits the tree in order until the pipe's last topic, as libzmq's
// generic_mtrie_t::rm(pipe) walks the whole trie.
func (m *MTrie[P]) RemovePipe(p P, fn func(topic []byte, last bool)) {
	e := m.pipes[p]
	if e == nil {
		return
	}
	m.removePipe(&m.t.root, nil, e, fn)
}

// removePipe removes e from the subtree of n, whose parent's topic is buf,
// pruning the children of n that become useless (n itself is left to its
// parent's call, or kept if it is the root). It returns buf for reuse.
func (m *MTrie[P]) removePipe(n *node[pipeSet[P]], buf []byte, e *entry[P], fn func([]byte, bool)) []byte {
	buf = append(buf, n.label...)
	if i := n.val.find(e); i >= 0 {
		n.val.remove(i)
		last := len(n.val.list) == 0
		if last {
			m.n--
		}
		m.release(e)
		if fn != nil {
			fn(buf[:len(buf):len(buf)], last)
		}
	}
	for i := 0; i < len(n.children) && e.topics > 0; {
		c := n.children[i]
		buf = m.removePipe(c, buf, e, fn)
		if len(c.val.list) == 0 {
			switch len(c.children) {
			case 0:
				n.removeChild(c)
				continue // the next child is now at i
			case 1:
				c.absorb()
			}
		}
		i++
	}
	return buf[:len(buf)-len(n.label)]
}

// Match calls fn once for every pipe that holds a topic that is a prefix
// of data (the empty topic matches everything): a pipe holding both "A"
// and "AB" is reported once for "ABC", as libzmq's dist_t sends a message
// once to each matching pipe. Pipes are reported shortest topic first, in
// an order fixed by the history of the MTrie.
//
// It walks the tree along data, so apart from the calls to fn its cost is
// bounded by the length of the longest matching topic (or of the path
// that fails), not by len(data) or by the number of topics. It does not
// allocate: duplicates are caught with a generation number stored with
// each pipe, which is why fn must not call methods of m (a nested Match
// would reset the marks of the outer one).
func (m *MTrie[P]) Match(data []byte, fn func(p P)) {
	m.gen++
	gen := m.gen
	n := &m.t.root
	for {
		for _, e := range n.val.list {
			if e.mark != gen {
				e.mark = gen
				fn(e.p)
			}
		}
		if len(data) == 0 {
			return
		}
		c := n.child(data[0])
		if c == nil || !bytes.HasPrefix(data, c.label) {
			return
		}
		data = data[len(c.label):]
		n = c
	}
}

// Has reports whether p holds topic.
func (m *MTrie[P]) Has(topic []byte, p P) bool {
	e := m.pipes[p]
	if e == nil {
		return false
	}
	_, n := m.t.lookup(topic)
	return n != nil && n.val.find(e) >= 0
}

// Each calls fn once for every topic held by at least one pipe, in
// ascending bytewise order. The slice passed to fn is valid only during
// the call and must not be modified; fn must not change m.
func (m *MTrie[P]) Each(fn func(topic []byte)) {
	if m.n == 0 {
		return
	}
	walk(&m.t.root, nil, func(topic []byte, n *node[pipeSet[P]]) {
		if len(n.val.list) > 0 {
			fn(topic)
		}
	})
}

// Len returns the number of topics held by at least one pipe.
func (m *MTrie[P]) Len() int { return m.n }

// Pipes returns the number of pipes that hold at least one topic.
func (m *MTrie[P]) Pipes() int { return len(m.pipes) }
