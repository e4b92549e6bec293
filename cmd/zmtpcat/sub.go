package main

import (
	"strings"
	"sync"
)

// subscriptions is a set of topic prefixes with counts, as a PUB socket
// keeps those of each peer: a topic subscribed twice needs two cancels. A
// SUB socket keeps its own the same way to filter what arrives. Safe for
// concurrent use.
type subscriptions struct {
	mu     sync.Mutex
	topics map[string]int
}

// apply takes a subscription message, one frame of 0x01 (subscribe) or
// 0x00 (cancel) followed by the topic, and reports whether msg was one.
// Cancelling a topic that is not subscribed does nothing.
func (s *subscriptions) apply(msg [][]byte) bool {
	if len(msg) != 1 || len(msg[0]) == 0 || msg[0][0] > 1 {
		return false
	}
	if msg[0][0] == 1 {
		s.add(string(msg[0][1:]))
	} else {
		s.cancel(string(msg[0][1:]))
	}
	return true
}

func (s *subscriptions) add(topic string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.topics == nil {
		s.topics = map[string]int{}
	}
	s.topics[topic]++
}

func (s *subscriptions) cancel(topic string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.topics[topic] > 1 {
		s.topics[topic]--
	} else {
		delete(s.topics, topic)
	}
}

// match reports whether a message whose first frame is first is wanted:
// some topic is a prefix of it (the empty topic matches everything).
func (s *subscriptions) match(first []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t := range s.topics {
		if strings.HasPrefix(string(first), t) {
			return true
		}
	}
	return false
}
