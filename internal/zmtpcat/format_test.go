package zmtpcat

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestLineFormat(t *testing.T) {
	for _, tc := range []struct {
		line string
		hex  bool
		msg  [][]byte
		out  string // the line appendLine makes of msg, without newline
	}{
		{"hello", false, [][]byte{[]byte("hello")}, "hello"},
		{"two\tframes", false, [][]byte{[]byte("two"), []byte("frames")}, "two\tframes"},
		// Empty frames: an empty line is one empty frame; a TAB at either
		// end, or two TABs, make empty frames.
		{"", false, [][]byte{{}}, ""},
		{"\t", false, [][]byte{{}, {}}, "\t"},
		{"a\t\tb\t", false, [][]byte{[]byte("a"), {}, []byte("b"), {}}, "a\t\tb\t"},
		// Escapes: \xHH in either case; the backslash itself prints as \x5c;
		// a backslash that starts no escape is itself.
		{`\x00\x01id\x09x`, false, [][]byte{[]byte("\x00\x01id\tx")}, `\x00\x01id\x09x`},
		{`tab\x09in\x0Aframe`, false, [][]byte{[]byte("tab\tin\nframe")}, `tab\x09in\x0aframe`},
		{`C:\dir\x5c`, false, [][]byte{[]byte(`C:\dir\`)}, `C:\x5cdir\x5c`},
		{`\x4`, false, [][]byte{[]byte(`\x4`)}, `\x5cx4`},
		{`\xzz`, false, [][]byte{[]byte(`\xzz`)}, `\x5cxzz`},
		{"caf\xc3\xa9\x7f", false, [][]byte{[]byte("caf\xc3\xa9\x7f")}, "caf\xc3\xa9\\x7f"},
		// Hex: every frame, empty ones included; either case in, lower out.
		{"00ff\t", true, [][]byte{{0, 0xff}, {}}, "00ff\t"},
		{"DEADbeef\t\t01", true, [][]byte{{0xde, 0xad, 0xbe, 0xef}, {}, {1}}, "deadbeef\t\t01"},
		{"", true, [][]byte{{}}, ""},
	} {
		msg, err := parseLine([]byte(tc.line), tc.hex)
		if err != nil {
			t.Errorf("parseLine(%q, hex %v): %v", tc.line, tc.hex, err)
			continue
		}
		if diff := cmp.Diff(tc.msg, msg, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("parseLine(%q, hex %v) (-want +got):\n%s", tc.line, tc.hex, diff)
		}
		out := string(appendLine(nil, msg, tc.hex))
		if out != tc.out+"\n" {
			t.Errorf("appendLine(%q, hex %v) = %q, want %q", msg, tc.hex, out, tc.out+"\n")
		}
		// What is printed reads back as the same message.
		back, err := parseLine([]byte(tc.out), tc.hex)
		if err != nil || !cmp.Equal(back, msg, cmpopts.EquateEmpty()) {
			t.Errorf("%q read back as %q, %v; want %q", tc.out, back, err, msg)
		}
	}
	for _, bad := range []string{"zz", "abc", "00\t1"} {
		if msg, err := parseLine([]byte(bad), true); err == nil {
			t.Errorf("parseLine(%q, hex) = %q, want an error", bad, msg)
		}
	}
}

func TestEveryByteRoundTrips(t *testing.T) {
	var all []byte
	for b := range 256 {
		all = append(all, byte(b))
	}
	line := appendLine(nil, [][]byte{all, {}}, false)
	if n := len(line); line[n-1] != '\n' {
		t.Fatal("no newline")
	}
	for _, c := range line[:len(line)-1] {
		if c == '\n' || c == '\r' {
			t.Fatalf("line breaks inside a line: %q", line)
		}
	}
	msg, err := parseLine(line[:len(line)-1], false)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]byte{all, {}}, msg, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("round trip (-want +got):\n%s", diff)
	}
}
