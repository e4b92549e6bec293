package cert

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/zmtpsec/zmtpsec/internal/testhelp"
)

// libzmqPairs are the published test key pairs of libzmq
// (docs/wire-format.md#published-test-keys).
var libzmqPairs = []struct {
	name              string
	public, secret    string
	publicHex, secHex string
}{
	{"doc server", "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6",
		"54fcba24e93249969316fb617c872bb0c1d1ff14800427c594cbfacf1bc2d652", "8e0bdd697628b91d8f245587ee95c5b04d48963f79259877b49cd9063aead3b7"},
	{"doc client", "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID", "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs",
		"bb88471d65e2659b30c55a5321cebb5aab2b70a398645c26dca2b2fcb43fc518", "7bb864b489afa3671fbe69101f94b38972f24816dfb01b51656b3fec8dfd0888"},
	{"fuzzer client", "{{k*81)yMWEF{/BxdMd[5RL^qRFxBgoL<8m.D^KD", "N?Gmik8R[2ACw{b7*[-$S6[4}aO#?DB?#=<OQPc7",
		"f8b3897c05e882c97dfdbc42672c3c2811848356a66b5c4c4c6ced1ac25d0b51", "9b1362563e8b469c716a617818602808a844b5ad20fb13a275c1da379d7ed614"},
	{"fuzzer server", "3.9-xXwy{g*w72TP*3iB9IJJRxlBH<ufTAvPd2>C", "T}t5GLq%&Qm1)y3ywu-}pY3KEA//{^Ut!M1ut+B4",
		"0b9b9e86b8c24c48daf8ec76a13ebedb1da200206776070f5dea38f39f289276", "ae11605f933922ef4485325c6af8e10b4ffb98ee7290f4a0af5456a65e6e845d"},
}

func TestLibzmqKeyPairs(t *testing.T) {
	for _, p := range libzmqPairs {
		pub, err := ParsePublicKey(p.public)
		if err != nil {
			t.Fatalf("%s: ParsePublicKey: %v", p.name, err)
		}
		sec, err := ParseSecretKey(p.secret)
		if err != nil {
			t.Fatalf("%s: ParseSecretKey: %v", p.name, err)
		}
		if !bytes.Equal(pub[:], testhelp.Wire(p.publicHex)) {
			t.Errorf("%s: public key = %x, want %s", p.name, pub[:], p.publicHex)
		}
		if !bytes.Equal(sec.Bytes(), testhelp.Wire(p.secHex)) {
			t.Errorf("%s: secret key bytes differ from %s", p.name, p.secHex)
		}
		derived, err := sec.PublicKey()
		if err != nil || derived != pub {
			t.Errorf("%s: SecretKey.PublicKey() = %v, %v; want %v", p.name, derived, err, pub)
		}
		if pub.String() != p.public || sec.Z85() != p.secret {
			t.Errorf("%s: String/Z85 do not give back the Z85 text", p.name)
		}
	}
}

func TestParseKeyErrors(t *testing.T) {
	good := libzmqPairs[0].public
	tests := []struct {
		in   string
		want error
	}{
		{"", ErrZ85Length},
		{good[:39], ErrZ85Length},
		{good + "0", ErrZ85Length},
		{good[:35], ErrZ85Length}, // a multiple of 5, but not a key
		{good[:10] + " " + good[11:], ErrZ85Char},
		{"%nSc1" + good[5:], ErrZ85Overflow},
	}
	for _, tt := range tests {
		if _, err := ParsePublicKey(tt.in); !errors.Is(err, tt.want) {
			t.Errorf("ParsePublicKey(%q) error %v, want %v", tt.in, err, tt.want)
		}
		if _, err := ParseSecretKey(tt.in); !errors.Is(err, tt.want) {
			t.Errorf("ParseSecretKey(%q) error %v, want %v", tt.in, err, tt.want)
		}
	}
	_, err := ParsePublicKey(good[:39])
	if want := "cert: parse public key: 39 characters, want 40"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	_, err = ParsePublicKey(good[:10] + "~" + good[11:])
	if want := `cert: parse public key: invalid character "~" at offset 10`; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

// TestParseSecretKeyErrorRedacted checks that no part of a malformed secret
// key reaches the error.
func TestParseSecretKeyErrorRedacted(t *testing.T) {
	secret := libzmqPairs[0].secret
	for _, in := range []string{
		secret[:20] + "~" + secret[21:],
		"%nSc1" + secret[5:],
		"#####" + secret[5:],
	} {
		_, err := ParseSecretKey(in)
		var ze *Z85Error
		if !errors.As(err, &ze) {
			t.Fatalf("ParseSecretKey error %T, want *Z85Error", err)
		}
		if ze.Text != "" {
			t.Errorf("Z85Error.Text = %q, want empty for a secret key", ze.Text)
		}
		for _, part := range []string{"~", "%nSc1", "#####", secret[5:10]} {
			if strings.Contains(err.Error(), part) {
				t.Errorf("error %q contains %q from the secret key", err, part)
			}
		}
	}
}

func TestSecretKeyRedacted(t *testing.T) {
	sec, err := ParseSecretKey(libzmqPairs[0].secret)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := sec.PublicKey()
	kp := KeyPair{Public: pub, Secret: sec}
	c := &Certificate{Public: pub, Secret: &sec}
	secretForms := []string{
		fmt.Sprintf("%x", sec[:]), fmt.Sprintf("%X", sec[:]), sec.Z85(),
		fmt.Sprint(sec[0]) + " " + fmt.Sprint(sec[1]),
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d", "%T %v"} {
		for _, v := range []any{sec, &sec, kp, &kp, c, []SecretKey{sec}, map[string]SecretKey{"k": sec}} {
			out := fmt.Sprintf(verb, v)
			for _, form := range secretForms {
				if strings.Contains(out, form) {
					t.Errorf("Sprintf(%q, %T) = %q reveals the key", verb, v, out)
				}
			}
			if _, isCert := v.(*Certificate); !isCert && verb != "%T %v" && !strings.Contains(out, "cert.SecretKey(REDACTED)") {
				t.Errorf("Sprintf(%q, %T) = %q, want the redaction", verb, v, out)
			}
		}
	}
	if got := sec.String(); got != "cert.SecretKey(REDACTED)" {
		t.Errorf("String() = %q", got)
	}
	if got := sec.GoString(); got != "cert.SecretKey(REDACTED)" {
		t.Errorf("GoString() = %q", got)
	}
}

func TestGenerateKeyPair(t *testing.T) {
	kp, err := GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	if kp.Public.IsZero() || kp.Secret.IsZero() {
		t.Fatal("GenerateKeyPair(nil) returned a zero key")
	}
	if derived, _ := kp.Secret.PublicKey(); derived != kp.Public {
		t.Error("public key does not derive from secret key")
	}
	kp2, _ := GenerateKeyPair(nil)
	if kp2.Public == kp.Public {
		t.Error("two random key pairs are equal")
	}

	// A caller-supplied reader is honoured: the secret is its first 32 bytes.
	want, _ := ParseSecretKey(libzmqPairs[1].secret)
	kp, err = GenerateKeyPair(bytes.NewReader(want.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if kp.Secret != want || kp.Public.String() != libzmqPairs[1].public {
		t.Errorf("GenerateKeyPair(fixed reader) = %v, want %s", kp.Public, libzmqPairs[1].public)
	}
	if _, err := GenerateKeyPair(bytes.NewReader(make([]byte, 31))); err == nil || !strings.HasPrefix(err.Error(), "cert: ") {
		t.Errorf("GenerateKeyPair(short reader) error %v", err)
	}
}

func TestIsZero(t *testing.T) {
	var p PublicKey
	var s SecretKey
	if !p.IsZero() || !s.IsZero() {
		t.Error("zero keys are not IsZero")
	}
	p[31], s[0] = 1, 1
	if p.IsZero() || s.IsZero() {
		t.Error("non-zero keys are IsZero")
	}
}

func TestSecretKeyBytesIsCopy(t *testing.T) {
	var s SecretKey
	s.Bytes()[0] = 1
	if !s.IsZero() {
		t.Error("Bytes returned the key's own storage")
	}
}

// p25519 is 2^255-19.
var p25519 = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))

// canonicalByBig is IsCanonical computed with math/big: the little-endian
// number below 2^255-19.
func canonicalByBig(k PublicKey) bool {
	be := make([]byte, KeySize)
	for i := range k {
		be[KeySize-1-i] = k[i]
	}
	return new(big.Int).SetBytes(be).Cmp(p25519) < 0
}

// leKey returns the little-endian key of the number n.
func leKey(n *big.Int) PublicKey {
	var k PublicKey
	be := n.FillBytes(make([]byte, KeySize))
	for i := range k {
		k[i] = be[KeySize-1-i]
	}
	return k
}

func TestPublicKeyIsCanonical(t *testing.T) {
	one := big.NewInt(1)
	two255 := new(big.Int).Lsh(one, 255)
	tests := []struct {
		n    *big.Int
		want bool
	}{
		{big.NewInt(0), true},
		{big.NewInt(9), true},
		{new(big.Int).Sub(p25519, one), true},
		{p25519, false},
		{new(big.Int).Add(p25519, one), false},
		{new(big.Int).Sub(two255, one), false},
		{two255, false},
		{new(big.Int).Add(two255, big.NewInt(9)), false},
		{new(big.Int).Sub(new(big.Int).Lsh(one, 256), one), false},
		{new(big.Int).Sub(new(big.Int).Lsh(one, 248), one), true}, // ff..ff with the top byte 00
	}
	for _, tt := range tests {
		k := leKey(tt.n)
		if got := k.IsCanonical(); got != tt.want {
			t.Errorf("IsCanonical(%x) = %v, want %v", k[:], got, tt.want)
		}
	}
	for _, p := range libzmqPairs {
		k, err := ParsePublicKey(p.public)
		if err != nil || !k.IsCanonical() {
			t.Errorf("%s: ParsePublicKey = %v; IsCanonical = %v", p.name, err, k.IsCanonical())
		}
	}
	for range 100 {
		kp, err := GenerateKeyPair(nil)
		if err != nil {
			t.Fatal(err)
		}
		if !kp.Public.IsCanonical() {
			t.Fatalf("GenerateKeyPair made a non-canonical key %x", kp.Public[:])
		}
	}
}

// TestParsePublicKeyNonCanonical parses the twin of a libzmq key, the same
// X25519 key with bit 255 set: it is refused with ErrNonCanonicalKey, in a
// *Z85Error, and so is a certificate that holds it.
func TestParsePublicKeyNonCanonical(t *testing.T) {
	pub, err := ParsePublicKey(libzmqPairs[1].public)
	if err != nil {
		t.Fatal(err)
	}
	twin := pub
	twin[31] |= 0x80
	_, err = ParsePublicKey(twin.String())
	var ze *Z85Error
	if !errors.Is(err, ErrNonCanonicalKey) || !errors.As(err, &ze) {
		t.Fatalf("ParsePublicKey(twin) = %v, want a *Z85Error wrapping ErrNonCanonicalKey", err)
	}
	if want := "cert: parse public key: not a canonical X25519 key (bit 255 set, or not below 2^255-19)"; err.Error() != want {
		t.Errorf("error text %q, want %q", err, want)
	}
	for _, k := range []PublicKey{leKey(p25519), leKey(new(big.Int).Add(p25519, big.NewInt(18)))} {
		if _, err := ParsePublicKey(k.String()); !errors.Is(err, ErrNonCanonicalKey) {
			t.Errorf("ParsePublicKey(%x) = %v, want ErrNonCanonicalKey", k[:], err)
		}
	}
	file := "metadata\ncurve\n    public-key = \"" + twin.String() + "\"\n"
	_, err = ParseCertificate([]byte(file))
	var pe *ParseError
	if !errors.Is(err, ErrNonCanonicalKey) || !errors.As(err, &pe) || pe.Line != 3 {
		t.Errorf("ParseCertificate with a twin key = %v, want a *ParseError at line 3 wrapping ErrNonCanonicalKey", err)
	}
}

// FuzzPublicKeyIsCanonical checks IsCanonical against math/big, and that
// ParsePublicKey accepts exactly the canonical keys, giving them back.
func FuzzPublicKeyIsCanonical(f *testing.F) {
	f.Add(make([]byte, KeySize))
	f.Add(bytes.Repeat([]byte{0xff}, KeySize))
	f.Add(append([]byte{0xec}, append(bytes.Repeat([]byte{0xff}, 30), 0x7f)...))
	f.Add(append([]byte{0xed}, append(bytes.Repeat([]byte{0xff}, 30), 0x7f)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) != KeySize {
			return
		}
		k := PublicKey(b)
		want := canonicalByBig(k)
		if got := k.IsCanonical(); got != want {
			t.Fatalf("IsCanonical(%x) = %v, math/big says %v", b, got, want)
		}
		got, err := ParsePublicKey(k.String())
		switch {
		case want && (err != nil || got != k):
			t.Fatalf("ParsePublicKey(%x) = %x, %v", b, got[:], err)
		case !want && !errors.Is(err, ErrNonCanonicalKey):
			t.Fatalf("ParsePublicKey(%x) = %v, want ErrNonCanonicalKey", b, err)
		}
	})
}
