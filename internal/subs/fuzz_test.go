package subs

import (
	"bytes"
	"testing"
)

// The fuzz targets decode a sequence of operations from the input, apply
// each to a trie and to its reference model (model_test.go), and compare
// the result of every operation, the shape of the tree after every
// operation, and the whole state often (fullCheck).
//
// Encoding: one opcode byte, then a topic. The opcode's low bits choose the
// operation, its high bits the pipe (MTrie). A topic is a length byte L
// and then: if L >= 0xf8, one byte c and the topic is c repeated
// (L-0xf7)*200 times followed by the next byte (long topics that share
// long prefixes); otherwise L%16 bytes, each reduced to 'a'..'c' when L&16
// is set (so that topics collide, nest and split edges often).

// maxOps bounds the operations of one input: the checks after each cost
// O(size of the trie), and long slow inputs make the fuzzer spend its time
// minimizing them instead of fuzzing.
const maxOps = 100

// fullCheck says when to compare the whole state with the model: after
// each of the first operations, then every 8th, and after the last one.
// The results of every operation are compared, and the cheap checks
// (checkShape) run after every one.
func fullCheck(ops int, d *decoder) bool {
	return ops < 8 || ops%8 == 0 || len(d.data) == 0 || ops == maxOps-1
}

type decoder struct{ data []byte }

func (d *decoder) byte() (byte, bool) {
	if len(d.data) == 0 {
		return 0, false
	}
	c := d.data[0]
	d.data = d.data[1:]
	return c, true
}

func (d *decoder) topic() []byte {
	l, _ := d.byte()
	if l >= 0xf8 {
		c, _ := d.byte()
		end, _ := d.byte()
		return append(bytes.Repeat([]byte{c}, int(l-0xf7)*200), end)
	}
	n := min(int(l%16), len(d.data))
	t := bytes.Clone(d.data[:n])
	d.data = d.data[n:]
	if l&16 != 0 {
		for i := range t {
			t[i] = 'a' + t[i]%3
		}
	}
	return t
}

func fuzzSeeds(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 0x12, 'a', 'b', 0, 0x11, 'a', 0, 0x13, 'a', 'b', 'c', 2, 0x13, 'a', 'b', 'c', 1, 0x11, 'a', 1, 0x12, 'a', 'b'})
	f.Add([]byte{0, 0xf9, 'x', 'y', 0, 0xfa, 'x', 'z', 0, 0x11, 'x', 2, 0xfb, 'x', 'x', 1, 0xf9, 'x', 'y'})
	f.Add([]byte{0x00, 0x00, 0x08, 0x11, 'a', 0x10, 0x12, 'a', 'b', 0x03, 0x00, 0x02, 0x13, 'a', 'b', 'c'})
}

func FuzzTrie(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		d := &decoder{data}
		h := newTrieHarness()
		for ops := 0; len(d.data) > 0 && ops < maxOps; ops++ {
			op, _ := d.byte()
			topic := d.topic()
			switch op % 4 {
			case 0:
				h.add(t, topic)
			case 1:
				h.remove(t, topic)
			case 2:
				h.match(t, topic)
			case 3:
				h.match(t, append(topic, 'a', 'b'))
			}
			h.match(t, topic)
			if fullCheck(ops, d) {
				h.check(t)
			} else {
				h.checkShape(t)
			}
		}
	})
}

func FuzzMTrie(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		d := &decoder{data}
		h := newMTrieHarness()
		for ops := 0; len(d.data) > 0 && ops < maxOps; ops++ {
			op, _ := d.byte()
			p := int(op>>3) % 4
			if op&4 != 0 {
				p = int(op>>3) % 20 // sometimes many pipes: indexed sets
			}
			switch op % 4 {
			case 0:
				h.add(t, d.topic(), p)
			case 1:
				h.remove(t, d.topic(), p)
			case 2:
				h.match(t, d.topic())
			case 3:
				h.removePipe(t, p)
			}
			if fullCheck(ops, d) {
				h.check(t)
			} else {
				h.checkShape(t)
			}
		}
	})
}
