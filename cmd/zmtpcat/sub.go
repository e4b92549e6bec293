package main

import (
	"bytes"
	"sync"
)

// subscriptions holds one peer's subscriptions, as a PUB socket keeps them:
// prefixes with counts (a topic subscribed twice needs two cancels).
type subscriptions struct {
	mu     sync.Mutex
	topics map[string]int
}

// apply takes a subscription message, 0x01 or 0x00 followed by the topic,
// and reports whether it was one.
func (s *subscriptions) apply(msg [][]byte) bool {
	if len(msg) != 1 || len(msg[0]) == 0 || msg[0][0] > 1 {
		return false
	}
	topic := string(msg[0][1:])
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.topics == nil {
		s.topics = map[string]int{}
	}
	if msg[0][0] == 1 {
		s.topics[topic]++
	} else if s.topics[topic] > 0 {
		if s.topics[topic]--; s.topics[topic] == 0 {
			delete(s.topics, topic)
		}
	}
	return true
}

// match reports whether a message whose first frame is first is wanted.
func (s *subscriptions) match(first []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t := range s.topics {
		if bytes.HasPrefix(first, []byte(t)) {
			return true
		}
	}
	return false
}
