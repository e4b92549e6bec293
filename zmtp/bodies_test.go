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

// commandFrame wraps a command body in a command frame.
func commandFrame(body []byte) []byte { return zmtp.AppendFrame(nil, zmtp.FlagCommand, body) }

func TestBodiesKnownFrames(t *testing.T) {
	ctx16 := []byte("0123456789abcdef")
	tests := []struct {
		name  string
		frame []byte
		want  []byte
	}{
		// docs/wire-format.md#commands.
		{"PING TTL 10 s", commandFrame(zmtp.AppendPing(nil, zmtp.Ping{TTL: 100})), testhelp.Wire(`04 07 04 50 49 4E 47 00 64`)},
		{"PONG", commandFrame(zmtp.AppendPong(nil, nil)), testhelp.Wire(`04 05 04 50 4F 4E 47`)},
		{"SUBSCRIBE A", commandFrame(zmtp.AppendSubscribe(nil, []byte("A"))), testhelp.Wire(`04 0B 09 53 55 42 53 43 52 49 42 45 41`)},
		{"3.0 subscribe A", zmtp.AppendFrame(nil, 0, []byte{zmtp.SubscribeByte, 'A'}), testhelp.Wire(`00 02 01 41`)},
		{"3.0 cancel A", zmtp.AppendFrame(nil, 0, []byte{zmtp.CancelByte, 'A'}), testhelp.Wire(`00 02 00 41`)},
		// docs/libzmq-behaviour.md#heartbeats: PING with a 1500 ms TTL.
		{"PING TTL 1.5 s", commandFrame(zmtp.AppendPing(nil, zmtp.Ping{TTL: 15})), testhelp.Wire(`04 07 04 50 49 4E 47 00 0F`)},
		{"PING max TTL, context", commandFrame(zmtp.AppendPing(nil, zmtp.Ping{TTL: 0xFFFF, Context: []byte("ab")})), testhelp.Wire(`04 09 04 "PING" FF FF "ab"`)},
		{"PONG context", commandFrame(zmtp.AppendPong(nil, []byte("ab"))), testhelp.Wire(`04 07 04 "PONG" "ab"`)},
		{"PONG context 16", commandFrame(zmtp.AppendPong(nil, ctx16)), testhelp.Cat(testhelp.Wire(`04 15 04 "PONG"`), ctx16)},
		{"PONG context 17 cut", commandFrame(zmtp.AppendPong(nil, append(ctx16, 'X'))), testhelp.Cat(testhelp.Wire(`04 15 04 "PONG"`), ctx16)},
		{"PONG context 300 cut", commandFrame(zmtp.AppendPong(nil, bytes.Repeat(ctx16, 19))), testhelp.Cat(testhelp.Wire(`04 15 04 "PONG"`), ctx16)},
		{"SUBSCRIBE all", commandFrame(zmtp.AppendSubscribe(nil, nil)), testhelp.Wire(`04 0A 09 "SUBSCRIBE"`)},
		{"CANCEL A", commandFrame(zmtp.AppendCancel(nil, []byte("A"))), testhelp.Wire(`04 08 06 "CANCEL" 41`)},
		{"CANCEL all", commandFrame(zmtp.AppendCancel(nil, nil)), testhelp.Wire(`04 07 06 "CANCEL"`)},
		// docs/wire-format.md#commands: the ERROR we send.
		{"ERROR 400", commandFrame(zmtp.AppendError(nil, "400")), testhelp.Wire(`04 0A 05 45 52 52 4F 52 03 34 30 30`)},
		{"ERROR empty", commandFrame(zmtp.AppendError(nil, "")), testhelp.Wire(`04 07 05 "ERROR" 00`)},
		{"READY DEALER", commandFrame(zmtp.AppendReady(nil, dealerMetadata)), goldenReadyDealerFrame},
		{"READY empty", commandFrame(zmtp.AppendReady(nil, nil)), testhelp.Wire(`04 06 05 "READY"`)},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, tt.frame); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestBodiesAppendAppends(t *testing.T) {
	pre := func() []byte { return []byte("pre") }
	for name, got := range map[string][]byte{
		"ping":      zmtp.AppendPing(pre(), zmtp.Ping{}),
		"pong":      zmtp.AppendPong(pre(), nil),
		"subscribe": zmtp.AppendSubscribe(pre(), nil),
		"cancel":    zmtp.AppendCancel(pre(), nil),
		"error":     zmtp.AppendError(pre(), ""),
		"ready":     zmtp.AppendReady(pre(), nil),
	} {
		if !bytes.HasPrefix(got, []byte("pre")) {
			t.Errorf("%s: prefix lost: %q", name, got)
		}
		if _, err := zmtp.ParseCommand(got[3:]); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestParsePing(t *testing.T) {
	long := bytes.Repeat([]byte{0xC7}, 40)
	tests := []struct {
		in      []byte
		want    zmtp.Ping
		wantErr bool
	}{
		{in: testhelp.Wire(`00 64`), want: zmtp.Ping{TTL: 100}},
		{in: testhelp.Wire(`00 00`), want: zmtp.Ping{}},
		{in: testhelp.Wire(`FF FF 01`), want: zmtp.Ping{TTL: 0xFFFF, Context: []byte{1}}},
		{in: testhelp.Cat(testhelp.Wire(`00 0F`), []byte("0123456789abcdef")), want: zmtp.Ping{TTL: 15, Context: []byte("0123456789abcdef")}},
		// A context over 16 bytes is accepted; the PONG cuts it.
		{in: testhelp.Cat(testhelp.Wire(`12 34`), long), want: zmtp.Ping{TTL: 0x1234, Context: long}},
		// Under 2 bytes: libzmq reads past the end here; we refuse.
		{in: nil, wantErr: true},
		{in: testhelp.Wire(`00`), wantErr: true},
	}
	for i, tt := range tests {
		got, err := zmtp.ParsePing(tt.in)
		if tt.wantErr {
			var me *zmtp.MalformedError
			if !errors.As(err, &me) || me.What != "PING" {
				t.Errorf("%d: ParsePing(%x) = %+v, %v; want a malformed PING", i, tt.in, got, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%d: ParsePing(%x): %v", i, tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%d: (-want +got):\n%s", i, diff)
		}
		// PING round trip, and the PONG that answers it.
		if b := zmtp.AppendPing(nil, got); !bytes.Equal(b, testhelp.Cat(testhelp.Wire(`04 "PING"`), tt.in)) {
			t.Errorf("%d: AppendPing = %x", i, b)
		}
		ctx := got.Context
		if len(ctx) > zmtp.MaxPingContext {
			ctx = ctx[:zmtp.MaxPingContext]
		}
		if b := zmtp.AppendPong(nil, got.Context); !bytes.Equal(b, testhelp.Cat(testhelp.Wire(`04 "PONG"`), ctx)) {
			t.Errorf("%d: AppendPong = %x", i, b)
		}
	}
}

// TestPingPongExchange parses the golden PING frame as a receiver would and
// answers it.
func TestPingPongExchange(t *testing.T) {
	f, err := zmtp.NewReader(bytes.NewReader(testhelp.Wire(`04 07 04 50 49 4E 47 00 64`))).ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	c, err := zmtp.ParseCommand(f.Body)
	if err != nil || !c.Is(zmtp.CmdPing) {
		t.Fatalf("ParseCommand = %+v, %v", c, err)
	}
	p, err := zmtp.ParsePing(c.Data)
	if err != nil || p.TTL != 100 || len(p.Context) != 0 {
		t.Fatalf("ParsePing = %+v, %v", p, err)
	}
	pong := commandFrame(zmtp.AppendPong(nil, p.Context))
	if !bytes.Equal(pong, testhelp.Wire(`04 05 04 50 4F 4E 47`)) {
		t.Errorf("PONG = %x", pong)
	}
}

func TestParseErrorReason(t *testing.T) {
	tests := []struct {
		in      []byte
		want    string
		wantErr bool
	}{
		{in: testhelp.Wire(`03 "400"`), want: "400"},
		{in: testhelp.Wire(`03 "500"`), want: "500"},
		{in: testhelp.Wire(`00`), want: ""},
		{in: testhelp.Cat([]byte{0xFF}, bytes.Repeat([]byte("r"), 255)), want: strings.Repeat("r", 255)},
		{in: nil, wantErr: true},
		{in: testhelp.Wire(`03 "40"`), wantErr: true},   // shorter than announced
		{in: testhelp.Wire(`03 "4000"`), wantErr: true}, // longer than announced
		{in: testhelp.Wire(`01`), wantErr: true},
		{in: testhelp.Wire(`00 00`), wantErr: true},
		{in: testhelp.Wire(`FF "x"`), wantErr: true},
	}
	for i, tt := range tests {
		got, err := zmtp.ParseErrorReason(tt.in)
		if tt.wantErr {
			var me *zmtp.MalformedError
			if !errors.As(err, &me) || me.What != "ERROR" {
				t.Errorf("%d: ParseErrorReason(%x) = %q, %v; want a malformed ERROR", i, tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%d: ParseErrorReason(%x) = %q, %v; want %q", i, tt.in, got, err, tt.want)
		}
		// Round trip through AppendError.
		c, err := zmtp.ParseCommand(zmtp.AppendError(nil, got))
		if err != nil || !c.Is(zmtp.CmdError) || !bytes.Equal(c.Data, tt.in) {
			t.Errorf("%d: AppendError round trip = %+v, %v", i, c, err)
		}
	}
}

func TestAppendErrorPanics(t *testing.T) {
	zmtp.AppendError(nil, strings.Repeat("x", zmtp.MaxErrorReason)) // fine
	mustPanic(t, "AppendError with 256 bytes", func() { zmtp.AppendError(nil, strings.Repeat("x", 256)) })
}

func TestAppendReadyPanics(t *testing.T) {
	mustPanic(t, "AppendReady with a bad name", func() { zmtp.AppendReady(nil, zmtp.Metadata{{Name: "bad name"}}) })
}

// TestCommandConstructors: ErrorCommand and ReadyCommand give the bodies
// AppendError and AppendReady give, so each command has one encoding.
func TestCommandConstructors(t *testing.T) {
	for _, reason := range []string{"", "400", strings.Repeat("r", zmtp.MaxErrorReason)} {
		c := zmtp.ErrorCommand(reason)
		if c.Name != zmtp.CmdError || !bytes.Equal(c.Append(nil), zmtp.AppendError(nil, reason)) {
			t.Errorf("ErrorCommand(%q) = %v", reason, c)
		}
		if got, err := zmtp.ParseErrorReason(c.Data); err != nil || got != reason {
			t.Errorf("ErrorCommand(%q) data parses as %q, %v", reason, got, err)
		}
	}
	for _, m := range []zmtp.Metadata{nil, dealerMetadata} {
		c := zmtp.ReadyCommand(m)
		if c.Name != zmtp.CmdReady || !bytes.Equal(c.Append(nil), zmtp.AppendReady(nil, m)) {
			t.Errorf("ReadyCommand(%v) = %v", m, c)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("ErrorCommand accepted a 256-byte reason")
		}
	}()
	zmtp.ErrorCommand(strings.Repeat("r", zmtp.MaxErrorReason+1))
}
