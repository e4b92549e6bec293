// Package transcript records the bytes of a session between our side and a
// peer, keeps them in a small text format, and replays them: a [Replay] is a
// net.Conn that plays the peer's part from a recording and checks that our
// side writes exactly what it wrote when the recording was made.
//
// The text format has one record per line:
//
//	# text     a comment; those before the first other record are the header
//	@ text     a note: the scenario's parameters and the application's
//	           actions, in the order they happened (see [SplitNote])
//	> HEX      bytes our side wrote
//	< HEX      bytes the peer wrote, as our side read them
//
// Blank lines are ignored, and spaces inside HEX are allowed. Consecutive
// writes (or reads) are kept as one record, written over several lines of at
// most [LineBytes] bytes: lines of one direction form a single stream, and
// nothing may depend on where a line ends. What matters for a replay is the
// order of the two directions: the peer's bytes on a "<" line are only given
// to our side once it has written everything on the ">" lines before it
// (libzmq, for one, holds back most of its greeting until it has seen ours).
package transcript

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Kind says what a record is.
type Kind byte

// The kinds of record, each written as its line's first character.
const (
	Comment Kind = '#'
	Note    Kind = '@'
	Ours    Kind = '>'
	Peer    Kind = '<'
)

// LineBytes is the most bytes Format puts on one line.
const LineBytes = 64

// Record is one record of a transcript.
type Record struct {
	Kind Kind
	// Data holds the bytes of an Ours or Peer record.
	Data []byte
	// Text holds the text of a Comment or Note record.
	Text string
	// Line is the record's first line in the file it was parsed from (1 is
	// the first line), or 0.
	Line int
}

// Transcript is a parsed or recorded session.
type Transcript struct {
	Records []Record
}

// Header returns the comments that come before any other record.
func (t *Transcript) Header() []string {
	var h []string
	for _, r := range t.Records {
		if r.Kind != Comment {
			break
		}
		h = append(h, r.Text)
	}
	return h
}

// Notes returns the text of every note, in order.
func (t *Transcript) Notes() []string {
	var n []string
	for _, r := range t.Records {
		if r.Kind == Note {
			n = append(n, r.Text)
		}
	}
	return n
}

// Stream returns every byte of one direction (Ours or Peer), in order.
func (t *Transcript) Stream(k Kind) []byte {
	var b []byte
	for _, r := range t.Records {
		if r.Kind == k {
			b = append(b, r.Data...)
		}
	}
	return b
}

// Format returns the transcript in its text form.
func (t *Transcript) Format() []byte {
	var b bytes.Buffer
	for _, r := range t.Records {
		switch r.Kind {
		case Comment, Note:
			for _, line := range strings.Split(r.Text, "\n") {
				b.WriteByte(byte(r.Kind))
				if line != "" {
					b.WriteByte(' ')
					b.WriteString(line)
				}
				b.WriteByte('\n')
			}
		case Ours, Peer:
			data := r.Data
			for len(data) > 0 {
				n := min(len(data), LineBytes)
				b.WriteByte(byte(r.Kind))
				b.WriteByte(' ')
				b.WriteString(hex.EncodeToString(data[:n]))
				b.WriteByte('\n')
				data = data[n:]
			}
		}
	}
	return b.Bytes()
}

// WriteFile writes the transcript's text form to path.
func (t *Transcript) WriteFile(path string) error {
	return os.WriteFile(path, t.Format(), 0o644)
}

// Parse parses the text form of a transcript. Every line becomes a record;
// records of one direction on consecutive lines are not merged.
func Parse(text []byte) (*Transcript, error) {
	t := &Transcript{}
	for i, line := range strings.Split(string(text), "\n") {
		line = strings.TrimRight(line, " \t\r")
		if line == "" {
			continue
		}
		k := Kind(line[0])
		rest := line[1:]
		if rest != "" && rest[0] != ' ' {
			return nil, fmt.Errorf("transcript: line %d: want a space after %q", i+1, line[0])
		}
		rest = strings.TrimPrefix(rest, " ")
		r := Record{Kind: k, Line: i + 1}
		switch k {
		case Comment, Note:
			r.Text = rest
		case Ours, Peer:
			data, err := hex.DecodeString(strings.NewReplacer(" ", "", "\t", "").Replace(rest))
			if err != nil {
				return nil, fmt.Errorf("transcript: line %d: %v", i+1, err)
			}
			if len(data) == 0 {
				return nil, fmt.Errorf("transcript: line %d: no bytes", i+1)
			}
			r.Data = data
		default:
			return nil, fmt.Errorf("transcript: line %d: unknown record kind %q", i+1, line[0])
		}
		t.Records = append(t.Records, r)
	}
	return t, nil
}

// ReadFile parses the transcript in the file at path.
func ReadFile(path string) (*Transcript, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// JoinNote builds a note's text from a verb and its arguments, each
// argument quoted as a Go string (strconv.Quote) so that any bytes survive.
func JoinNote(verb string, args ...[]byte) string {
	var b strings.Builder
	b.WriteString(verb)
	for _, a := range args {
		b.WriteByte(' ')
		b.WriteString(strconv.Quote(string(a)))
	}
	return b.String()
}

// SplitNote splits a note's text into its verb (the first word) and its
// arguments, each either a Go-quoted string or a word without spaces.
func SplitNote(text string) (verb string, args []string, err error) {
	verb, rest, _ := strings.Cut(text, " ")
	for {
		rest = strings.TrimLeft(rest, " ")
		if rest == "" {
			return verb, args, nil
		}
		if rest[0] == '"' || rest[0] == '`' {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return "", nil, fmt.Errorf("transcript: note %q: %v", text, err)
			}
			s, _ := strconv.Unquote(q)
			args = append(args, s)
			rest = rest[len(q):]
			if rest != "" && rest[0] != ' ' {
				return "", nil, fmt.Errorf("transcript: note %q: want a space after %s", text, q)
			}
			continue
		}
		word, more, _ := strings.Cut(rest, " ")
		args = append(args, word)
		rest = more
	}
}
