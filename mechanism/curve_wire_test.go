package mechanism

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/zmtpsec/zmtpsec/internal/box"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// wireParts are the CURVE layouts by name, each as parse then append, for
// the round-trip checks: parsing data and appending what was parsed must
// give data back, or parsing must fail with a *zmtp.MalformedError.
var wireParts = []struct {
	name  string
	parse func([]byte) ([]byte, error) // parse, then append to nil
}{
	{"HELLO", func(d []byte) ([]byte, error) { m, err := parseCurveHello(d); return m.append(nil), err }},
	{"WELCOME", func(d []byte) ([]byte, error) { m, err := parseCurveWelcome(d); return m.append(nil), err }},
	{"WELCOME box", func(d []byte) ([]byte, error) { m, err := parseCurveWelcomeBody(d); return m.append(nil), err }},
	{"cookie", func(d []byte) ([]byte, error) {
		m, err := parseCurveCookie(d)
		return m.append(nil), err
	}},
	{"INITIATE", func(d []byte) ([]byte, error) { m, err := parseCurveInitiate(d); return m.append(nil), err }},
	{"INITIATE box", func(d []byte) ([]byte, error) { m, err := parseCurveInitiateBody(d); return m.append(nil), err }},
	{"READY", func(d []byte) ([]byte, error) { m, err := parseCurveReady(d); return m.append(nil), err }},
	{"vouch", func(d []byte) ([]byte, error) { m, err := parseCurveVouch(d); return m.append(nil), err }},
}

// checkWireRoundTrip checks one layout on data.
func checkWireRoundTrip(t *testing.T, part int, data []byte) {
	t.Helper()
	p := wireParts[part]
	got, err := p.parse(data)
	if err != nil {
		var me *zmtp.MalformedError
		if !errors.As(err, &me) || !strings.HasPrefix(me.What, "CURVE ") {
			t.Fatalf("%s: error %v, want a *zmtp.MalformedError about CURVE", p.name, err)
		}
		return
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("%s: parsed and appended\n%x\nwant\n%x", p.name, got, data)
	}
}

// checkCommandRoundTrip checks the layout of a CURVE command by its name,
// if it is one; the fuzz targets call it on every command they feed.
func checkCommandRoundTrip(t *testing.T, cmd zmtp.Command) {
	t.Helper()
	for i, p := range wireParts {
		if p.name == cmd.Name {
			checkWireRoundTrip(t, i, cmd.Data)
		}
	}
}

// TestCurveWireKnownAnswer takes a complete handshake apart: every command
// and the boxes inside parse, hold the keys the handshake used, and
// append back to the same bytes.
func TestCurveWireKnownAnswer(t *testing.T) {
	ctx := context.Background()
	chs, shs := newCurvePair(t, nil)
	c, s := chs.(*curveClientHandshake), shs.(*curveServerHandshake)
	hello, err := c.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.Start(ctx)
	h, err := parseCurveHello(hello[0].Data)
	if err != nil || h.clientTransient != c.cPrimePub || h.nonce != 1 {
		t.Fatalf("HELLO %+v, %v", h, err)
	}
	helloKey := c.helloKey // (c', S), gone once WELCOME is read
	welcome, err := s.Handle(ctx, roundTrip(t, hello[0]))
	if err != nil {
		t.Fatal(err)
	}
	w, err := parseCurveWelcome(welcome[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	plain, ok := box.Open(nil, w.box[:], longNonce(nonceWelcome, w.nonce[:]), &helloKey)
	if !ok {
		t.Fatal("WELCOME box does not open")
	}
	wb, err := parseCurveWelcomeBody(plain)
	if err != nil || wb.serverTransient != s.sPrimePub || !bytes.Equal(wb.append(nil), plain) {
		t.Fatalf("WELCOME box %+v, %v", wb, err)
	}
	var cookie [2 * keyLen]byte
	if !openCookie(&wb.cookie, &s.cookieKey, &cookie) || [32]byte(cookie[:keyLen]) != h.clientTransient {
		t.Fatal("the cookie does not open to C'")
	}
	msgKey, err := box.Shared(s.sPrime, &h.clientTransient)
	if err != nil {
		t.Fatal(err)
	}

	initiate, err := c.Handle(ctx, roundTrip(t, welcome[0]))
	if err != nil {
		t.Fatal(err)
	}
	in, err := parseCurveInitiate(initiate[0].Data)
	if err != nil || in.cookie != wb.cookie || in.nonce != 2 {
		t.Fatalf("INITIATE %+v, %v", in, err)
	}
	plain, ok = box.Open(nil, in.box, shortNonce(nonceInitiate, in.nonce), &msgKey)
	if !ok {
		t.Fatal("INITIATE box does not open")
	}
	ib, err := parseCurveInitiateBody(plain)
	if err != nil || ib.client != [32]byte(c.m.public) || !bytes.Equal(ib.append(nil), plain) {
		t.Fatalf("INITIATE box %+v, %v", ib, err)
	}
	md, err := zmtp.ParseMetadata(ib.metadata)
	if st, _ := md.Get("Socket-Type"); err != nil || string(st) != "DEALER" {
		t.Fatalf("INITIATE metadata %q, %v", ib.metadata, err)
	}
	vouchKey, err := box.Shared(s.sPrime, &ib.client)
	if err != nil {
		t.Fatal(err)
	}
	var vouch [2 * keyLen]byte
	if !openVouch(&ib.vouch, &vouchKey, &vouch) || [32]byte(vouch[:keyLen]) != h.clientTransient || [32]byte(vouch[keyLen:]) != [32]byte(s.m.public) {
		t.Fatal("the vouch does not open to C' and S")
	}

	ready, err := s.Handle(ctx, roundTrip(t, initiate[0]))
	if err != nil {
		t.Fatal(err)
	}
	r, err := parseCurveReady(ready[0].Data)
	if err != nil || r.nonce != 1 {
		t.Fatalf("READY %+v, %v", r, err)
	}
	if _, ok := box.Open(nil, r.box, shortNonce(nonceReady, r.nonce), &msgKey); !ok {
		t.Fatal("READY box does not open")
	}
	for _, cmd := range []zmtp.Command{hello[0], welcome[0], initiate[0], ready[0]} {
		checkCommandRoundTrip(t, cmd)
	}
	if _, err := c.Handle(ctx, roundTrip(t, ready[0])); err != nil || !c.Done() {
		t.Fatalf("client: %v", err)
	}
}

// TestCurveHelloLayout checks the HELLO layout against the bytes of the
// 26/CurveZMQ figure: version, 72 zero bytes, C', nonce, signature.
func TestCurveHelloLayout(t *testing.T) {
	var m curveHello
	for i := range m.clientTransient {
		m.clientTransient[i] = 0xC0 + byte(i%16)
	}
	m.nonce = 0x0102030405060708
	for i := range m.signature {
		m.signature[i] = 0x5A
	}
	got := m.append([]byte("x"))
	want := "78" + "0100" + strings.Repeat("00", 72) + hex.EncodeToString(m.clientTransient[:]) + "0102030405060708" + strings.Repeat("5a", 80)
	if hex.EncodeToString(got) != want {
		t.Fatalf("HELLO\n%x\nwant\n%s", got, want)
	}
	if len(got)-1 != helloDataLen {
		t.Fatalf("HELLO data of %d bytes", len(got)-1)
	}
	back, err := parseCurveHello(got[1:])
	if err != nil || back != m {
		t.Fatalf("parsed %+v, %v", back, err)
	}
}

// TestCurveWireMalformed: each layout refuses data of the wrong size, and
// HELLO a version other than 1.0, with a *zmtp.MalformedError naming it.
func TestCurveWireMalformed(t *testing.T) {
	hello := make([]byte, helloDataLen)
	hello[0] = 1
	badVersion := append([]byte{1, 1}, hello[2:]...)
	tests := []struct {
		part int
		data []byte
		want string
	}{
		{0, hello[:10], "zmtp: malformed CURVE HELLO: 10 bytes of data, want 194"},
		{0, append(hello, 0), "zmtp: malformed CURVE HELLO: 195 bytes of data, want 194"},
		{0, badVersion, "zmtp: malformed CURVE HELLO: version 1.1, want 1.0"},
		{1, make([]byte, 159), "zmtp: malformed CURVE WELCOME: 159 bytes of data, want 160"},
		{2, make([]byte, 127), "zmtp: malformed CURVE WELCOME: box of 127 bytes, want 128"},
		{3, make([]byte, 95), "zmtp: malformed CURVE cookie: 95 bytes, want 96"},
		{4, make([]byte, 247), "zmtp: malformed CURVE INITIATE: 247 bytes of data, want at least 248"},
		{5, make([]byte, 127), "zmtp: malformed CURVE INITIATE: box of 127 bytes, want at least 128"},
		{6, make([]byte, 23), "zmtp: malformed CURVE READY: 23 bytes of data, want at least 24"},
		{7, make([]byte, 97), "zmtp: malformed CURVE vouch: 97 bytes, want 96"},
	}
	for _, tt := range tests {
		_, err := wireParts[tt.part].parse(tt.data)
		if err == nil || err.Error() != tt.want || !errors.Is(err, zmtp.ErrMalformed) {
			t.Errorf("%s: %v, want %q", wireParts[tt.part].name, err, tt.want)
		}
	}
	// The smallest sizes that fit parse and append back.
	for i, n := range []int{helloDataLen, welcomeDataLen, keyLen + cookieLen, cookieLen, initiateMinDataLen, keyLen + vouchLen, readyMinDataLen, vouchLen} {
		data := bytes.Repeat([]byte{0xA5}, n)
		if i == 0 {
			data = append([]byte{1, 0}, data[2:]...)
		}
		checkWireRoundTrip(t, i, data)
		if _, err := wireParts[i].parse(data); err != nil {
			t.Errorf("%s of %d bytes: %v", wireParts[i].name, n, err)
		}
	}
}

// FuzzCurveWire: any bytes, read as any CURVE layout, either parse and
// append back to the same bytes or are refused as malformed.
func FuzzCurveWire(f *testing.F) {
	for i, n := range []int{helloDataLen, welcomeDataLen, keyLen + cookieLen, cookieLen, initiateMinDataLen + 3, keyLen + vouchLen + 5, readyMinDataLen + 1, vouchLen} {
		data := bytes.Repeat([]byte{byte(i)}, n)
		if i == 0 {
			data[0], data[1] = 1, 0
		}
		f.Add(byte(i), data)
		f.Add(byte(i), data[:n-1])
	}
	f.Fuzz(func(t *testing.T, part byte, data []byte) {
		checkWireRoundTrip(t, int(part)%len(wireParts), data)
	})
}
