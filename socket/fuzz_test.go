package socket

import (
	"errors"
	"testing"

	"github.com/zmtpsec/zmtpsec/zmtp"
)

var fuzzTypes = []zmtp.SocketType{
	zmtp.PAIR, zmtp.PUB, zmtp.SUB, zmtp.XPUB, zmtp.XSUB, zmtp.REQ,
	zmtp.REP, zmtp.DEALER, zmtp.ROUTER, zmtp.PUSH, zmtp.PULL,
}

// FuzzPatterns drives each socket type's pattern, without a network, with
// a sequence of events decoded from the input: peers attaching, completing
// handshakes, leaving; messages arriving from them, sent and received by
// the application, taken by the writers; subscriptions. It checks that no
// input panics, that the errors are the documented ones, that a queue never
// grows past its high-water mark through Send, and that what Recv returns
// is a message.
func FuzzPatterns(f *testing.F) {
	f.Add([]byte{5, 0, 0, 1, 0, 4, 2, 'h', 'i', 3, 0, 2, 0, 'r', 5})          // REQ
	f.Add([]byte{6, 0, 0, 1, 0, 2, 0, 3, 'a', 0, 'b', 5, 4, 1, 'x'})          // REP
	f.Add([]byte{8, 0, 0, 1, 0, 0, 1, 1, 1, 2, 0, 2, 'm', 5, 4, 2, 0, 0})     // ROUTER
	f.Add([]byte{3, 0, 0, 1, 0, 2, 0, 2, 1, 'A', 4, 1, 'A', 7, 0, 8, 0})      // XPUB
	f.Add([]byte{2, 0, 0, 1, 0, 9, 1, 'T', 2, 0, 1, 'T', 5, 9, 0, 'T', 6, 0}) // SUB
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		typ := fuzzTypes[int(data[0])%len(fuzzTypes)]
		data = data[1:]
		opts := &Options{SendHWM: 3, RecvHWM: 3, Linger: -1}
		switch typ {
		case zmtp.ROUTER:
			opts.RouterMandatory = len(data) > 0 && data[0]&1 == 1
		case zmtp.REQ:
			opts.ReqCorrelate = len(data) > 0 && data[0]&1 == 1
			opts.ReqRelaxed = len(data) > 0 && data[0]&2 == 2
		case zmtp.XPUB:
			opts.XPubVerbose = len(data) > 0 && data[0]&1 == 1
			opts.XPubManual = len(data) > 0 && data[0]&2 == 2
		case zmtp.PUB, zmtp.SUB:
			opts.InvertMatching = len(data) > 0 && data[0]&1 == 1
		}
		s, err := New(typ, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var pipes [4]*pipe
		next := func() byte {
			if len(data) == 0 {
				return 0
			}
			b := data[0]
			data = data[1:]
			return b
		}
		frames := func() [][]byte {
			n := int(next()%3) + 1
			m := make([][]byte, n)
			for i := range m {
				l := int(next() % 4)
				m[i] = make([]byte, 0, l)
				for range l {
					m[i] = append(m[i], next()%4) // small alphabet: 0x00/0x01 prefixes, empty frames, repeats
				}
			}
			return m
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		for len(data) > 0 {
			op, i := next(), int(next()%4)
			p := pipes[i]
			switch op % 10 {
			case 0: // a peer appears
				if p == nil || p.detached {
					p = newPipe(s, nil)
					if s.attach(p) == nil {
						pipes[i] = p
					}
				}
			case 1: // its handshake completes
				if p != nil && !p.detached {
					if next()&1 == 1 {
						p.state.PeerIdentity = []byte{'i', next() % 3}
					}
					s.pat.connected(p)
				}
			case 2: // a message arrives from it
				if p != nil && !p.inFull() {
					m := frames()
					keep, err := s.pat.incoming(p, m)
					if err != nil && !errors.Is(err, errMalformedReply) {
						t.Fatalf("incoming: %v", err)
					}
					if keep {
						p.in.push(m) // as the reader does
					}
				}
			case 3, 4: // the application sends
				m := frames()
				before := outLens(pipes)
				ok, err := s.pat.send(m)
				if err != nil && !errors.Is(err, ErrState) && !errors.Is(err, ErrNotSupported) && !errors.Is(err, ErrHostUnreachable) {
					t.Fatalf("send: %v", err)
				}
				if ok {
					for j, q := range pipes {
						if q != nil && q.out.len() > before[j] && q.out.len() > 3 && before[j] >= 3 {
							t.Fatalf("%s Send pushed past SendHWM: %d messages queued", typ, q.out.len())
						}
					}
				}
			case 5: // the application receives
				m, ok, err := s.pat.recv()
				if err != nil && !errors.Is(err, ErrState) && !errors.Is(err, ErrNotSupported) && !errors.Is(err, ErrReplyLost) {
					t.Fatalf("recv: %v", err)
				}
				if ok && len(m) == 0 {
					t.Fatalf("%s recv returned an empty message", typ)
				}
			case 6: // its writer takes a batch
				if p != nil {
					n := p.out.len()
					p.taken += uint64(len(p.out.popInto(nil, int(next()%4)+1, 1<<20)))
					if p.out.len() > n {
						t.Fatal("popInto grew the queue")
					}
				}
			case 7: // its connection drops
				if p != nil {
					p.lostTaken = p.taken
					s.pat.disconnected(p)
				}
			case 8: // it leaves
				if p != nil {
					s.detach(p)
				}
			case 9: // (un)subscribe
				topic := frames()[0]
				if sub, ok := s.pat.(subscriber); ok {
					if err := sub.subscribe(next()&1 == 1, topic); err != nil && !errors.Is(err, ErrNotSupported) {
						t.Fatalf("subscribe: %v", err)
					}
				}
			}
		}
	})
}

func outLens(pipes [4]*pipe) [4]int {
	var n [4]int
	for i, p := range pipes {
		if p != nil {
			n[i] = p.out.len()
		}
	}
	return n
}
