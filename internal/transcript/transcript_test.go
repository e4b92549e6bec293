package transcript

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

const sample = `# scenario: a sample
# second header line

@ role client
> ff00000000000000017f
< ff 00 00 00 00 00 00 00 01 7f
# a comment in the middle
> 03
< 0301
@ write "hi\x00" ""
> 0100
`

func TestParseFormat(t *testing.T) {
	tr, err := Parse([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tr.Header(), []string{"scenario: a sample", "second header line"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Header = %q, want %q", got, want)
	}
	if got, want := tr.Notes(), []string{"role client", `write "hi\x00" ""`}; !reflect.DeepEqual(got, want) {
		t.Errorf("Notes = %q, want %q", got, want)
	}
	if got, want := tr.Stream(Ours), []byte{0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 1, 0}; !bytes.Equal(got, want) {
		t.Errorf("Stream(Ours) = %x, want %x", got, want)
	}
	if got, want := tr.Stream(Peer), []byte{0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 1}; !bytes.Equal(got, want) {
		t.Errorf("Stream(Peer) = %x, want %x", got, want)
	}
	if tr.Records[3].Line != 5 {
		t.Errorf("record 3 on line %d, want 5", tr.Records[3].Line)
	}
	// Format and Parse are inverse, but for line numbers and the spacing
	// of hex.
	again, err := Parse(tr.Format())
	if err != nil {
		t.Fatal(err)
	}
	strip := func(t *Transcript) []Record {
		var out []Record
		for _, r := range t.Records {
			r.Line = 0
			out = append(out, r)
		}
		return out
	}
	if !reflect.DeepEqual(strip(tr), strip(again)) {
		t.Errorf("round trip:\n%s", tr.Format())
	}
}

func TestFormatWrapsLongRecords(t *testing.T) {
	data := bytes.Repeat([]byte{0xab}, 2*LineBytes+1)
	tr := &Transcript{Records: []Record{{Kind: Peer, Data: data}}}
	lines := strings.Split(strings.TrimSuffix(string(tr.Format()), "\n"), "\n")
	if len(lines) != 3 || len(lines[0]) != 2+2*LineBytes || lines[2] != "< ab" {
		t.Fatalf("Format:\n%s", tr.Format())
	}
	back, err := Parse(tr.Format())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.Stream(Peer), data) {
		t.Fatal("long record did not survive the round trip")
	}
}

func TestParseErrors(t *testing.T) {
	for _, text := range []string{
		"> zz\n",
		"> 0\n",
		">\n",
		">00\n",
		"! 00\n",
	} {
		if _, err := Parse([]byte(text)); err == nil {
			t.Errorf("Parse(%q) succeeded", text)
		}
	}
}

func TestNotes(t *testing.T) {
	text := JoinNote("read", []byte("a b"), nil, []byte{0, 0xff, '"'})
	if text != `read "a b" "" "\x00\xff\""` {
		t.Errorf("JoinNote = %s", text)
	}
	verb, args, err := SplitNote(text + " word")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a b", "", "\x00\xff\"", "word"}; verb != "read" || !reflect.DeepEqual(args, want) {
		t.Errorf("SplitNote = %q %q, want read %q", verb, args, want)
	}
	if verb, args, err := SplitNote("handshake"); err != nil || verb != "handshake" || len(args) != 0 {
		t.Errorf("SplitNote(handshake) = %q %q %v", verb, args, err)
	}
	for _, bad := range []string{`read "unterminated`, `read "a"b`} {
		if _, _, err := SplitNote(bad); err == nil {
			t.Errorf("SplitNote(%q) succeeded", bad)
		}
	}
}

func TestRecorder(t *testing.T) {
	ours, peer := net.Pipe()
	defer peer.Close()
	rec := NewRecorder(ours)
	defer rec.Close()
	go func() {
		buf := make([]byte, 3)
		io.ReadFull(peer, buf)
		peer.Write([]byte("xy"))
		peer.Write([]byte("z"))
		io.ReadFull(peer, buf[:1])
	}()
	rec.Note("start")
	rec.Write([]byte("a"))
	rec.Write([]byte("bc"))
	buf := make([]byte, 3)
	if _, err := io.ReadFull(rec, buf); err != nil {
		t.Fatal(err)
	}
	rec.Write([]byte("d"))
	rec.Comment("end")
	tr := rec.Transcript("header")
	want := "# header\n@ start\n> 616263\n< 78797a\n> 64\n# end\n"
	if got := string(tr.Format()); got != want {
		t.Errorf("recorded:\n%s\nwant:\n%s", got, want)
	}
}

func replayOf(t *testing.T, text string) *Replay {
	t.Helper()
	tr, err := Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return NewReplay(tr)
}

func TestReplayGatesPeerBytes(t *testing.T) {
	r := replayOf(t, "< 01\n> 0203\n< 04\n< 05\n> 06\n< 07\n")
	buf := make([]byte, 10)
	if n, err := r.Read(buf); err != nil || n != 1 || buf[0] != 1 {
		t.Fatalf("first Read = %d %v %x", n, err, buf[:n])
	}
	// 04 comes only after our 02 03.
	r.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if n, err := r.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read before our write = %d, %v; want a deadline error", n, err)
	}
	r.SetReadDeadline(time.Time{})
	got := make(chan []byte)
	go func() {
		n, _ := r.Read(buf)
		got <- append([]byte(nil), buf[:n]...)
	}()
	time.Sleep(5 * time.Millisecond)
	if _, err := r.Write([]byte{2}); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-got:
		t.Fatalf("Read returned %x after half our write", b)
	case <-time.After(10 * time.Millisecond):
	}
	if _, err := r.Write([]byte{3}); err != nil {
		t.Fatal(err)
	}
	if b := <-got; !bytes.Equal(b, []byte{4, 5}) {
		t.Fatalf("Read = %x, want 0405 (two records that need the same writes)", b)
	}
	if err := r.Check(); err == nil || !strings.Contains(err.Error(), "wrote 2 of the 3") {
		t.Fatalf("Check = %v", err)
	}
	if _, err := r.Write([]byte{6}); err != nil {
		t.Fatal(err)
	}
	if n, err := r.Read(buf); err != nil || n != 1 || buf[0] != 7 {
		t.Fatalf("last Read = %d %v", n, err)
	}
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
	if r.Unread() != 0 {
		t.Fatalf("Unread = %d", r.Unread())
	}
	// After the recording the peer is silent; Close ends the wait.
	done := make(chan error)
	go func() {
		_, err := r.Read(buf)
		done <- err
	}()
	time.Sleep(5 * time.Millisecond)
	r.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
	if _, err := r.Write([]byte{1}); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close: %v", err)
	}
}

func TestReplayMismatch(t *testing.T) {
	r := replayOf(t, "# h\n> 0102\n> 030405\n< 09\n")
	if _, err := r.Write([]byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	n, err := r.Write([]byte{4, 6})
	var me *MismatchError
	if !errors.As(err, &me) {
		t.Fatalf("Write = %d, %v; want a *MismatchError", n, err)
	}
	if n != 1 || me.Offset != 4 || me.Line != 3 || !bytes.Equal(me.Got, []byte{6}) || !bytes.Equal(me.Want, []byte{5}) ||
		me.WriteOffset != 3 || me.WriteLen != 2 {
		t.Fatalf("n = %d, mismatch %+v", n, me)
	}
	if !strings.Contains(err.Error(), "our byte 4 differs") || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("message: %v", err)
	}
	// Reads fail too, rather than wait for bytes that will never be due.
	if _, rerr := r.Read(make([]byte, 1)); rerr != err {
		t.Errorf("Read after a mismatch: %v", rerr)
	}
	if r.Check() != err || r.Err() != err {
		t.Errorf("Check/Err after a mismatch: %v / %v", r.Check(), r.Err())
	}
}

func TestReplayWritePastEnd(t *testing.T) {
	r := replayOf(t, "> 01\n")
	_, err := r.Write([]byte{1, 2})
	var me *MismatchError
	if !errors.As(err, &me) || me.Offset != 1 || len(me.Want) != 0 || !strings.Contains(err.Error(), "past the end") {
		t.Fatalf("Write = %v", err)
	}
}

func TestReplayWriteDeadline(t *testing.T) {
	r := replayOf(t, "> 01\n")
	r.SetDeadline(time.Unix(1, 0))
	if _, err := r.Write([]byte{1}); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Write past the deadline: %v", err)
	}
	var ne net.Error
	if _, err := r.Read(make([]byte, 1)); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Read past the deadline: %v", err)
	}
	r.SetDeadline(time.Time{})
	if _, err := r.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
}
