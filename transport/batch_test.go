package transport

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/internal/testhelp"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// countingConn counts the Write calls made on a net.Conn and notes the
// first byte of each, so a test can tell a body written from the caller's
// slice from a copy. It hides the net.Conn's writev, so net.Buffers falls
// back to one Write per buffer.
type countingConn struct {
	net.Conn
	mu     sync.Mutex
	writes int
	starts []*byte
}

func (cc *countingConn) Write(b []byte) (int, error) {
	cc.mu.Lock()
	cc.writes++
	if len(b) > 0 {
		cc.starts = append(cc.starts, &b[0])
	}
	cc.mu.Unlock()
	return cc.Conn.Write(b)
}

// reset forgets the writes so far (the handshake's).
func (cc *countingConn) reset() {
	cc.mu.Lock()
	cc.writes, cc.starts = 0, nil
	cc.mu.Unlock()
}

func (cc *countingConn) count() int {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.writes
}

// wrote reports whether a Write was given a slice that starts at b[0].
func (cc *countingConn) wrote(b []byte) bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	for _, p := range cc.starts {
		if p == &b[0] {
			return true
		}
	}
	return false
}

// countingPair returns a handshaken NULL client, whose net.Conn counts its
// writes from here on, and a server, over TCP loopback.
func countingPair(t *testing.T) (*Conn, *Conn, *countingConn) {
	t.Helper()
	a, b := tcpConns(t)
	cc := &countingConn{Conn: a}
	c, s := handshaken(t, cc, b, &Config{SocketType: zmtp.DEALER}, &Config{SocketType: zmtp.ROUTER})
	cc.reset()
	return c, s, cc
}

// readMessages reads n messages from s in a goroutine, each into fresh
// storage, and sends them, or the first error, on the channel it returns.
func readMessages(s *Conn, n int) <-chan batchResult {
	ch := make(chan batchResult, 1)
	go func() {
		var r batchResult
		for i := 0; i < n; i++ {
			msg, err := s.ReadMessage(nil)
			if err != nil {
				r.err = fmt.Errorf("message %d: %w", i, err)
				break
			}
			r.msgs = append(r.msgs, msg)
		}
		ch <- r
	}()
	return ch
}

type batchResult struct {
	msgs [][][]byte
	err  error
}

// expectBatch waits for readMessages and checks it read want.
func expectBatch(t *testing.T, ch <-chan batchResult, want [][][]byte) {
	t.Helper()
	var r batchResult
	select {
	case r = <-ch:
	case <-time.After(20 * time.Second):
		t.Fatal("the messages did not arrive within 20 s")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	if len(r.msgs) != len(want) {
		t.Fatalf("read %d messages, want %d", len(r.msgs), len(want))
	}
	for i := range want {
		if !msgEqual(r.msgs[i], want[i]) {
			t.Fatalf("message %d: %d frames %.40q, want %d frames %.40q", i, len(r.msgs[i]), r.msgs[i], len(want[i]), want[i])
		}
	}
}

// batchMechs are the security mechanisms the batch tests run under: NULL,
// and CURVE, where every frame is sealed and nothing is spliced.
var batchMechs = []struct {
	name string
	cfgs func(testing.TB) (*Config, *Config)
}{
	{"NULL", func(testing.TB) (*Config, *Config) {
		return &Config{SocketType: zmtp.DEALER}, &Config{SocketType: zmtp.ROUTER}
	}},
	{"CURVE", func(tb testing.TB) (*Config, *Config) {
		c, s, _ := curveConfigs(tb)
		return c, s
	}},
}

// smallBatch returns n messages of one to four frames, each frame saying
// which message and frame it is, with an empty frame now and then.
func smallBatch(n int) [][][]byte {
	msgs := make([][][]byte, n)
	for i := range msgs {
		msg := make([][]byte, 1+i%4)
		for j := range msg {
			if (i+j)%7 == 3 {
				msg[j] = []byte{}
				continue
			}
			msg[j] = fmt.Appendf(nil, "message %d frame %d", i, j)
		}
		msgs[i] = msg
	}
	return msgs
}

// TestWriteMessagesInOrder: a thousand small multipart messages in one
// batch arrive whole and in order over TCP, under NULL and CURVE.
func TestWriteMessagesInOrder(t *testing.T) {
	for _, m := range batchMechs {
		t.Run(m.name, func(t *testing.T) {
			ccfg, scfg := m.cfgs(t)
			c, s := pair(t, ccfg, scfg)
			want := smallBatch(1000)
			ch := readMessages(s, len(want))
			if err := c.WriteMessages(want); err != nil {
				t.Fatal(err)
			}
			expectBatch(t, ch, want)
			// And the connection goes on: a second batch, then one message.
			ch = readMessages(s, len(want)+1)
			if err := c.WriteMessages(want); err != nil {
				t.Fatal(err)
			}
			last := [][]byte{[]byte("last")}
			if err := c.WriteMessage(last); err != nil {
				t.Fatal(err)
			}
			expectBatch(t, ch, append(want[:len(want):len(want)], last))
		})
	}
}

// TestWriteMessagesLargeFrames: frames around the splice threshold and one
// of 1 MiB, among small ones, arrive intact, over TCP (writev) and
// net.Pipe (no writev: the pieces are written in turn), under NULL and
// CURVE.
func TestWriteMessagesLargeFrames(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	mid := func(n int) []byte { return bytes.Repeat([]byte{byte(n)}, n) }
	var want [][][]byte
	want = append(want, smallBatch(50)...)
	want = append(want, [][]byte{[]byte("before"), big, []byte("after")})
	want = append(want, smallBatch(50)...)
	want = append(want, [][]byte{mid(spliceMin - 1), mid(spliceMin), mid(spliceMin + 1)})
	want = append(want, [][]byte{big})
	want = append(want, [][]byte{mid(writeChunk), []byte("x")})
	want = append(want, smallBatch(10)...)
	// One message over 64 KiB of copied frames, and one with more
	// spliced bodies than one writev takes: both written in pieces.
	copied := make([][]byte, 20)
	for i := range copied {
		copied[i] = mid(spliceMin - 1 - i)
	}
	want = append(want, copied)
	many := make([][]byte, 2*maxSpliced+3)
	for i := range many {
		many[i] = mid(spliceMin + i)
	}
	want = append(want, many, [][]byte{[]byte("end")})
	for _, m := range batchMechs {
		for _, p := range netPipes {
			t.Run(m.name+"/"+p.name, func(t *testing.T) {
				ccfg, scfg := m.cfgs(t)
				a, b := p.mk(t)
				c, s := handshaken(t, a, b, ccfg, scfg)
				ch := readMessages(s, len(want))
				if err := c.WriteMessages(want); err != nil {
					t.Fatal(err)
				}
				expectBatch(t, ch, want)
				c.outMu.Lock()
				n, iov, size := len(c.spliced), c.iov[:cap(c.iov)], cap(c.out)
				c.outMu.Unlock()
				if n != 0 {
					t.Errorf("%d spliced bodies left after the batch", n)
				}
				if m.name == "NULL" && size > 2*writeChunk+spliceMin {
					t.Errorf("output buffer grew to %d bytes, want at most %d", size, 2*writeChunk+spliceMin)
				}
				for i, b := range iov {
					if b != nil {
						t.Fatalf("iovec %d still refers to %d bytes after the batch", i, len(b))
					}
				}
			})
		}
	}
}

// TestWriteMessagesZeroCopy: a NULL frame body of spliceMin bytes or more is
// written from the caller's slice, not copied; a smaller one is copied.
func TestWriteMessagesZeroCopy(t *testing.T) {
	c, s, cc := countingPair(t)
	big := bytes.Repeat([]byte("z"), 1<<20)
	edge := bytes.Repeat([]byte("e"), spliceMin)
	small := bytes.Repeat([]byte("s"), spliceMin-1)
	want := [][][]byte{{[]byte("a")}, {big}, {small, edge}, {[]byte("b")}}
	ch := readMessages(s, len(want))
	if err := c.WriteMessages(want); err != nil {
		t.Fatal(err)
	}
	expectBatch(t, ch, want)
	if !cc.wrote(big) || !cc.wrote(edge) {
		t.Errorf("a body of %d or %d bytes was copied, not written from the caller's slice", len(big), spliceMin)
	}
	if cc.wrote(small) {
		t.Errorf("a body of %d bytes was written from the caller's slice", len(small))
	}
}

// TestWriteMessagesFewWrites: a thousand 16-byte messages take one write,
// not a thousand; a batch far larger than the write chunk is written in
// chunks, and the output buffer stays near the chunk size.
func TestWriteMessagesFewWrites(t *testing.T) {
	c, s, cc := countingPair(t)
	msg := [][]byte{make([]byte, 16)}
	batch := make([][][]byte, 1000)
	for i := range batch {
		batch[i] = msg
	}
	ch := readMessages(s, len(batch))
	if err := c.WriteMessages(batch); err != nil {
		t.Fatal(err)
	}
	expectBatch(t, ch, batch)
	if n := cc.count(); n > 2 {
		t.Errorf("1000 x 16 B messages took %d writes, want at most 2", n)
	}

	// 100,000 x 18 wire bytes: about 28 chunks of 64 KiB.
	batch = make([][][]byte, 100_000)
	for i := range batch {
		batch[i] = msg
	}
	cc.reset()
	ch = readMessages(s, len(batch))
	if err := c.WriteMessages(batch); err != nil {
		t.Fatal(err)
	}
	expectBatch(t, ch, batch)
	wire := len(batch) * (2 + 16)
	if n, most := cc.count(), wire/writeChunk+1; n > most {
		t.Errorf("%d bytes took %d writes, want at most %d", wire, n, most)
	}
	c.outMu.Lock()
	size := cap(c.out)
	c.outMu.Unlock()
	if size > 2*writeChunk {
		t.Errorf("output buffer grew to %d bytes for a %d-byte batch, want at most %d", size, wire, 2*writeChunk)
	}
}

// TestWriteMessagesEmpty: an empty batch writes nothing; a batch with a
// message of no frames is refused whole, before anything is written, and
// the connection goes on.
func TestWriteMessagesEmpty(t *testing.T) {
	c, s, cc := countingPair(t)
	for _, batch := range [][][][]byte{nil, {}} {
		if err := c.WriteMessages(batch); err != nil {
			t.Fatalf("WriteMessages(%#v) = %v, want nil", batch, err)
		}
	}
	// More than a chunk of messages before the empty one: nothing of them
	// may have been written either.
	long := append(smallBatch(10_000), nil)
	for _, batch := range [][][][]byte{
		{{[]byte("first")}, {}, {[]byte("third")}},
		{{[]byte("first")}, nil},
		{{}},
		long,
	} {
		if err := c.WriteMessages(batch); !errors.Is(err, ErrEmptyMessage) {
			t.Fatalf("WriteMessages(%d messages) = %v, want ErrEmptyMessage", len(batch), err)
		}
	}
	if n := cc.count(); n != 0 {
		t.Fatalf("%d writes for empty and refused batches, want none", n)
	}
	want := [][][]byte{{[]byte("after")}, {[]byte("the"), []byte("refusals")}}
	ch := readMessages(s, len(want))
	if err := c.WriteMessages(want); err != nil {
		t.Fatal(err)
	}
	expectBatch(t, ch, want)
}

// TestWriteMessagesEmptyBeforeHandshake: the handshake runs first, as for
// every write, even for an empty batch.
func TestWriteMessagesEmptyBeforeHandshake(t *testing.T) {
	a, b := tcpConns(t)
	c, s := Client(a, &Config{SocketType: zmtp.DEALER}), Server(b, &Config{SocketType: zmtp.ROUTER})
	t.Cleanup(func() { c.Close(); s.Close() })
	errc := handshakeAsync(s)
	if err := c.WriteMessages(nil); err != nil {
		t.Fatal(err)
	}
	if err := recvErr(t, errc, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if !c.ConnectionState().HandshakeComplete {
		t.Fatal("an empty batch did not run the handshake")
	}
}

// TestWriteMessagesClosed: after Close a batch fails with an error that
// matches net.ErrClosed.
func TestWriteMessagesClosed(t *testing.T) {
	c, _ := pair(t, &Config{SocketType: zmtp.PAIR}, &Config{SocketType: zmtp.PAIR})
	c.Close()
	if err := c.WriteMessages([][][]byte{{[]byte("x")}}); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("after Close: %v, want net.ErrClosed", err)
	}
}

// TestWriteMessagesSubscriptions: in a batch, as with WriteMessage, a SUB's
// one-frame subscription or cancellation goes to a ZMTP 3.1 peer as a
// command and to a 3.0 peer as a data frame; other messages go as they are,
// and the whole batch in order.
func TestWriteMessagesSubscriptions(t *testing.T) {
	for _, tt := range []struct {
		minor             byte
		typ               zmtp.SocketType
		subscribe, cancel string
	}{
		{0, zmtp.SUB, `00 02 01 41`, `00 02 00 41`},
		{1, zmtp.SUB, `04 0B 09 "SUBSCRIBE" 41`, `04 08 06 "CANCEL" 41`},
		{1, zmtp.XSUB, `04 0B 09 "SUBSCRIBE" 41`, `04 08 06 "CANCEL" 41`},
	} {
		t.Run(fmt.Sprintf("3.%d %s", tt.minor, tt.typ), func(t *testing.T) {
			c, r := rawPeer(t, tcpConns, true, &Config{SocketType: tt.typ})
			errc := handshakeAsync(c)
			r.greet(tt.minor, "Socket-Type", "PUB")
			if err := recvErr(t, errc, 5*time.Second); err != nil {
				t.Fatal(err)
			}
			long := bytes.Repeat([]byte("t"), spliceMin) // a command is always copied
			batch := [][][]byte{
				{testhelp.Wire(`01 41`)},
				{testhelp.Wire(`01 41`), nil}, // multipart: never a subscription
				{testhelp.Wire(`00 41`)},
				{append([]byte{zmtp.SubscribeByte}, long...)},
				{testhelp.Wire(`01 41`)},
			}
			if err := c.WriteMessages(batch); err != nil {
				t.Fatal(err)
			}
			r.expect("subscribe", testhelp.Wire(tt.subscribe))
			r.expect("multipart", testhelp.Wire(`01 02 01 41 00 00`))
			r.expect("cancel", testhelp.Wire(tt.cancel))
			longFrame := zmtp.AppendFrame(nil, 0, batch[3][0])
			if tt.minor >= 1 {
				longFrame = commandFrame(zmtp.AppendSubscribe(nil, long))
			}
			r.expect("long subscribe", longFrame)
			r.expect("subscribe again", testhelp.Wire(tt.subscribe))
		})
	}
}

// TestWriteMessagesAllocations: in steady state, WriteMessages of a mixed
// batch and the ReadMessage calls that read it back allocate nothing, under
// NULL (with a spliced body) and CURVE.
func TestWriteMessagesAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts are not stable in -short mode")
	}
	batch := smallBatch(100)
	batch = append(batch, [][]byte{make([]byte, 1<<10), make([]byte, 16<<10), make([]byte, 16)})
	batch = append(batch, smallBatch(10)...)
	for _, m := range batchMechs {
		t.Run(m.name, func(t *testing.T) {
			ccfg, scfg := m.cfgs(t)
			c, s := loopbackPairWith(t, ccfg, scfg)
			allocs, last := batchRoundTripAllocs(t, c, s, batch)
			if !msgEqual(last, batch[len(batch)-1]) {
				t.Fatalf("last message read = %q, want %q", last, batch[len(batch)-1])
			}
			if allocs != 0 {
				t.Errorf("WriteMessages of %d messages and reading them back: %v allocations, want 0", len(batch), allocs)
			}
		})
	}
}
