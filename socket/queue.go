package socket

// queue is a FIFO of messages in a ring buffer that grows by doubling and
// shrinks back when it empties, so an idle peer holds little memory.
type queue struct {
	buf  [][][]byte
	head int
	n    int
}

// minQueueCap is the smallest ring allocated, and the size a queue shrinks
// back to once empty.
const minQueueCap = 16

// maxKeptQueueCap is the largest ring an empty queue keeps: enough for the
// default high-water mark, so that a busy queue that empties now and then
// does not reallocate its ring each time.
const maxKeptQueueCap = 1024

func (q *queue) len() int { return q.n }

func (q *queue) push(m [][]byte) {
	if q.n == len(q.buf) {
		q.grow()
	}
	q.buf[(q.head+q.n)&(len(q.buf)-1)] = m
	q.n++
}

func (q *queue) grow() {
	size := max(minQueueCap, 2*len(q.buf))
	buf := make([][][]byte, size)
	for i := 0; i < q.n; i++ {
		buf[i] = q.buf[(q.head+i)&(len(q.buf)-1)]
	}
	q.buf, q.head = buf, 0
}

func (q *queue) pop() [][]byte {
	m := q.buf[q.head]
	q.buf[q.head] = nil
	q.head = (q.head + 1) & (len(q.buf) - 1)
	q.n--
	if q.n == 0 {
		q.head = 0
		if len(q.buf) > maxKeptQueueCap {
			q.buf = nil // a burst past the usual marks is over; do not keep its ring
		}
	}
	return m
}

// popInto moves up to max messages to dst, stopping once their payload
// reaches maxBytes, and returns dst.
func (q *queue) popInto(dst [][][]byte, maxMsgs, maxBytes int) [][][]byte {
	bytes := 0
	for q.n > 0 && len(dst) < maxMsgs && bytes < maxBytes {
		m := q.pop()
		for _, f := range m {
			bytes += len(f)
		}
		dst = append(dst, m)
	}
	return dst
}

// clear drops every message.
func (q *queue) clear() { *q = queue{} }
