package zmtp_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/zmtpsec/zmtpsec/internal/testhelp"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// readAll reads frames until an error and returns copies of them.
func readAll(r *zmtp.Reader) ([]zmtp.Frame, error) {
	var frames []zmtp.Frame
	for {
		f, err := r.ReadFrame()
		if err != nil {
			return frames, err
		}
		frames = append(frames, zmtp.Frame{Flags: f.Flags, Body: bytes.Clone(f.Body)})
	}
}

var frameCmp = cmpopts.EquateEmpty()

func TestReadFrames(t *testing.T) {
	nullReady := testhelp.Wire(`04 29 05 52 45 41 44 59 0B 53 6F 63 6B 65 74 2D 54 79 70 65 00 00 00 06 44 45 41 4C 45 52
		08 49 64 65 6E 74 69 74 79 00 00 00 00`)
	body256 := bytes.Repeat([]byte{'z'}, 256)
	tests := []struct {
		in      []byte
		want    []zmtp.Frame
		wantErr error // the error after the last frame
	}{
		0: {in: nil, wantErr: io.EOF},
		1: {in: testhelp.Wire(`00 00`), want: []zmtp.Frame{{}}, wantErr: io.EOF},
		2: {in: testhelp.Wire(`00 05 68 65 6C 6C 6F`), want: []zmtp.Frame{{Body: []byte("hello")}}, wantErr: io.EOF},
		3: { // a two-part message
			in:      testhelp.Wire(`01 01 41 00 01 42`),
			want:    []zmtp.Frame{{Flags: zmtp.FlagMore, Body: []byte("A")}, {Body: []byte("B")}},
			wantErr: io.EOF,
		},
		4: { // the golden commands of docs/wire-format.md
			in: testhelp.Cat(nullReady, testhelp.Wire(`04 07 04 50 49 4E 47 00 64`), testhelp.Wire(`04 05 04 50 4F 4E 47`),
				testhelp.Wire(`04 0B 09 53 55 42 53 43 52 49 42 45 41`), testhelp.Wire(`00 02 01 41`)),
			want: []zmtp.Frame{
				{Flags: zmtp.FlagCommand, Body: nullReady[2:]},
				{Flags: zmtp.FlagCommand, Body: testhelp.Wire(`04 "PING" 00 64`)},
				{Flags: zmtp.FlagCommand, Body: testhelp.Wire(`04 "PONG"`)},
				{Flags: zmtp.FlagCommand, Body: testhelp.Wire(`09 "SUBSCRIBE" 41`)},
				{Body: testhelp.Wire(`01 41`)},
			},
			wantErr: io.EOF,
		},
		5: { // LONG for a short body is accepted
			in:      testhelp.Wire(`02 00 00 00 00 00 00 00 03 "abc" 06 00 00 00 00 00 00 00 00`),
			want:    []zmtp.Frame{{Body: []byte("abc")}, {Flags: zmtp.FlagCommand}},
			wantErr: io.EOF,
		},
		6: { // reserved bits are ignored
			in:      testhelp.Wire(`F9 01 41 FC 00 FA 00 00 00 00 00 00 00 01 42`),
			want:    []zmtp.Frame{{Flags: zmtp.FlagMore, Body: []byte("A")}, {Flags: zmtp.FlagCommand}, {Body: []byte("B")}},
			wantErr: io.EOF,
		},
		7: {
			in:      testhelp.Cat(testhelp.Wire(`03 00 00 00 00 00 00 01 00`), body256, testhelp.Wire(`06 00 00 00 00 00 00 01 00`), body256),
			want:    []zmtp.Frame{{Flags: zmtp.FlagMore, Body: body256}, {Flags: zmtp.FlagCommand, Body: body256}},
			wantErr: io.EOF,
		},
		8: { // command with MORE, after a good frame
			in:      testhelp.Wire(`00 01 41 05 00`),
			want:    []zmtp.Frame{{Body: []byte("A")}},
			wantErr: zmtp.ErrMalformed,
		},
		9:  {in: testhelp.Wire(`07 00 00 00 00 00 00 00 00`), wantErr: zmtp.ErrMalformed},
		10: {in: testhelp.Wire(`02 80 00 00 00 00 00 00 00`), wantErr: zmtp.ErrMalformed},
		11: {in: testhelp.Wire(`02 FF FF FF FF FF FF FF FF 00`), wantErr: zmtp.ErrMalformed},
		12: {in: testhelp.Wire(`00 05 68 65`), wantErr: io.ErrUnexpectedEOF},
		13: {in: testhelp.Wire(`00 01 41 02 00 00`), want: []zmtp.Frame{{Body: []byte("A")}}, wantErr: io.ErrUnexpectedEOF},
	}
	sources := map[string]func([]byte) io.Reader{
		"whole":    func(b []byte) io.Reader { return bytes.NewReader(b) },
		"one byte": func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) },
		"3 bytes":  func(b []byte) io.Reader { return &chunkReader{r: bytes.NewReader(b), size: 3} },
	}
	for name, src := range sources {
		for i, tt := range tests {
			r := zmtp.NewReader(src(tt.in))
			got, err := readAll(r)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("%s %d: error = %v, want %v", name, i, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got, frameCmp); diff != "" {
				t.Errorf("%s %d: frames (-want +got):\n%s", name, i, diff)
			}
			// Errors are sticky.
			if _, err2 := r.ReadFrame(); !sameError(err, err2) {
				t.Errorf("%s %d: ReadFrame after %v = %v", name, i, err, err2)
			}
		}
	}
}

// TestReadFrameSizes reads a stream of frames of sizes 0, 1, 255, 256,
// 65536 and 1 MiB from sources that deliver 1 byte, 7 bytes or everything
// per Read.
func TestReadFrameSizes(t *testing.T) {
	sizes := []int{0, 1, 255, 256, 65536, 1 << 20, 0, 256, 1, 255}
	allFlags := []zmtp.Flags{0, zmtp.FlagMore, zmtp.FlagCommand}
	var stream []byte
	var want []zmtp.Frame
	for i, n := range sizes {
		body := make([]byte, n)
		for j := range body {
			body[j] = byte(i*31 + j*7)
		}
		flags := allFlags[i%len(allFlags)]
		stream = zmtp.AppendFrame(stream, flags, body)
		want = append(want, zmtp.Frame{Flags: flags, Body: body})
	}
	sources := map[string]func([]byte) io.Reader{
		"whole":    func(b []byte) io.Reader { return bytes.NewReader(b) },
		"one byte": func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) },
		"7 bytes":  func(b []byte) io.Reader { return &chunkReader{r: bytes.NewReader(b), size: 7} },
		"half":     func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) },
	}
	for name, src := range sources {
		t.Run(name, func(t *testing.T) {
			r := zmtp.NewReader(src(stream))
			got, err := readAll(r)
			if err != io.EOF {
				t.Errorf("error = %v, want io.EOF", err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d frames, want %d", len(got), len(want))
			}
			for i := range want {
				if got[i].Flags != want[i].Flags || !bytes.Equal(got[i].Body, want[i].Body) {
					t.Errorf("frame %d (%d bytes): flags %#x, body differs: %v", i, len(want[i].Body),
						byte(got[i].Flags), !bytes.Equal(got[i].Body, want[i].Body))
				}
			}
		})
	}
}

// TestReadFrameBodyView checks that a returned body is capped, so that
// appending to it cannot overwrite the next frame in the Reader's buffer.
func TestReadFrameBodyView(t *testing.T) {
	r := zmtp.NewReader(bytes.NewReader(testhelp.Wire(`00 01 41 00 01 42`)))
	f, err := r.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	if cap(f.Body) != len(f.Body) {
		t.Errorf("cap(Body) = %d, len %d", cap(f.Body), len(f.Body))
	}
	_ = append(f.Body, 'X')
	f, err = r.ReadFrame()
	if err != nil || string(f.Body) != "B" {
		t.Errorf("second frame = %q, %v; want \"B\"", f.Body, err)
	}
}

// TestReadFrameTruncated cuts a stream at every length: the frames wholly
// inside the cut are returned, then io.EOF if the cut falls between frames
// and io.ErrUnexpectedEOF if it falls inside one; the error is sticky.
func TestReadFrameTruncated(t *testing.T) {
	var stream []byte
	var ends []int // offsets where a frame ends
	for _, f := range []struct {
		flags zmtp.Flags
		body  []byte
	}{
		{zmtp.FlagCommand, testhelp.Wire(`04 "PING" 00 64`)},
		{zmtp.FlagMore, nil},
		{0, bytes.Repeat([]byte{1}, 300)},
		{0, []byte("x")},
	} {
		stream = zmtp.AppendFrame(stream, f.flags, f.body)
		ends = append(ends, len(stream))
	}
	// A LONG frame with a short body, so that truncation inside an 8-byte
	// size of a small frame is covered too.
	stream = append(stream, testhelp.Wire(`02 00 00 00 00 00 00 00 02 "hi"`)...)
	ends = append(ends, len(stream))

	for n := 0; n <= len(stream); n++ {
		for _, src := range []io.Reader{bytes.NewReader(stream[:n]), iotest.OneByteReader(bytes.NewReader(stream[:n]))} {
			r := zmtp.NewReader(src)
			frames, err := readAll(r)
			wantFrames, wantErr := 0, error(io.ErrUnexpectedEOF)
			for _, e := range ends {
				if e <= n {
					wantFrames++
				}
				if e == n {
					wantErr = io.EOF
				}
			}
			if n == 0 {
				wantErr = io.EOF
			}
			if len(frames) != wantFrames || err != wantErr {
				t.Errorf("cut at %d: %d frames, %v; want %d, %v", n, len(frames), err, wantFrames, wantErr)
			}
			for i := 0; i < 3; i++ {
				if _, err2 := r.ReadFrame(); err2 != err {
					t.Errorf("cut at %d: ReadFrame after %v = %v", n, err, err2)
				}
			}
		}
	}
}

// TestReadFrameEOFWithData feeds the Reader from a source that returns the
// last bytes together with io.EOF, which io.Reader allows. A stream that ends
// exactly at a frame boundary must still end with io.EOF, not
// io.ErrUnexpectedEOF: the peer closed cleanly.
func TestReadFrameEOFWithData(t *testing.T) {
	stream := testhelp.Wire(`01 01 41 00 01 42`)
	for _, tt := range []struct {
		name string
		src  io.Reader
	}{
		{"DataErrReader", iotest.DataErrReader(bytes.NewReader(stream))},
		{"DataErrReader one byte", iotest.DataErrReader(iotest.OneByteReader(bytes.NewReader(stream)))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			frames, err := readAll(zmtp.NewReader(tt.src))
			if len(frames) != 2 {
				t.Errorf("%d frames, want 2", len(frames))
			}
			if err != io.EOF {
				t.Errorf("error at a clean end of stream = %v, want io.EOF", err)
			}
		})
	}
	// And inside a frame it is still io.ErrUnexpectedEOF.
	frames, err := readAll(zmtp.NewReader(iotest.DataErrReader(bytes.NewReader(stream[:5]))))
	if len(frames) != 1 || err != io.ErrUnexpectedEOF {
		t.Errorf("cut inside a frame: %d frames, %v; want 1, io.ErrUnexpectedEOF", len(frames), err)
	}
}

// TestReadFrameMaxSize checks the limit is enforced on the header, before
// any byte of the body is taken from the source.
func TestReadFrameMaxSize(t *testing.T) {
	tests := []struct {
		max    int64
		header []byte
		size   uint64
	}{
		{10, testhelp.Wire(`00 0B`), 11},
		{10, testhelp.Wire(`04 FF`), 255},
		{10, testhelp.Wire(`02 00 00 00 00 00 00 00 0B`), 11}, // LONG for a small body
		{255, testhelp.Wire(`02 00 00 00 00 00 00 01 00`), 256},
		{1 << 20, testhelp.Wire(`06 00 00 00 00 00 10 00 01`), 1<<20 + 1},
		{1, testhelp.Wire(`02 40 00 00 00 00 00 00 00`), 1 << 62},
		{1 << 40, testhelp.Wire(`02 7F FF FF FF FF FF FF FF`), 1<<63 - 1},
	}
	for i, tt := range tests {
		check := func(name string, err error) {
			t.Helper()
			var fe *zmtp.FrameTooLargeError
			if !errors.As(err, &fe) {
				t.Errorf("%d %s: ReadFrame error = %v, want a *FrameTooLargeError", i, name, err)
				return
			}
			if fe.Size != tt.size || fe.Limit != tt.max {
				t.Errorf("%d %s: FrameTooLargeError = %+v, want Size %d Limit %d", i, name, *fe, tt.size, tt.max)
			}
			if !errors.Is(err, zmtp.ErrFrameTooLarge) || errors.Is(err, zmtp.ErrMalformed) {
				t.Errorf("%d %s: %v: wrong sentinel", i, name, err)
			}
		}

		// The peer sends the header, then waits: the Reader must not ask
		// for the body.
		r := zmtp.NewReader(&scriptedReader{t: t, chunks: [][]byte{tt.header}})
		r.SetMaxFrameSize(tt.max)
		_, err := r.ReadFrame()
		check("scripted", err)

		// One byte per Read, with the body there: exactly the header is
		// consumed.
		body := bytes.Repeat([]byte{0xEE}, 64)
		cr := &countingReader{r: bytes.NewReader(testhelp.Cat(tt.header, body))}
		r = zmtp.NewReader(iotest.OneByteReader(cr))
		r.SetMaxFrameSize(tt.max)
		_, err = r.ReadFrame()
		check("one byte", err)
		if cr.n != len(tt.header) {
			t.Errorf("%d: %d bytes consumed, want the %d-byte header only", i, cr.n, len(tt.header))
		}
		_, err2 := r.ReadFrame()
		if !sameError(err, err2) {
			t.Errorf("%d: ReadFrame after %v = %v", i, err, err2)
		}
	}

	// At the limit is fine; negative means no limit.
	for _, max := range []int64{11, 0, -1} {
		r := zmtp.NewReader(bytes.NewReader(testhelp.Cat(testhelp.Wire(`00 0B`), []byte("hello world"))))
		r.SetMaxFrameSize(max)
		f, err := r.ReadFrame()
		if err != nil || string(f.Body) != "hello world" {
			t.Errorf("limit %d: ReadFrame = %q, %v", max, f.Body, err)
		}
	}
}

// TestReadFrameHugeDeclaredSize: with no limit, a peer that announces a
// 2^62-byte frame and sends 100 KiB costs memory in proportion to what it
// sent, not to what it announced.
func TestReadFrameHugeDeclaredSize(t *testing.T) {
	for _, header := range [][]byte{
		testhelp.Wire(`02 40 00 00 00 00 00 00 00`), // 2^62
		testhelp.Wire(`02 00 00 00 01 00 00 00 00`), // 4 GiB
		testhelp.Wire(`02 7F FF FF FF FF FF FF F0`), // just under 2^63
		testhelp.Wire(`02 7F FF FF FF FF FF FF FF`), // 2^63 - 1
	} {
		const sent = 100 << 10
		src := &chunkReader{r: bytes.NewReader(testhelp.Cat(header, make([]byte, sent))), size: 4096}
		r := zmtp.NewReader(src)

		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := r.ReadFrame()
		runtime.ReadMemStats(&after)

		if err != io.ErrUnexpectedEOF && !errors.Is(err, zmtp.ErrFrameTooLarge) {
			t.Errorf("%x: ReadFrame error = %v, want io.ErrUnexpectedEOF (or a size error)", header, err)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
			t.Errorf("%x: ReadFrame allocated %d bytes for %d bytes received", header, alloc, sent)
		}
	}
}

// TestReaderStickyAfterGreetingError: once ReadGreeting has failed, the
// Reader is dead. ReadFrame must not go on to parse the bytes of a ZMTP 1.0
// peer (or of a bad greeting) as frames.
func TestReaderStickyAfterGreetingError(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   []byte
	}{
		{"ZMTP 1.0", testhelp.Wire(`01 00 08 00 "sneaky" 00`)}, // libzmq test_*_vanilla_socket
		{"ZMTP 2.0", testhelp.Wire(`FF 00 00 00 00 00 00 00 01 7F 01 05 00 00`)},
		{"bad mechanism", greetingBytes(zeroPad, 0x7F, 3, 1, mechField("null"), 0)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := zmtp.NewReader(bytes.NewReader(tt.in))
			_, err := r.ReadGreeting()
			if err == nil {
				t.Fatal("ReadGreeting succeeded")
			}
			f, err2 := r.ReadFrame()
			if !sameError(err, err2) {
				t.Errorf("ReadFrame after ReadGreeting failed with %v = %+v, %v; want the same error", err, f, err2)
			}
		})
	}
}

// TestReaderStickyFrameTooLarge: raising the limit after a
// FrameTooLargeError does not revive the Reader (its body was never read, so
// the stream is out of sync).
func TestReaderStickyFrameTooLarge(t *testing.T) {
	r := zmtp.NewReader(bytes.NewReader(testhelp.Cat(testhelp.Wire(`00 0B`), []byte("hello world"))))
	r.SetMaxFrameSize(10)
	_, err := r.ReadFrame()
	if !errors.Is(err, zmtp.ErrFrameTooLarge) {
		t.Fatalf("ReadFrame = %v", err)
	}
	r.SetMaxFrameSize(0)
	f, err2 := r.ReadFrame()
	if !sameError(err, err2) {
		t.Errorf("ReadFrame after %v and a raised limit = %q, %v; want the same error", err, f.Body, err2)
	}
}

// TestReaderStickyUnexpectedEOF: a stream that ends inside a frame header
// gives io.ErrUnexpectedEOF, and so does every later call. (Found by
// FuzzReadFrames: the second call parsed the 2 buffered bytes, found a
// command frame with MORE and returned a malformed-frame error instead.)
func TestReaderStickyUnexpectedEOF(t *testing.T) {
	// The flags byte 07 (LONG, so a 9-byte header) arrives with the frame
	// before it; one more byte, then the end.
	r := zmtp.NewReader(&stepReader{steps: []step{{testhelp.Wire(`00 01 41 07`), nil}, {testhelp.Wire(`00`), nil}}})
	if f, err := r.ReadFrame(); err != nil || string(f.Body) != "A" {
		t.Fatalf("first ReadFrame = %q, %v", f.Body, err)
	}
	_, err := r.ReadFrame()
	if err != io.ErrUnexpectedEOF {
		t.Fatalf("ReadFrame = %v, want io.ErrUnexpectedEOF", err)
	}
	if _, err2 := r.ReadFrame(); err2 != err {
		t.Errorf("second ReadFrame = %v, want %v", err2, err)
	}
}

// TestReaderUnderlyingError: a non-EOF error of the source is returned as
// is, and sticks.
func TestReaderUnderlyingError(t *testing.T) {
	boom := errors.New("boom")
	r := zmtp.NewReader(io.MultiReader(bytes.NewReader(testhelp.Wire(`00 01 41 00`)), iotest.ErrReader(boom)))
	frames, err := readAll(r)
	if len(frames) != 1 || err != boom {
		t.Errorf("%d frames, %v; want 1, boom", len(frames), err)
	}
	if _, err := r.ReadFrame(); err != boom {
		t.Errorf("ReadFrame after boom = %v", err)
	}
}

func TestReaderBuffered(t *testing.T) {
	r := zmtp.NewReader(bytes.NewReader(testhelp.Wire(`00 01 41 00 02 42 43`)))
	if r.Buffered() != 0 {
		t.Errorf("Buffered = %d before any read", r.Buffered())
	}
	if _, err := r.ReadFrame(); err != nil {
		t.Fatal(err)
	}
	if got := r.Buffered(); got != 4 {
		t.Errorf("Buffered = %d after the first frame, want 4", got)
	}
	if _, err := r.ReadFrame(); err != nil {
		t.Fatal(err)
	}
	if got := r.Buffered(); got != 0 {
		t.Errorf("Buffered = %d at the end, want 0", got)
	}
}

// step is one Read result of a stepReader.
type step struct {
	data []byte
	err  error
}

// stepReader returns its steps in order, one per Read, then io.EOF.
type stepReader struct{ steps []step }

func (s *stepReader) Read(p []byte) (int, error) {
	if len(s.steps) == 0 {
		return 0, io.EOF
	}
	st := &s.steps[0]
	n := copy(p, st.data)
	st.data = st.data[n:]
	if len(st.data) > 0 {
		return n, nil
	}
	err := st.err
	s.steps = s.steps[1:]
	return n, err
}

// A timeout is not sticky: no partial frame is consumed, and the call can
// be retried once the deadline is extended.
func TestReaderTimeoutRetry(t *testing.T) {
	timeout := fmt.Errorf("read tcp 127.0.0.1:5555: %w", os.ErrDeadlineExceeded)
	full := greetingBytes(libzmqPad, 0x7F, 3, 1, mechField("NULL"), 0)
	// A timeout that comes while the Reader still needs bytes is returned;
	// one that comes with enough bytes for the step in progress is not.
	src := &stepReader{steps: []step{
		{nil, timeout},         // nothing yet
		{full[:10], timeout},   // libzmq's first 10 bytes: enough for the first checks
		{full[10:11], nil},     // the major version
		{full[11:40], timeout}, // part of the rest
		{full[40:], nil},
		{testhelp.Wire(`00`), timeout},          // half a short header
		{testhelp.Wire(`05 "he"`), timeout},     // the header is complete: not reported
		{testhelp.Wire(`"l"`), timeout},         // the body is not
		{testhelp.Wire(`"lo"`), timeout},        // completes the frame: not reported
		{testhelp.Wire(`02 00 00 00`), timeout}, // enough for a short header: not reported
		{testhelp.Wire(`00`), timeout},          // but this one is LONG
		{testhelp.Wire(`00 00 00 01 "A"`), nil},
		{testhelp.Wire(`01 01 "B"`), timeout}, // a whole frame and a timeout
		{testhelp.Wire(`00 00`), nil},
	}}
	r := zmtp.NewReader(src)
	var g zmtp.Greeting
	var err error
	timeouts := 0
	for {
		g, err = r.ReadGreeting()
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		timeouts++
	}
	if err != nil || g.Mechanism != "NULL" {
		t.Fatalf("ReadGreeting = %+v, %v", g, err)
	}
	var frames []zmtp.Frame
	for {
		f, err := r.ReadFrame()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			var te interface{ Timeout() bool }
			if !errors.As(err, &te) || !te.Timeout() {
				t.Errorf("timeout error %v lost its Timeout method", err)
			}
			timeouts++
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("ReadFrame: %v", err)
		}
		frames = append(frames, zmtp.Frame{Flags: f.Flags, Body: bytes.Clone(f.Body)})
	}
	want := []zmtp.Frame{{Body: []byte("hello")}, {Body: []byte("A")}, {Flags: zmtp.FlagMore, Body: []byte("B")}, {}}
	if diff := cmp.Diff(want, frames, frameCmp); diff != "" {
		t.Errorf("frames (-want +got):\n%s", diff)
	}
	if timeouts != 5 {
		t.Errorf("%d timeouts seen, want 5", timeouts)
	}
}

// A timeout does not get around the frame limit, and the limit error that
// follows is sticky.
func TestReaderTimeoutThenTooLarge(t *testing.T) {
	r := zmtp.NewReader(&stepReader{steps: []step{
		{testhelp.Wire(`02`), os.ErrDeadlineExceeded},
		{testhelp.Wire(`00 00 00 00 00 00 01 00`), nil},
	}})
	r.SetMaxFrameSize(255)
	if _, err := r.ReadFrame(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("first ReadFrame = %v, want a timeout", err)
	}
	_, err := r.ReadFrame()
	var fe *zmtp.FrameTooLargeError
	if !errors.As(err, &fe) || fe.Size != 256 {
		t.Fatalf("second ReadFrame = %v, want a 256-byte FrameTooLargeError", err)
	}
	if _, err2 := r.ReadFrame(); !sameError(err, err2) {
		t.Errorf("third ReadFrame = %v, want %v", err2, err)
	}
}

// TestReaderBuffers: a Reader reads into the buffer it is given with Reset
// or SetBuffer, keeps what it had buffered across SetBuffer, hands the old
// buffer back, and gets a buffer of its own when it has none.
func TestReaderBuffers(t *testing.T) {
	var stream []byte
	var want [][]byte
	for i, n := range []int{3, 100, 0, 700, 20, 9000, 5} {
		body := bytes.Repeat([]byte{byte(i + 1)}, n)
		stream = zmtp.AppendFrame(stream, 0, body)
		want = append(want, body)
	}
	expect := func(r *zmtp.Reader, i int) {
		t.Helper()
		f, err := r.ReadFrame()
		if err != nil || !bytes.Equal(f.Body, want[i]) {
			t.Fatalf("frame %d: %d bytes, %v; want %d bytes", i, len(f.Body), err, len(want[i]))
		}
	}
	for _, start := range []int{0, 16, 512} {
		t.Run(fmt.Sprint(start), func(t *testing.T) {
			var r zmtp.Reader
			first := make([]byte, start)
			r.Reset(bytes.NewReader(stream), first)
			expect(&r, 0)
			expect(&r, 1)
			// Whatever is buffered moves to the new buffer.
			second := make([]byte, 16<<10)
			buffered := r.Buffered()
			old := r.SetBuffer(second)
			if start == 512 && (len(old) != 512 || &old[0] != &first[0]) {
				t.Errorf("SetBuffer returned %d bytes, not the 512-byte buffer given to Reset (large enough for both frames)", len(old))
			}
			if r.Buffered() != buffered {
				t.Errorf("Buffered %d after SetBuffer, was %d", r.Buffered(), buffered)
			}
			clear(old) // no longer the Reader's
			for i := 2; i < len(want); i++ {
				expect(&r, i)
			}
			if _, err := r.ReadFrame(); err != io.EOF {
				t.Errorf("after the last frame: %v, want EOF", err)
			}
		})
	}
	t.Run("without a buffer", func(t *testing.T) {
		r := zmtp.NewReader(bytes.NewReader(stream))
		if old := r.SetBuffer(nil); len(old) != zmtp.DefaultReadBufferSize {
			t.Errorf("SetBuffer(nil) returned %d bytes, want the initial buffer", len(old))
		}
		for i := range want {
			expect(r, i)
		}
	})
	t.Run("too small", func(t *testing.T) {
		var r zmtp.Reader
		r.Reset(bytes.NewReader(stream), make([]byte, 64))
		expect(&r, 0)
		defer func() {
			if recover() == nil {
				t.Error("SetBuffer with no room for the buffered bytes did not panic")
			}
		}()
		r.SetBuffer(make([]byte, r.Buffered()-1))
	})
}
