package main

import "testing"

func TestSubscriptions(t *testing.T) {
	var s subscriptions
	sub := func(topic string) [][]byte { return [][]byte{append([]byte{1}, topic...)} }
	cancel := func(topic string) [][]byte { return [][]byte{append([]byte{0}, topic...)} }
	if s.match([]byte("A1")) || s.match(nil) {
		t.Fatal("a match with no subscription")
	}
	// Subscribing twice to one topic counts twice.
	for i := 0; i < 2; i++ {
		if !s.apply(sub("A")) {
			t.Fatalf("subscription %d not taken", i+1)
		}
	}
	if !s.match([]byte("A1")) || !s.match([]byte("A")) || s.match([]byte("B")) || s.match([]byte("")) {
		t.Fatal("prefix match")
	}
	s.apply(cancel("A"))
	if !s.match([]byte("A")) {
		t.Fatal("one cancel undid two subscriptions")
	}
	s.apply(cancel("A"))
	if s.match([]byte("A")) {
		t.Fatal("cancelled subscription still matches")
	}
	s.apply(cancel("A")) // one cancel too many does nothing
	s.apply(sub("A"))
	if !s.match([]byte("A")) {
		t.Fatal("a cancel too many counted against a later subscription")
	}
	s.apply(cancel("A"))
	s.apply(sub("weather."))
	if !s.match([]byte("weather.paris")) || s.match([]byte("weather")) || s.match([]byte("sport.weather.")) {
		t.Fatal("weather. matches only messages starting with it")
	}
	// Binary topics match bytes.
	s.apply(sub("\x00\xff"))
	if !s.match([]byte("\x00\xff\x01")) || s.match([]byte("\x00")) {
		t.Fatal("binary topic")
	}
	for _, notSub := range [][][]byte{
		{[]byte("x"), []byte("y")}, // two frames
		{{2, 'A'}},                 // neither 0x00 nor 0x01
		{{}},                       // empty
		{[]byte("\x01A"), {}},      // a subscription with a second frame
		{},
	} {
		if s.apply(notSub) {
			t.Errorf("%q taken as a subscription", notSub)
		}
	}
	if s.match([]byte("x")) {
		t.Fatal("a non-subscription message subscribed")
	}
	s.apply(sub(""))
	if !s.match([]byte("anything")) || !s.match(nil) {
		t.Fatal("the empty topic matches everything")
	}
}
