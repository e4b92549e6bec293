package transcript

import (
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"sync"
	"time"
)

// Recorder is a net.Conn that records every byte our side writes to it and
// every byte it reads from the peer, as it happens. Consecutive chunks of
// one direction are kept as one record.
//
// A Write is recorded before it is passed on, so that a peer's reply can
// never appear before what it answers; a Write that fails is recorded in
// full, followed by a comment saying how far it got.
type Recorder struct {
	net.Conn
	mu      sync.Mutex
	records []Record
}

// NewRecorder returns a Recorder on c.
func NewRecorder(c net.Conn) *Recorder { return &Recorder{Conn: c} }

func (r *Recorder) add(k Kind, data []byte, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if k == Ours || k == Peer {
		if n := len(r.records); n > 0 && r.records[n-1].Kind == k {
			r.records[n-1].Data = append(r.records[n-1].Data, data...)
			return
		}
		data = append([]byte(nil), data...)
	}
	r.records = append(r.records, Record{Kind: k, Data: data, Text: text})
}

// Read reads from the connection and records what the peer sent.
func (r *Recorder) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	if n > 0 {
		r.add(Peer, p[:n], "")
	}
	return n, err
}

// Write records p and writes it to the connection.
func (r *Recorder) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return r.Conn.Write(p)
	}
	r.add(Ours, p, "")
	n, err := r.Conn.Write(p)
	if err != nil {
		r.add(Comment, nil, fmt.Sprintf("the write above failed after %d of %d bytes: %v", n, len(p), err))
	}
	return n, err
}

// Note records a note at the current point of the session.
func (r *Recorder) Note(text string) { r.add(Note, nil, text) }

// Comment records a comment at the current point of the session.
func (r *Recorder) Comment(text string) { r.add(Comment, nil, text) }

// Transcript returns a copy of what has been recorded so far, after a
// header of comments.
func (r *Recorder) Transcript(header ...string) *Transcript {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := &Transcript{Records: make([]Record, 0, len(header)+len(r.records))}
	for _, h := range header {
		t.Records = append(t.Records, Record{Kind: Comment, Text: h})
	}
	for _, rec := range r.records {
		rec.Data = append([]byte(nil), rec.Data...)
		t.Records = append(t.Records, rec)
	}
	return t
}

// MismatchError reports that our side wrote something other than what the
// recording holds.
type MismatchError struct {
	// Offset is the offset, in everything our side writes, of the first
	// byte that differs (or of the first byte past the end of the
	// recording).
	Offset int
	// Line is the transcript line that holds the recorded byte, or 0.
	Line int
	// Got is what our side wrote from Offset on, and Want what the
	// recording holds from there (both cut to a few bytes).
	Got, Want []byte
	// WriteOffset and WriteLen place the Write call that differed.
	WriteOffset, WriteLen int
}

func (e *MismatchError) Error() string {
	where := ""
	if e.Line > 0 {
		where = fmt.Sprintf(" (transcript line %d)", e.Line)
	}
	if len(e.Want) == 0 {
		return fmt.Sprintf("transcript: our side wrote past the end of the recording at byte %d: %s (a write of %d bytes at offset %d)",
			e.Offset, hexOrNone(e.Got), e.WriteLen, e.WriteOffset)
	}
	return fmt.Sprintf("transcript: our byte %d differs from the recording%s: wrote %s, recorded %s (a write of %d bytes at offset %d)",
		e.Offset, where, hexOrNone(e.Got), hexOrNone(e.Want), e.WriteLen, e.WriteOffset)
}

func hexOrNone(b []byte) string {
	if len(b) == 0 {
		return "nothing"
	}
	return hex.EncodeToString(b)
}

// mismatchContext is how many bytes a MismatchError shows.
const mismatchContext = 24

// gate says that the peer's bytes up to end may be read once our side has
// written need bytes.
type gate struct {
	end, need int
}

// Replay is a net.Conn that plays the peer's part of a transcript to our
// side. Read returns the peer's recorded bytes, but only those that the
// peer had sent by the time our side had written everything before them in
// the transcript; after the last one it blocks, as a silent peer, until
// Close or the read deadline. Write checks our bytes against the recording
// and fails with a [*MismatchError] at the first difference; from then on
// every Read and Write fails with the same error, so our side cannot hang.
//
// Deadlines behave as on a net.Conn: an expired one makes Read and Write
// return an error that wraps os.ErrDeadlineExceeded.
type Replay struct {
	ours  []byte
	lines []int // lines[i] is the transcript line of ours[i], or 0
	peer  []byte
	gates []gate

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced whenever the state changes
	written  int
	read     int
	err      error
	closed   bool
	rdl, wdl time.Time
}

// NewReplay returns a Replay of t.
func NewReplay(t *Transcript) *Replay {
	r := &Replay{changed: make(chan struct{})}
	for _, rec := range t.Records {
		switch rec.Kind {
		case Ours:
			r.ours = append(r.ours, rec.Data...)
			for range rec.Data {
				r.lines = append(r.lines, rec.Line)
			}
		case Peer:
			r.peer = append(r.peer, rec.Data...)
			r.gates = append(r.gates, gate{end: len(r.peer), need: len(r.ours)})
		}
	}
	return r
}

// notify wakes every blocked Read; the caller holds mu.
func (r *Replay) notify() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// readable returns how far into the peer's bytes our side may read now.
// The caller holds mu.
func (r *Replay) readable() int {
	lim := 0
	for _, g := range r.gates {
		if g.need > r.written {
			break
		}
		lim = g.end
	}
	return lim
}

// Read returns the peer's next recorded bytes once our side has written
// what precedes them.
func (r *Replay) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		r.mu.Lock()
		switch {
		case r.closed:
			r.mu.Unlock()
			return 0, net.ErrClosed
		case r.err != nil:
			err := r.err
			r.mu.Unlock()
			return 0, err
		}
		if lim := r.readable(); r.read < lim {
			n := copy(p, r.peer[r.read:lim])
			r.read += n
			r.mu.Unlock()
			return n, nil
		}
		dl, ch := r.rdl, r.changed
		r.mu.Unlock()
		if !wait(ch, dl) {
			return 0, fmt.Errorf("transcript: read: %w", os.ErrDeadlineExceeded)
		}
	}
}

// wait waits until ch is closed (true) or the deadline passes (false).
func wait(ch chan struct{}, deadline time.Time) bool {
	if deadline.IsZero() {
		<-ch
		return true
	}
	d := time.Until(deadline)
	if d <= 0 {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
		return false
	}
}

// Write checks p against what our side wrote in the recording.
func (r *Replay) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.closed:
		return 0, net.ErrClosed
	case r.err != nil:
		return 0, r.err
	case !r.wdl.IsZero() && !time.Now().Before(r.wdl):
		return 0, fmt.Errorf("transcript: write: %w", os.ErrDeadlineExceeded)
	}
	want := r.ours[r.written:]
	i := 0
	for i < len(p) && i < len(want) && p[i] == want[i] {
		i++
	}
	if i == len(p) {
		r.written += len(p)
		r.notify()
		return len(p), nil
	}
	off := r.written + i
	e := &MismatchError{
		Offset:      off,
		Got:         p[i:min(len(p), i+mismatchContext)],
		Want:        want[i:min(len(want), i+mismatchContext)],
		WriteOffset: r.written,
		WriteLen:    len(p),
	}
	e.Got = append([]byte(nil), e.Got...)
	if off < len(r.lines) {
		e.Line = r.lines[off]
	}
	r.written = off
	r.err = e
	r.notify()
	return i, e
}

// Err returns the first mismatch, or nil.
func (r *Replay) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Check returns the first mismatch, or an error if our side has not written
// everything it wrote in the recording; nil means our side wrote exactly
// what was recorded.
func (r *Replay) Check() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	if r.written < len(r.ours) {
		next := r.ours[r.written:min(len(r.ours), r.written+mismatchContext)]
		line := 0
		if r.written < len(r.lines) {
			line = r.lines[r.written]
		}
		return fmt.Errorf("transcript: our side wrote %d of the %d recorded bytes; the next ones (transcript line %d) are %x",
			r.written, len(r.ours), line, next)
	}
	return nil
}

// Unread returns how many of the peer's recorded bytes our side has not
// read.
func (r *Replay) Unread() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.peer) - r.read
}

// Close makes every Read and Write fail with net.ErrClosed.
func (r *Replay) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.closed = true
		r.notify()
	}
	return nil
}

// Addr is the address of both ends of a Replay.
type Addr struct{}

func (Addr) Network() string { return "transcript" }
func (Addr) String() string  { return "transcript" }

// LocalAddr returns Addr{}.
func (r *Replay) LocalAddr() net.Addr { return Addr{} }

// RemoteAddr returns Addr{}.
func (r *Replay) RemoteAddr() net.Addr { return Addr{} }

// SetDeadline sets both deadlines.
func (r *Replay) SetDeadline(t time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rdl, r.wdl = t, t
	r.notify()
	return nil
}

// SetReadDeadline sets the read deadline.
func (r *Replay) SetReadDeadline(t time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rdl = t
	r.notify()
	return nil
}

// SetWriteDeadline sets the write deadline.
func (r *Replay) SetWriteDeadline(t time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.wdl = t
	r.notify()
	return nil
}

var (
	_ net.Conn = (*Recorder)(nil)
	_ net.Conn = (*Replay)(nil)
)
