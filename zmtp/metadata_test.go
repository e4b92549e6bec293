package zmtp_test

import (
	"bytes"
	"errors"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/zmtpsec/zmtpsec/internal/testhelp"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// dealerMetadata is what a libzmq DEALER with no routing id sends: 35 bytes.
var (
	dealerMetadata = zmtp.Metadata{
		{Name: "Socket-Type", Value: []byte("DEALER")},
		{Name: "Identity", Value: []byte{}},
	}
	goldenDealerMetadata = testhelp.Wire(`0B 53 6F 63 6B 65 74 2D 54 79 70 65 00 00 00 06 44 45 41 4C 45 52
		08 49 64 65 6E 74 69 74 79 00 00 00 00`)
	// The 43-byte READY frame of docs/wire-format.md#null and libzmq's
	// zmtp_ready_dealer.
	goldenReadyDealerFrame = testhelp.Wire(`04 29 05 52 45 41 44 59 0B 53 6F 63 6B 65 74 2D 54 79 70 65 00 00 00 06 44 45 41 4C 45 52
		08 49 64 65 6E 74 69 74 79 00 00 00 00`)
)

var mdCmp = cmpopts.EquateEmpty()

func TestNullReadyDealer(t *testing.T) {
	if len(goldenReadyDealerFrame) != 43 {
		t.Fatalf("golden frame is %d bytes", len(goldenReadyDealerFrame))
	}
	if got := dealerMetadata.Len(); got != 35 {
		t.Errorf("Len = %d, want 35", got)
	}
	if got := dealerMetadata.Append(nil); !bytes.Equal(got, goldenDealerMetadata) {
		t.Errorf("Append = %x\nwant     %x", got, goldenDealerMetadata)
	}
	body := zmtp.AppendReady(nil, dealerMetadata)
	if len(body) != 41 {
		t.Errorf("READY body is %d bytes, want 41", len(body))
	}
	frame := zmtp.AppendFrame(nil, zmtp.FlagCommand, body)
	if diff := cmp.Diff(goldenReadyDealerFrame, frame); diff != "" {
		t.Errorf("READY frame (-want +got):\n%s", diff)
	}
	// Same through Command.
	c := zmtp.Command{Name: zmtp.CmdReady, Data: dealerMetadata.Append(nil)}
	if got := zmtp.AppendFrame(nil, zmtp.FlagCommand, c.Append(nil)); !bytes.Equal(got, goldenReadyDealerFrame) {
		t.Errorf("READY via Command = %x", got)
	}

	// And back.
	f, err := zmtp.NewReader(bytes.NewReader(goldenReadyDealerFrame)).ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	c, err = zmtp.ParseCommand(f.Body)
	if err != nil || !c.Is(zmtp.CmdReady) {
		t.Fatalf("ParseCommand = %+v, %v", c, err)
	}
	md, err := zmtp.ParseMetadata(c.Data)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(dealerMetadata, md, mdCmp); diff != "" {
		t.Errorf("ParseMetadata (-want +got):\n%s", diff)
	}
	st, ok := md.GetExact(zmtp.PropSocketType)
	if !ok || zmtp.SocketType(st) != zmtp.DEALER {
		t.Errorf("Socket-Type = %q, %v", st, ok)
	}
	id, ok := md.GetExact(zmtp.PropIdentity)
	if !ok || len(id) != 0 {
		t.Errorf("Identity = %q, %v; want present and empty", id, ok)
	}
}

func TestMetadataRoundTrip(t *testing.T) {
	tests := []zmtp.Metadata{
		0: nil,
		1: {{Name: "A"}},
		2: {{Name: "Socket-Type", Value: []byte("ROUTER")}, {Name: "Identity", Value: []byte("CLI")}, {Name: "X-Hello", Value: []byte("world")}},
		3: {{Name: strings.Repeat("n", 255), Value: bytes.Repeat([]byte{0, 0xFF}, 1000)}},
		4: {{Name: "X-a", Value: []byte("1")}, {Name: "x-A", Value: []byte("2")}, {Name: "X-a", Value: []byte("3")}}, // duplicates kept in order
		5: {{Name: "-_.+09azAZ", Value: []byte("\x00\n\x1b")}},
		6: {{Name: "Resource", Value: []byte("/a/b")}, {Name: "User-Id", Value: []byte("alice")}},
	}
	for i, md := range tests {
		b := md.Append(nil)
		if len(b) != md.Len() {
			t.Errorf("%d: Append gives %d bytes, Len says %d", i, len(b), md.Len())
		}
		if err := md.Validate(); err != nil {
			t.Errorf("%d: Validate: %v", i, err)
		}
		got, err := zmtp.ParseMetadata(b)
		if err != nil {
			t.Errorf("%d: ParseMetadata: %v", i, err)
			continue
		}
		if diff := cmp.Diff(md, got, mdCmp); diff != "" {
			t.Errorf("%d: round trip (-want +got):\n%s", i, diff)
		}
		if again := got.Append(nil); !bytes.Equal(again, b) {
			t.Errorf("%d: re-encoding differs", i)
		}
		// Append appends.
		if pre := md.Append([]byte("pre")); !bytes.Equal(pre, testhelp.Cat([]byte("pre"), b)) {
			t.Errorf("%d: Append(pre) = %x", i, pre)
		}
	}
}

func TestParseMetadataErrors(t *testing.T) {
	good := goldenDealerMetadata
	tests := []struct {
		in []byte
	}{
		0:  {testhelp.Cat(good, []byte{0x05})},                              // a single trailing byte
		1:  {testhelp.Cat(good, []byte{0x00})},                              // a single trailing NUL
		2:  {testhelp.Wire(`00 00 00 00 00`)},                               // empty name (libzmq accepts it; 23/ZMTP does not)
		3:  {testhelp.Cat(good, testhelp.Wire(`00 00 00 00 01 41`))},        // empty name after a good property
		4:  {testhelp.Wire(`01 20 00 00 00 00`)},                            // space
		5:  {testhelp.Wire(`02 "A:" 00 00 00 00`)},                          // colon
		6:  {testhelp.Wire(`01 00 00 00 00 00`)},                            // NUL
		7:  {testhelp.Wire(`01 FF 00 00 00 00`)},                            // high byte
		8:  {testhelp.Wire(`0B "Socket Type" 00 00 00 00`)},                 // space in a real name
		9:  {testhelp.Wire(`05 "X-a/b" 00 00 00 00`)},                       // slash
		10: {testhelp.Wire(`04 "X-" 1B "A" 00 00 00 00`)},                   // control byte inside a name
		11: {testhelp.Wire(`06 1B "[31m" 00 00 00 00`)},                     // terminal escape
		12: {testhelp.Wire(`01 "A" 80 00 00 00`)},                           // value length 2^31
		13: {testhelp.Wire(`01 "A" FF FF FF FF`)},                           // value length 2^32-1
		14: {testhelp.Wire(`01 "A" 00 00 00 02 "x"`)},                       // value past the end
		15: {testhelp.Wire(`01 "A" 00 00 00`)},                              // value length cut short
		16: {testhelp.Wire(`05 "ABC"`)},                                     // name past the end
		17: {testhelp.Wire(`FF`)},                                           // name length only
		18: {testhelp.Cat(good, testhelp.Wire(`01 "A" 7F FF FF FF "abc"`))}, // huge value length, few bytes
	}
	for i, tt := range tests {
		md, err := zmtp.ParseMetadata(tt.in)
		var me *zmtp.MalformedError
		if !errors.As(err, &me) || !errors.Is(err, zmtp.ErrMalformed) || me.What != "metadata" {
			t.Errorf("%d: ParseMetadata(%x) = %v, %v; want a malformed-metadata error", i, tt.in, md, err)
		}
		if md != nil {
			t.Errorf("%d: a result along with the error: %v", i, md)
		}
	}
}

// TestParseMetadataTruncated cuts a valid encoding at every byte offset: a
// cut on a property boundary parses to the properties before it; every other
// cut is an error.
func TestParseMetadataTruncated(t *testing.T) {
	md := zmtp.Metadata{
		{Name: "Socket-Type", Value: []byte("ROUTER")},
		{Name: "Identity"},
		{Name: "X-Key", Value: []byte("some value")},
	}
	b := md.Append(nil)
	boundaries := map[int]int{0: 0}
	off := 0
	for i, p := range md {
		off += 1 + len(p.Name) + 4 + len(p.Value)
		boundaries[off] = i + 1
	}
	for n := 0; n <= len(b); n++ {
		got, err := zmtp.ParseMetadata(b[:n])
		want, onBoundary := boundaries[n]
		if !onBoundary {
			if !errors.Is(err, zmtp.ErrMalformed) {
				t.Errorf("cut at %d: ParseMetadata = %v, %v; want ErrMalformed", n, got, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("cut at %d: %v", n, err)
			continue
		}
		if diff := cmp.Diff(md[:want], got, mdCmp); diff != "" {
			t.Errorf("cut at %d (-want +got):\n%s", n, diff)
		}
	}
}

func TestParseMetadataEmpty(t *testing.T) {
	for _, in := range [][]byte{nil, {}} {
		md, err := zmtp.ParseMetadata(in)
		if err != nil || len(md) != 0 {
			t.Errorf("ParseMetadata(%#v) = %v, %v; want empty", in, md, err)
		}
	}
	if got := zmtp.Metadata(nil).Append([]byte("x")); string(got) != "x" {
		t.Errorf("empty Append = %q", got)
	}
	if zmtp.Metadata(nil).Len() != 0 {
		t.Error("empty Len != 0")
	}
}

// TestParseMetadataNoAlias: the result owns its bytes. Changing the input
// after the parse changes nothing, and appending to one value cannot spill
// into the next.
func TestParseMetadataNoAlias(t *testing.T) {
	in := zmtp.Metadata{
		{Name: "Socket-Type", Value: []byte("DEALER")},
		{Name: "Identity", Value: []byte("id")},
		{Name: "X-Z", Value: []byte("zzz")},
	}.Append(nil)
	md, err := zmtp.ParseMetadata(in)
	if err != nil {
		t.Fatal(err)
	}
	want := md.Clone()
	for i := range in {
		in[i] ^= 0xFF
	}
	if diff := cmp.Diff(want, md, mdCmp); diff != "" {
		t.Errorf("mutating the input changed the result (-want +got):\n%s", diff)
	}
	_ = append(md[0].Value, "XXXXXXXXXXXX"...)
	if diff := cmp.Diff(want, md, mdCmp); diff != "" {
		t.Errorf("appending to a value changed its neighbours (-want +got):\n%s", diff)
	}
}

func TestMetadataGet(t *testing.T) {
	md := zmtp.Metadata{
		{Name: "Socket-Type", Value: []byte("DEALER")},
		{Name: "identity", Value: []byte("lower")},
		{Name: "Identity", Value: []byte("exact")},
		{Name: "X-Dup", Value: []byte("first")},
		{Name: "X-Dup", Value: []byte("second")},
	}
	tests := []struct {
		name      string
		get       string // "" means absent
		getExact  string
		getOK     bool
		getExactO bool
	}{
		{"Socket-Type", "DEALER", "DEALER", true, true},
		{"socket-type", "DEALER", "", true, false},
		{"SOCKET-TYPE", "DEALER", "", true, false},
		{"Identity", "lower", "exact", true, true}, // Get: the first case-insensitive match
		{"identity", "lower", "lower", true, true},
		{"IDENTITY", "lower", "", true, false},
		{"X-Dup", "first", "first", true, true}, // duplicates: the first, as libzmq's std::map
		{"x-dup", "first", "", true, false},
		{"Socket-Typ", "", "", false, false},
		{"Socket-TypeX", "", "", false, false},
		{"", "", "", false, false},
		{"Socket_Type", "", "", false, false}, // '-' and '_' do not fold together
		{"Socket\rType", "", "", false, false},
	}
	for _, tt := range tests {
		v, ok := md.Get(tt.name)
		if ok != tt.getOK || string(v) != tt.get {
			t.Errorf("Get(%q) = %q, %v; want %q, %v", tt.name, v, ok, tt.get, tt.getOK)
		}
		v, ok = md.GetExact(tt.name)
		if ok != tt.getExactO || string(v) != tt.getExact {
			t.Errorf("GetExact(%q) = %q, %v; want %q, %v", tt.name, v, ok, tt.getExact, tt.getExactO)
		}
	}
	if _, ok := zmtp.Metadata(nil).Get("Identity"); ok {
		t.Error("Get on nil metadata found something")
	}
}

func TestMetadataValidateAndAppendPanics(t *testing.T) {
	for _, name := range []string{"", "Socket Type", "A:", "\x00", "É", "\x1b[31m", strings.Repeat("a", 256)} {
		md := zmtp.Metadata{{Name: "Good", Value: []byte("v")}, {Name: name}}
		if err := md.Validate(); !errors.Is(err, zmtp.ErrMalformed) {
			t.Errorf("Validate with name %q = %v", name, err)
		}
		mustPanic(t, "Append", func() { md.Append(nil) })
		if zmtp.ValidPropertyName(name) {
			t.Errorf("ValidPropertyName(%q) = true", name)
		}
	}
	for _, name := range []string{"A", "Socket-Type", "X-Foo_bar.baz+1", strings.Repeat("a", 255)} {
		if !zmtp.ValidPropertyName(name) {
			t.Errorf("ValidPropertyName(%q) = false", name)
		}
	}
}

func TestMetadataClone(t *testing.T) {
	if zmtp.Metadata(nil).Clone() != nil {
		t.Error("Clone(nil) != nil")
	}
	md := zmtp.Metadata{{Name: "A", Value: []byte("x")}}
	c := md.Clone()
	c[0].Value[0] = 'y'
	c[0].Name = "B"
	if string(md[0].Value) != "x" || md[0].Name != "A" {
		t.Errorf("Clone shares storage: %v", md)
	}
}

// tinyProperties returns about n bytes of metadata made of properties with
// a 2-byte name and a 1-byte value (8 bytes each on the wire).
func tinyProperties(n int) (b []byte, count int) {
	for len(b)+8 <= n {
		b = append(b, 2, 'a'+byte(count%26), 'a'+byte(count/26%26), 0, 0, 0, 1, 'v')
		count++
	}
	return b, count
}

// TestParseMetadataCompact: ParseMetadata keeps all names in one string and
// all values in one array, so 60 KB of tiny properties takes three
// allocations and about the wire size plus the []Property slice (40 bytes a
// property), whatever the count. Before, every name was a string of its
// own: one allocation per property.
func TestParseMetadataCompact(t *testing.T) {
	b, count := tinyProperties(60 << 10)
	allocs := testing.AllocsPerRun(10, func() {
		if _, err := zmtp.ParseMetadata(b); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 3 {
		t.Errorf("ParseMetadata of %d properties: %v allocations, want 3", count, allocs)
	}
	// Everything ParseMetadata allocates is kept by the result, so the
	// bytes it allocates are the bytes the result retains.
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	md, err := zmtp.ParseMetadata(b)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	retained := after.TotalAlloc - before.TotalAlloc
	// Wire size plus the Property slice (40 bytes each), plus slack for
	// size classes.
	bound := uint64(len(b)) + uint64(count)*uint64(unsafe.Sizeof(zmtp.Property{})) + 8<<10
	t.Logf("%d properties in %d bytes: %d bytes retained (bound %d)", count, len(b), retained, bound)
	if retained > bound {
		t.Errorf("%d properties in %d bytes retain %d bytes, want at most %d", count, len(b), retained, bound)
	}
	runtime.KeepAlive(md)
	last := []byte{'a' + byte((count-1)%26), 'a' + byte((count-1)/26%26)}
	if len(md) != count || md[count-1].Name != string(last) || string(md[count-1].Value) != "v" {
		t.Fatalf("parsed %d properties, last %q", len(md), md[len(md)-1])
	}
	// Values do not reach into each other or into the names.
	v := md[0].Value
	if cap(v) != 1 {
		t.Errorf("value capacity %d, want 1", cap(v))
	}
}

// TestMetadataCloneCompact: Clone copies values into one array and shares
// names.
func TestMetadataCloneCompact(t *testing.T) {
	b, _ := tinyProperties(4 << 10)
	md, err := zmtp.ParseMetadata(b)
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(10, func() { md.Clone() })
	if allocs != 2 {
		t.Errorf("Clone: %v allocations, want 2", allocs)
	}
	c := md.Clone()
	if !reflect.DeepEqual(c, md) {
		t.Fatal("Clone differs")
	}
	c[0].Value[0] = 'X'
	if md[0].Value[0] == 'X' || cap(c[0].Value) != 1 {
		t.Fatal("Clone shares or overlaps values")
	}
	if got := (zmtp.Metadata{{Name: "A"}, {Name: "B", Value: []byte{}}}).Clone(); got[0].Value != nil || got[1].Value != nil {
		t.Errorf("empty values clone to %q", got)
	}
}

// TestParseMetadataLimit: over the limit, the typed error comes before any
// allocation; at the limit the metadata parses.
func TestParseMetadataLimit(t *testing.T) {
	var b []byte
	for i := 0; i < 100; i++ {
		b = zmtp.Metadata{{Name: "X-A", Value: []byte{byte(i)}}}.Append(b)
	}
	if md, err := zmtp.ParseMetadataLimit(b, 100); err != nil || len(md) != 100 {
		t.Fatalf("at the limit: %d properties, %v", len(md), err)
	}
	_, err := zmtp.ParseMetadataLimit(b, 99)
	var te *zmtp.TooManyPropertiesError
	if !errors.As(err, &te) || te.Count != 100 || te.Limit != 99 || !errors.Is(err, zmtp.ErrTooManyProperties) {
		t.Fatalf("over the limit: %v", err)
	}
	if n := testing.AllocsPerRun(100, func() { zmtp.ParseMetadataLimit(b, 99) }); n > 1 {
		t.Errorf("a refusal allocates %v times; want at most the error", n)
	}
}

// TestParseMetadataKnownNames: the names this package defines are not
// copied, so a libzmq DEALER's READY metadata (Socket-Type, Identity) costs
// two allocations, the properties and the values; a name in another casing
// is a name like any other, kept as it was sent.
func TestParseMetadataKnownNames(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { zmtp.ParseMetadata(goldenDealerMetadata) }); n != 2 {
		t.Errorf("ParseMetadata of Socket-Type and Identity: %v allocations, want 2", n)
	}
	b := zmtp.Metadata{
		{Name: "socket-type", Value: []byte("A")},
		{Name: zmtp.PropSocketType, Value: []byte("B")},
		{Name: "X", Value: []byte("C")},
		{Name: zmtp.PropUserID},
		{Name: "Identity2", Value: []byte("D")},
	}.Append(nil)
	md, err := zmtp.ParseMetadata(b)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"socket-type=A", "Socket-Type=B", "X=C", "User-Id=", "Identity2=D"}
	if len(md) != len(want) {
		t.Fatalf("%d properties, want %d", len(md), len(want))
	}
	for i, p := range md {
		if got := p.Name + "=" + string(p.Value); got != want[i] {
			t.Errorf("property %d: %s, want %s", i, got, want[i])
		}
	}
	if v, _ := md.GetExact(zmtp.PropSocketType); string(v) != "B" {
		t.Errorf("GetExact(Socket-Type) = %q", v)
	}
}
