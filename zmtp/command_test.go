package zmtp_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/zmtpsec/zmtpsec/internal/testhelp"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// The golden command bodies of docs/wire-format.md (frame header stripped).
var (
	goldenReadyDealer = testhelp.Wire(`05 52 45 41 44 59 0B 53 6F 63 6B 65 74 2D 54 79 70 65 00 00 00 06 44 45 41 4C 45 52
		08 49 64 65 6E 74 69 74 79 00 00 00 00`)

	goldenPing         = testhelp.Wire(`04 50 49 4E 47 00 64`)
	goldenPong         = testhelp.Wire(`04 50 4F 4E 47`)
	goldenSubscribe    = testhelp.Wire(`09 53 55 42 53 43 52 49 42 45 41`)
	goldenHello        = testhelp.Wire(`05 48 45 4C 4C 4F 05 61 64 6D 69 6E 06 73 65 63 72 65 74`)
	goldenWelcome      = testhelp.Wire(`07 57 45 4C 43 4F 4D 45`)
	goldenError400     = testhelp.Wire(`05 45 52 52 4F 52 03 34 30 30`)
	goldenLibzmqError  = testhelp.Wire(`5E 52 52 4F 52 03 34 30 30`) // frame 04 09 5E 52 52 4F 52 03 34 30 30
	goldenLibzmqError5 = testhelp.Wire(`5E 52 52 4F 52 03 35 30 30`)
)

func TestParseCommand(t *testing.T) {
	long := strings.Repeat("A", 255)
	tests := []struct {
		in      []byte
		want    zmtp.Command
		wantErr bool
	}{
		0:  {in: goldenReadyDealer, want: zmtp.Command{Name: "READY", Data: goldenReadyDealer[6:]}},
		1:  {in: goldenPing, want: zmtp.Command{Name: "PING", Data: []byte{0x00, 0x64}}},
		2:  {in: goldenPong, want: zmtp.Command{Name: "PONG"}},
		3:  {in: goldenSubscribe, want: zmtp.Command{Name: "SUBSCRIBE", Data: []byte("A")}},
		4:  {in: testhelp.Wire(`06 "CANCEL"`), want: zmtp.Command{Name: "CANCEL"}},
		5:  {in: goldenHello, want: zmtp.Command{Name: "HELLO", Data: testhelp.Wire(`05 "admin" 06 "secret"`)}},
		6:  {in: goldenWelcome, want: zmtp.Command{Name: "WELCOME"}},
		7:  {in: goldenError400, want: zmtp.Command{Name: "ERROR", Data: testhelp.Wire(`03 "400"`)}},
		8:  {in: testhelp.Wire(`08 "INITIATE" 00`), want: zmtp.Command{Name: "INITIATE", Data: []byte{0}}},
		9:  {in: testhelp.Wire(`07 "MESSAGE" 01 02 03`), want: zmtp.Command{Name: "MESSAGE", Data: []byte{1, 2, 3}}},
		10: {in: testhelp.Wire(`04 "JOIN" "grp"`), want: zmtp.Command{Name: "JOIN", Data: []byte("grp")}},
		// The libzmq 4.3.x PLAIN ERROR: 5E "RROR" reads as ERROR.
		11: {in: goldenLibzmqError, want: zmtp.Command{Name: "ERROR", Data: testhelp.Wire(`03 "400"`)}},
		12: {in: goldenLibzmqError5, want: zmtp.Command{Name: "ERROR", Data: testhelp.Wire(`03 "500"`)}},
		13: {in: testhelp.Wire(`5E "RROR"`), want: zmtp.Command{Name: "ERROR"}},
		// Names are letters of either case; the 255-letter maximum.
		14: {in: testhelp.Wire(`04 "ping" 00 00`), want: zmtp.Command{Name: "ping", Data: []byte{0, 0}}},
		15: {in: testhelp.Wire(`01 "z"`), want: zmtp.Command{Name: "z"}},
		16: {in: append([]byte{0xFF}, long...), want: zmtp.Command{Name: long}},
		17: {in: append(append([]byte{0xFF}, long...), 0xFF), want: zmtp.Command{Name: long, Data: []byte{0xFF}}},

		// Malformed.
		18: {in: nil, wantErr: true},
		19: {in: []byte{}, wantErr: true},
		20: {in: testhelp.Wire(`00`), wantErr: true},                    // zero name length
		21: {in: testhelp.Wire(`00 "READY"`), wantErr: true},            // zero name length, data after
		22: {in: testhelp.Wire(`05 "READ"`), wantErr: true},             // name length past the end
		23: {in: testhelp.Wire(`06 "READY"`), wantErr: true},            // one past
		24: {in: testhelp.Wire(`FF "ABC"`), wantErr: true},              // far past
		25: {in: testhelp.Wire(`01`), wantErr: true},                    // name length, no name
		26: {in: testhelp.Wire(`5E "RRO"`), wantErr: true},              // too short for the quirk, and 94 > 4
		27: {in: testhelp.Wire(`04 "P1NG"`), wantErr: true},             // digit
		28: {in: testhelp.Wire(`05 "RE DY"`), wantErr: true},            // space
		29: {in: testhelp.Wire(`05 "READ-"`), wantErr: true},            // dash
		30: {in: testhelp.Wire(`01 00`), wantErr: true},                 // NUL
		31: {in: testhelp.Wire(`01 40`), wantErr: true},                 // '@', just below 'A'
		32: {in: testhelp.Wire(`01 5B`), wantErr: true},                 // '[', just above 'Z'
		33: {in: testhelp.Wire(`01 60`), wantErr: true},                 // '`', just below 'a'
		34: {in: testhelp.Wire(`01 7B`), wantErr: true},                 // '{', just above 'z'
		35: {in: testhelp.Wire(`01 C1`), wantErr: true},                 // 0xC1 | 0x20 = 'á' in Latin-1
		36: {in: testhelp.Wire(`02 C3 89`), wantErr: true},              // UTF-8 É
		37: {in: testhelp.Wire(`05 1B "[31m"`), wantErr: true},          // terminal escape
		38: {in: testhelp.Wire(`05 45 52 52 4F 52`)[:5], wantErr: true}, // ERROR cut short
	}
	for i, tt := range tests {
		got, err := zmtp.ParseCommand(tt.in)
		if tt.wantErr {
			var me *zmtp.MalformedError
			if !errors.As(err, &me) || !errors.Is(err, zmtp.ErrMalformed) || me.What != "command" {
				t.Errorf("%d: ParseCommand(%x) = %+v, %v; want a malformed command", i, tt.in, got, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%d: ParseCommand(%x) error: %v", i, tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%d: ParseCommand(%x) (-want +got):\n%s", i, tt.in, diff)
		}
		// Outside the libzmq quirk the encoding is canonical: Append
		// reproduces the input and Len is its length.
		if tt.in[0] != 0x5E {
			if back := got.Append(nil); !bytes.Equal(back, tt.in) {
				t.Errorf("%d: Append = %x, want %x", i, back, tt.in)
			}
			if got.Len() != len(tt.in) {
				t.Errorf("%d: Len = %d, want %d", i, got.Len(), len(tt.in))
			}
		}
	}
}

// TestParseCommandLibzmqError decodes the whole libzmq PLAIN rejection frame
// of docs/wire-format.md#plain-error.
func TestParseCommandLibzmqError(t *testing.T) {
	frame := testhelp.Wire(`04 09 5E 52 52 4F 52 03 34 30 30`)
	for _, tt := range []struct {
		frame  []byte
		reason string
	}{
		{frame, "400"},
		{testhelp.Wire(`04 09 5E 52 52 4F 52 03 35 30 30`), "500"},
		{testhelp.Wire(`04 0A 05 45 52 52 4F 52 03 34 30 30`), "400"}, // the correct form
	} {
		r := zmtp.NewReader(bytes.NewReader(tt.frame))
		f, err := r.ReadFrame()
		if err != nil || !f.IsCommand() {
			t.Fatalf("ReadFrame(%x) = %+v, %v", tt.frame, f, err)
		}
		c, err := zmtp.ParseCommand(f.Body)
		if err != nil || !c.Is(zmtp.CmdError) {
			t.Fatalf("ParseCommand(%x) = %+v, %v", f.Body, c, err)
		}
		reason, err := zmtp.ParseErrorReason(c.Data)
		if err != nil || reason != tt.reason {
			t.Errorf("ParseErrorReason(%x) = %q, %v; want %q", c.Data, reason, err, tt.reason)
		}
	}
	// We always send the correct form.
	c := zmtp.Command{Name: zmtp.CmdError, Data: testhelp.Wire(`03 "400"`)}
	if got := zmtp.AppendFrame(nil, zmtp.FlagCommand, c.Append(nil)); !bytes.Equal(got, testhelp.Wire(`04 0A 05 45 52 52 4F 52 03 34 30 30`)) {
		t.Errorf("ERROR frame = %x", got)
	}
}

func TestCommandAppend(t *testing.T) {
	tests := []struct {
		c    zmtp.Command
		want []byte
	}{
		{zmtp.Command{Name: "PING", Data: []byte{0, 0x64}}, goldenPing},
		{zmtp.Command{Name: "PONG"}, goldenPong},
		{zmtp.Command{Name: "SUBSCRIBE", Data: []byte("A")}, goldenSubscribe},
		{zmtp.Command{Name: "WELCOME"}, goldenWelcome},
		{zmtp.Command{Name: "ERROR", Data: testhelp.Wire(`03 "400"`)}, goldenError400},
		{zmtp.Command{Name: "READY", Data: goldenReadyDealer[6:]}, goldenReadyDealer},
		{zmtp.Command{Name: "x"}, testhelp.Wire(`01 "x"`)},
	}
	for i, tt := range tests {
		got := tt.c.Append([]byte("pre"))
		if diff := cmp.Diff(testhelp.Cat([]byte("pre"), tt.want), got); diff != "" {
			t.Errorf("%d: Append (-want +got):\n%s", i, diff)
		}
		if tt.c.Len() != len(tt.want) {
			t.Errorf("%d: Len = %d, want %d", i, tt.c.Len(), len(tt.want))
		}
	}
	for _, name := range []string{"P1NG", "RE ADY", "READ-", "\x00", "É", "\x1b[31m", strings.Repeat("A", 256)} {
		c := zmtp.Command{Name: name}
		mustPanic(t, "Append", func() { c.Append(nil) })
		if zmtp.ValidCommandName(name) {
			t.Errorf("ValidCommandName(%q) = true", name)
		}
	}
	for _, name := range []string{"A", "z", "READY", "ready", "ReAdY", strings.Repeat("q", 255)} {
		if !zmtp.ValidCommandName(name) {
			t.Errorf("ValidCommandName(%q) = false", name)
		}
	}
}

// TestEmptyCommand: the zero Command encodes as a zero-length body, the
// frame 04 00 that libzmq's GSSAPI client sends after the AP-REP
// (docs/wire-format.md#the-empty-command), never as 04 01 00 or with a
// name; a name that is empty while data follows is still a programming
// error; ParseCommand still refuses the empty body.
func TestEmptyCommand(t *testing.T) {
	for _, c := range []zmtp.Command{{}, {Data: []byte{}}} {
		if !c.IsEmpty() || c.Len() != 0 {
			t.Errorf("%#v: IsEmpty %v, Len %d; want true, 0", c, c.IsEmpty(), c.Len())
		}
		if got := c.Append([]byte("pre")); string(got) != "pre" {
			t.Errorf("Append = %q, want nothing appended", got)
		}
		frame := zmtp.AppendFrame(nil, zmtp.FlagCommand, c.Append(nil))
		if want := testhelp.Wire(`04 00`); !bytes.Equal(frame, want) {
			t.Errorf("frame = % x, want % x", frame, want)
		}
		if c.String() != "(empty command)" {
			t.Errorf("String = %q", c.String())
		}
	}
	for _, c := range []zmtp.Command{{Name: "READY"}, {Data: []byte{0}}, {Name: "ERROR", LibzmqPlainForm: true}} {
		if c.IsEmpty() {
			t.Errorf("%#v: IsEmpty", c)
		}
	}
	noName := zmtp.Command{Data: []byte("x")}
	mustPanic(t, "Append of data without a name", func() { noName.Append(nil) })
	if c, err := zmtp.ParseCommand(nil); !errors.Is(err, zmtp.ErrMalformed) {
		t.Errorf("ParseCommand(empty) = %+v, %v; want a malformed command", c, err)
	}
}

func TestCommandIs(t *testing.T) {
	c, err := zmtp.ParseCommand(goldenPing)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Is(zmtp.CmdPing) || c.Is("ping") || c.Is(zmtp.CmdPong) {
		t.Errorf("Is: exact match expected for %q", c.Name)
	}
}

// TestParseCommandAliases documents that Data is a view of the body.
func TestParseCommandAliases(t *testing.T) {
	body := bytes.Clone(goldenSubscribe)
	c, err := zmtp.ParseCommand(body)
	if err != nil {
		t.Fatal(err)
	}
	body[len(body)-1] = 'B'
	if string(c.Data) != "B" {
		t.Errorf("Data = %q: expected a view of the body", c.Data)
	}
	// The name, though, is a string: it must not change with the body.
	body[1] = 'X'
	if c.Name != "SUBSCRIBE" {
		t.Errorf("Name changed with the body: %q", c.Name)
	}
	body2 := testhelp.Wire(`05 "HELLO"`)
	c2, _ := zmtp.ParseCommand(body2)
	body2[1] = 'J'
	if c2.Name != "HELLO" {
		t.Errorf("Name changed with the body: %q", c2.Name)
	}
	body3 := testhelp.Wire(`05 "ABCDE"`) // not a known name
	c3, _ := zmtp.ParseCommand(body3)
	body3[1] = 'J'
	if c3.Name != "ABCDE" {
		t.Errorf("Name changed with the body: %q", c3.Name)
	}
}
