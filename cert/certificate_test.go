package cert

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// The golden files in testdata were written by pyzmq 24.0.1 and CZMQ 4.2.1
// (see testdata/generate.sh).

var goldenMeta = []MetadataEntry{
	{"name", "example-client"},
	{"email", "client@example.invalid"},
}

func TestGoldenLoad(t *testing.T) {
	docClient := libzmqPairs[1]
	tests := []struct {
		file       string
		wantPath   string // the file LoadCertificate reads
		wantSecret bool
		wantPublic string // "" when the keys are random
		wantMeta   []MetadataEntry
	}{
		{"pyzmq/client.key", "pyzmq/client.key_secret", true, "", goldenMeta},
		{"pyzmq/client.key_secret", "pyzmq/client.key_secret", true, "", goldenMeta},
		{"pyzmq/server.key", "pyzmq/server.key_secret", true, "", nil},
		{"czmq/client", "czmq/client_secret", true, docClient.public,
			append(goldenMeta[:2:2], MetadataEntry{"organization", "O'Example # Ltd"})},
		{"czmq/client_secret", "czmq/client_secret", true, docClient.public,
			append(goldenMeta[:2:2], MetadataEntry{"organization", "O'Example # Ltd"})},
		{"czmq/server", "czmq/server_secret", true, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c, err := LoadCertificate(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join("testdata", tt.wantPath); c.Path != want {
				t.Errorf("Path = %q, want %q", c.Path, want)
			}
			if (c.Secret != nil) != tt.wantSecret {
				t.Fatalf("Secret present = %v, want %v", c.Secret != nil, tt.wantSecret)
			}
			if derived, _ := c.Secret.PublicKey(); derived != c.Public {
				t.Errorf("secret key derives %v, public key is %v", derived, c.Public)
			}
			if tt.wantPublic != "" && c.Public.String() != tt.wantPublic {
				t.Errorf("Public = %v, want %s", c.Public, tt.wantPublic)
			}
			if tt.file == "czmq/client" && c.Secret.Z85() != docClient.secret {
				t.Errorf("secret key differs from the libzmq doc client key")
			}
			if diff := cmp.Diff(tt.wantMeta, c.Metadata, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Metadata (-want +got):\n%s", diff)
			}
		})
	}
}

// TestGoldenPublicOnly parses each public golden file by itself.
func TestGoldenPublicOnly(t *testing.T) {
	for _, name := range []string{"pyzmq/client.key", "pyzmq/server.key", "czmq/client", "czmq/server"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		c, err := ParseCertificate(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if c.Secret != nil {
			t.Errorf("%s: public file has a secret key", name)
		}
		sc, err := LoadCertificate(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if sc.Public != c.Public {
			t.Errorf("%s: public and secret files differ", name)
		}
		var wantMeta []MetadataEntry
		if strings.HasPrefix(name, "czmq/") {
			wantMeta = sc.Metadata // CZMQ writes metadata in both files
		}
		if diff := cmp.Diff(wantMeta, c.Metadata, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: Metadata (-want +got):\n%s", name, diff)
		}
	}
}

// goldenTime reads the time from the first line of a golden file, in UTC so
// that it formats back to the same text.
func goldenTime(t *testing.T, data []byte, layout Layout) time.Time {
	t.Helper()
	line, _, _ := bytes.Cut(data, []byte("\n"))
	s := strings.TrimPrefix(string(line), "#   ****  Generated on ")
	s, _, ok := strings.Cut(s, " by ")
	if !ok {
		t.Fatalf("no time in %q", line)
	}
	format := "2006-01-02 15:04:05"
	if layout == LayoutPyzmq {
		format = "2006-01-02 15:04:05.999999"
	}
	tm, err := time.Parse(format, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// TestGoldenMarshal renders each golden certificate with our writer, using
// the keys and metadata (in file order) of the golden file, and compares the
// bytes: first with the golden timestamp, for an exact match, then with
// another time, for a match on every line but the first.
func TestGoldenMarshal(t *testing.T) {
	tests := []struct {
		dir, name string
		layout    Layout
	}{
		{"pyzmq", "client", LayoutPyzmq},
		{"pyzmq", "server", LayoutPyzmq},
		{"czmq", "client", LayoutCZMQ},
		{"czmq", "server", LayoutCZMQ},
	}
	for _, tt := range tests {
		t.Run(tt.dir+"/"+tt.name, func(t *testing.T) {
			pubName, secName := tt.layout.FileNames(tt.name)
			wantPub, err := os.ReadFile(filepath.Join("testdata", tt.dir, pubName))
			if err != nil {
				t.Fatal(err)
			}
			wantSec, err := os.ReadFile(filepath.Join("testdata", tt.dir, secName))
			if err != nil {
				t.Fatal(err)
			}
			c, err := ParseCertificate(wantSec)
			if err != nil {
				t.Fatal(err)
			}
			now := goldenTime(t, wantSec, tt.layout)
			gotPub, err := c.MarshalPublic(tt.layout, now)
			if err != nil {
				t.Fatal(err)
			}
			gotSec, err := c.MarshalSecret(tt.layout, now)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(wantPub), string(gotPub)); diff != "" {
				t.Errorf("public file (-golden +ours):\n%s", diff)
			}
			if diff := cmp.Diff(string(wantSec), string(gotSec)); diff != "" {
				t.Errorf("secret file (-golden +ours):\n%s", diff)
			}

			other := time.Date(2001, 2, 3, 4, 5, 6, 0, time.Local)
			gotPub, _ = c.MarshalPublic(tt.layout, other)
			gotSec, _ = c.MarshalSecret(tt.layout, other)
			for _, f := range []struct{ want, got []byte }{{wantPub, gotPub}, {wantSec, gotSec}} {
				_, wantRest, _ := bytes.Cut(f.want, []byte("\n"))
				gotFirst, gotRest, _ := bytes.Cut(f.got, []byte("\n"))
				if !bytes.Equal(wantRest, gotRest) {
					t.Errorf("files differ after the first line")
				}
				wantFirst := "#   ****  Generated on 2001-02-03 04:05:06 by " + tt.layout.String() + "  ****"
				if string(gotFirst) != wantFirst {
					t.Errorf("first line %q, want %q", gotFirst, wantFirst)
				}
			}
		})
	}
}

func TestTimestamp(t *testing.T) {
	tm := time.Date(2025, 1, 2, 3, 4, 5, 678901234, time.UTC)
	tests := []struct {
		layout Layout
		tm     time.Time
		want   string
	}{
		{LayoutCZMQ, tm, "2025-01-02 03:04:05"},
		{LayoutPyzmq, tm, "2025-01-02 03:04:05.678901"},
		{LayoutPyzmq, tm.Truncate(time.Second).Add(1000), "2025-01-02 03:04:05.000001"},
		// Python's str(datetime) drops a zero microsecond field.
		{LayoutPyzmq, tm.Truncate(time.Second).Add(999), "2025-01-02 03:04:05"},
		{LayoutCZMQ, time.Date(2025, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 3600)), "2025-01-02 03:04:05"},
	}
	for _, tt := range tests {
		if got := tt.layout.timestamp(tt.tm); got != tt.want {
			t.Errorf("%v timestamp(%v) = %q, want %q", tt.layout, tt.tm, got, tt.want)
		}
	}
}

func TestLayout(t *testing.T) {
	tests := []struct {
		l                     Layout
		str, pubName, secName string
	}{
		{LayoutCZMQ, "CZMQ", "x", "x_secret"},
		{LayoutPyzmq, "pyzmq", "x.key", "x.key_secret"},
	}
	for _, tt := range tests {
		p, s := tt.l.FileNames("x")
		if tt.l.String() != tt.str || p != tt.pubName || s != tt.secName {
			t.Errorf("%d: %q %q %q", tt.l, tt.l.String(), p, s)
		}
	}
	if got := Layout(0).String(); got != "Layout(0)" {
		t.Errorf("Layout(0).String() = %q", got)
	}
	c := testCert(t)
	if _, err := c.MarshalPublic(Layout(0), time.Now()); err == nil {
		t.Error("MarshalPublic(Layout(0)) succeeded")
	}
}

// testCert returns a certificate for the libzmq doc client key pair.
func testCert(t testing.TB) *Certificate {
	t.Helper()
	sec, err := ParseSecretKey(libzmqPairs[1].secret)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := sec.PublicKey()
	return &Certificate{Public: pub, Secret: &sec, Metadata: append([]MetadataEntry(nil), goldenMeta...)}
}

// TestMarshalRoundTrip checks that values needing care come back unchanged
// in both layouts.
func TestMarshalRoundTrip(t *testing.T) {
	values := []string{
		"", "plain", "with space", " leading", "trailing ", "\ttab\t", "a # b", "#",
		`say "hi"`, `"quoted"`, "it's", "'single'", "ünïcødé", "=", "a = b", "\xff",
	}
	for _, layout := range []Layout{LayoutCZMQ, LayoutPyzmq} {
		c := testCert(t)
		c.Metadata = nil
		for i, v := range values {
			c.Metadata = append(c.Metadata, MetadataEntry{Name: "m" + string(rune('a'+i)), Value: v})
		}
		data, err := c.MarshalSecret(layout, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseCertificate(data)
		if err != nil {
			t.Fatalf("%v: %v\n%s", layout, err, data)
		}
		if diff := cmp.Diff(c, got); diff != "" {
			t.Errorf("%v: round trip (-want +got):\n%s", layout, diff)
		}
		data, err = c.MarshalPublic(layout, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		got, err = ParseCertificate(data)
		if err != nil {
			t.Fatal(err)
		}
		want := &Certificate{Public: c.Public}
		if layout == LayoutCZMQ {
			want.Metadata = c.Metadata
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%v: public round trip (-want +got):\n%s", layout, diff)
		}
	}
}

// TestMarshalQuoting pins how each layout writes values.
func TestMarshalQuoting(t *testing.T) {
	tests := []struct {
		value       string
		czmq, pyzmq string
	}{
		{"v", `    k = "v"`, `    k = v`},
		{"", `    k = ""`, `    k = `},
		{"a # b", `    k = "a # b"`, `    k = "a # b"`},
		{`say "hi"`, `    k = 'say "hi"'`, `    k = say "hi"`},
		{`"hi"`, `    k = '"hi"'`, `    k = '"hi"'`},
		{"it's", `    k = "it's"`, `    k = it's`},
		{"'x'", `    k = "'x'"`, `    k = "'x'"`},
		{" x", `    k = " x"`, `    k = " x"`},
	}
	c := testCert(t)
	for _, tt := range tests {
		c.Metadata = []MetadataEntry{{"k", tt.value}}
		for _, f := range []struct {
			layout Layout
			want   string
		}{{LayoutCZMQ, tt.czmq}, {LayoutPyzmq, tt.pyzmq}} {
			data, err := c.MarshalSecret(f.layout, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(data, []byte("\nmetadata\n"+f.want+"\ncurve\n")) {
				t.Errorf("%v value %q: want line %q in\n%s", f.layout, tt.value, f.want, data)
			}
		}
	}
}

func TestMarshalErrors(t *testing.T) {
	tests := []struct {
		name  string
		md    []MetadataEntry
		match string
	}{
		{"both quotes", []MetadataEntry{{"k", `it's "x"`}}, `cert: metadata "k": value contains both kinds of quote`},
		{"newline", []MetadataEntry{{"k", "a\nb"}}, `cert: metadata "k": control character "\n" in value`},
		{"carriage return", []MetadataEntry{{"k", "a\rb"}}, `control character "\r"`},
		{"NUL", []MetadataEntry{{"k", "a\x00b"}}, `control character "\x00"`},
		{"empty name", []MetadataEntry{{"", "v"}}, `cert: metadata "": empty name`},
		{"space in name", []MetadataEntry{{"a b", "v"}}, `cert: metadata "a b": character " " is not allowed in a name`},
		{"equals in name", []MetadataEntry{{"a=b", "v"}}, `character "=" is not allowed`},
		{"newline in name", []MetadataEntry{{"a\nb", "v"}}, `character "\n" is not allowed`},
		{"slash first", []MetadataEntry{{"/a", "v"}}, `name starts or ends with "/"`},
		{"slash last", []MetadataEntry{{"a/", "v"}}, `name starts or ends with "/"`},
		{"duplicate", []MetadataEntry{{"a", "1"}, {"a", "2"}}, `cert: metadata "a": duplicate name`},
		{"public-key name", []MetadataEntry{{"public-key-old", "v"}}, `would be read as a key by pyzmq`},
		{"secret-key name", []MetadataEntry{{"secret-key", "v"}}, `would be read as a key by pyzmq`},
	}
	for _, tt := range tests {
		c := testCert(t)
		c.Metadata = tt.md
		for _, layout := range []Layout{LayoutCZMQ, LayoutPyzmq} {
			for _, marshal := range []func(Layout, time.Time) ([]byte, error){c.MarshalPublic, c.MarshalSecret} {
				_, err := marshal(layout, time.Now())
				if !errors.Is(err, ErrInvalidMetadata) {
					t.Errorf("%s: error %v, want ErrInvalidMetadata", tt.name, err)
					continue
				}
				if !strings.Contains(err.Error(), tt.match) {
					t.Errorf("%s: error %q does not contain %q", tt.name, err, tt.match)
				}
			}
		}
	}

	c := testCert(t)
	c.Secret = nil
	if _, err := c.MarshalSecret(LayoutCZMQ, time.Now()); err == nil {
		t.Error("MarshalSecret without a secret key succeeded")
	}
	c = testCert(t)
	c.Public[0] ^= 1
	if _, err := c.MarshalSecret(LayoutCZMQ, time.Now()); !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("MarshalSecret with mismatched keys: error %v, want ErrKeyMismatch", err)
	}
}

// validCZMQ is a secret certificate in CZMQ layout for the malformed-file
// table, with line numbers:
//
//	1  comment
//	2  (blank)
//	3  metadata
//	4      name = "example-client"
//	5  curve
//	6      public-key = ...
//	7      secret-key = ...
func validCZMQ() string {
	return "#   ZeroMQ CURVE **Secret** Certificate\n" +
		"\n" +
		"metadata\n" +
		"    name = \"example-client\"\n" +
		"curve\n" +
		"    public-key = \"" + libzmqPairs[1].public + "\"\n" +
		"    secret-key = \"" + libzmqPairs[1].secret + "\"\n"
}

func TestParseAccepts(t *testing.T) {
	valid := validCZMQ()
	tests := []struct {
		name string
		data string
		meta []MetadataEntry
	}{
		{"valid", valid, []MetadataEntry{{"name", "example-client"}}},
		{"CRLF", strings.ReplaceAll(valid, "\n", "\r\n"), []MetadataEntry{{"name", "example-client"}}},
		{"no final newline", strings.TrimSuffix(valid, "\n"), []MetadataEntry{{"name", "example-client"}}},
		{"trailing spaces and tabs", strings.ReplaceAll(valid, "\n", " \t\n"), []MetadataEntry{{"name", "example-client"}}},
		{"indented comment and comments after values", strings.Replace(valid, "metadata\n", "metadata # m\n        # deep comment\n", 1) +
			"# end\n", []MetadataEntry{{"name", "example-client"}}},
		{"single quotes and blanks around =", strings.Replace(valid, `name = "example-client"`, "name\t=  'a \"b\"'  # c", 1),
			[]MetadataEntry{{"name", `a "b"`}}},
		{"unquoted value cut at #", strings.Replace(valid, `name = "example-client"`, "name = a b # c", 1),
			[]MetadataEntry{{"name", "a b"}}},
		{"empty values", strings.Replace(valid, `    name = "example-client"`, "    a =\n    b = \"\"\n    c", 1),
			[]MetadataEntry{{"a", ""}, {"b", ""}, {"c", ""}}},
		{"unknown section ignored", valid + "other\n    x = 1\n        y = 2\n", []MetadataEntry{{"name", "example-client"}}},
		{"unknown curve entry ignored", strings.Replace(valid, "curve\n", "curve\n    future = x\n", 1), []MetadataEntry{{"name", "example-client"}}},
		{"curve first", "curve\n    public-key = \"" + libzmqPairs[1].public + "\"\nmetadata\n    a = b\n", []MetadataEntry{{"a", "b"}}},
		{"no metadata section", "curve\n    public-key = \"" + libzmqPairs[1].public + "\"\n", nil},
		{"metadata name with key prefix", strings.Replace(valid, "    name", "    public-key-old", 1), []MetadataEntry{{"public-key-old", "example-client"}}},
	}
	for _, tt := range tests {
		c, err := ParseCertificate([]byte(tt.data))
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if c.Public.String() != libzmqPairs[1].public {
			t.Errorf("%s: public key %v", tt.name, c.Public)
		}
		if diff := cmp.Diff(tt.meta, c.Metadata, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: Metadata (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestParseErrors(t *testing.T) {
	valid := validCZMQ()
	pub, sec := libzmqPairs[1].public, libzmqPairs[1].secret
	otherSec := libzmqPairs[0].secret
	replace := func(old, new string) string {
		if !strings.Contains(valid, old) {
			t.Fatalf("%q not in the valid file", old)
		}
		return strings.Replace(valid, old, new, 1)
	}
	tests := []struct {
		name    string
		data    string
		line    int
		col     int
		msg     string
		wantErr error // optional: errors.Is target
	}{
		{"tab indentation", replace("    name", "\tname"), 4, 1, "tab in indentation", nil},
		{"tab after spaces", replace("    name", "  \tname"), 4, 3, "tab in indentation", nil},
		{"indent of 3", replace("    name", "   name"), 4, 4, "indentation of 3 spaces is not a multiple of 4", nil},
		{"indent of 2 on key", replace("    public-key", "  public-key"), 6, 3, "indentation of 2 spaces is not a multiple of 4", nil},
		{"depth jump", replace("    name", "        name"), 4, 9, "indentation jumps from level 0 to level 2", nil},
		{"indented first line", "    metadata\n", 1, 5, "first name line is indented", nil},
		{"nested in metadata", replace("    name = \"example-client\"\n", "    name = \"example-client\"\n        sub = x\n"), 5, 9,
			"name nested too deeply in section metadata", nil},
		{"unterminated quote", replace(`"example-client"`, `"example-client`), 4, 12, "unterminated quoted value", nil},
		{"unterminated single quote", replace(`"example-client"`, `'example-client"`), 4, 12, "unterminated quoted value", nil},
		{"text after quote", replace(`"example-client"`, `"example" client`), 4, 22, "unexpected character after quoted value", nil},
		{"bad name character", replace("    name =", "    na!me ="), 4, 7, `unexpected character after name (want "=" or end of line)`, nil},
		{"no name", replace("    name =", "    = "), 4, 5, "expected a name", nil},
		{"name ends with slash", replace("    name =", "    name/ ="), 4, 5, `name starts or ends with "/"`, nil},
		{"control character", replace("example-client", "example\x01client"), 4, 20, "control character", nil},
		{"bare CR", replace("example-client\"\n", "example-client\"\rcurve\n"), 4, 28, "control character", nil},
		{"39-char public key", replace(pub, pub[:39]), 6, 19, "curve/public-key: 39 characters, want 40", ErrZ85Length},
		{"41-char public key", replace(pub, pub+"0"), 6, 19, "curve/public-key: 41 characters, want 40", ErrZ85Length},
		{"bad Z85 character in public key", replace(pub, pub[:3]+"~"+pub[4:]), 6, 22, "curve/public-key: invalid character at offset 3", ErrZ85Char},
		{"overflow in public key", replace(pub, "%nSc1"+pub[5:]), 6, 19, "curve/public-key: group at offset 0 exceeds 0xFFFFFFFF", ErrZ85Overflow},
		{"bad Z85 character in secret key", replace(sec, sec[:5]+"~"+sec[6:]), 7, 24, "curve/secret-key: invalid character at offset 5", ErrZ85Char},
		{"39-char secret key", replace(sec, sec[:39]), 7, 19, "curve/secret-key: 39 characters, want 40", ErrZ85Length},
		{"no public key", replace("    public-key = \""+pub+"\"\n", ""), 0, 0, "no curve/public-key", nil},
		{"public key in metadata only", strings.Replace(replace("curve\n    public-key = \""+pub+"\"\n", "curve\n"),
			"    name", "    public-key = \""+pub+"\"\n    name", 1), 0, 0, "no curve/public-key", nil},
		{"empty file", "", 0, 0, "no curve/public-key", nil},
		{"secret does not match public", replace(sec, otherSec), 7, 19, "curve/secret-key does not belong to curve/public-key", ErrKeyMismatch},
		{"duplicate public key", replace("    secret-key", "    public-key = \""+pub+"\"\n    secret-key"), 7, 5,
			"duplicate curve/public-key (first on line 6)", nil},
		{"duplicate secret key", valid + "    secret-key = \"" + sec + "\"\n", 8, 5, "duplicate curve/secret-key (first on line 7)", nil},
		{"duplicate metadata name", replace("    name = \"example-client\"\n", "    name = a\n    name = b\n"), 5, 5,
			"duplicate metadata name (first on line 4)", nil},
		{"duplicate section", valid + "metadata\n", 8, 1, "duplicate section metadata", nil},
		{"section with value", replace("curve\n", "curve = x\n"), 5, 1, "section curve has a value", nil},
	}
	for _, tt := range tests {
		c, err := ParseCertificate([]byte(tt.data))
		if err == nil {
			t.Errorf("%s: parsed: %+v", tt.name, c)
			continue
		}
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%s: error %T %v, want *ParseError", tt.name, err, err)
			continue
		}
		if pe.Line != tt.line || pe.Column != tt.col || pe.Msg != tt.msg || pe.Path != "" {
			t.Errorf("%s: got %d:%d %q, want %d:%d %q", tt.name, pe.Line, pe.Column, pe.Msg, tt.line, tt.col, tt.msg)
		}
		if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: error %v does not wrap %v", tt.name, err, tt.wantErr)
		}
		if strings.Contains(err.Error(), sec[1:6]) || strings.Contains(err.Error(), otherSec[1:6]) {
			t.Errorf("%s: error %q shows secret key text", tt.name, err)
		}
	}
}

// TestParseErrorsQuoteNothing parses files that are not certificates, each
// holding a secret token at every place an error could point, and checks
// that no error (nor its wrapped errors) shows any of it.
func TestParseErrorsQuoteNothing(t *testing.T) {
	const token = "TOKENxyz"
	pub := libzmqPairs[1].public
	for _, data := range []string{
		token + " is the first word\n",
		token + "\n",
		"x " + token + "\n",
		"metadata\n    " + token + " = 1\n    " + token + " = 2\n",
		"metadata\n    a = \"" + token + "\" " + token + "\n",
		"metadata\n    a = \"" + token + "\n",
		"curve\n    public-key = \"" + token + "\"\n",
		"curve\n    public-key = \"" + token + "~" + pub[len(token)+1:] + "\"\n",
		"curve\n    public-key = \"" + pub[:30] + "~" + token + pub[39:] + "\"\n",
		"curve\n    public-key = \"" + "%nSc1" + pub[5:] + "\"\n",
		"/" + token + "/\n",
		token + "\x01\n",
		"    " + token + "\n",
		"curve = " + token + "\n",
		"a\n        " + token + "\n",
	} {
		_, err := ParseCertificate([]byte(data))
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%q: error %v, want a *ParseError", data, err)
			continue
		}
		for e := error(pe); e != nil; e = errors.Unwrap(e) {
			if msg := e.Error(); strings.Contains(msg, token[:4]) || strings.Contains(msg, "%nSc1") || strings.Contains(msg, "~") {
				t.Errorf("%q: error %q quotes the file", data, msg)
			}
		}
	}
}

func TestParseErrorFormat(t *testing.T) {
	tests := []struct {
		e    ParseError
		want string
	}{
		{ParseError{Path: "client.key_secret", Line: 7, Column: 3, Msg: "tab in indentation"}, "cert: client.key_secret:7:3: tab in indentation"},
		{ParseError{Path: "client.key_secret", Line: 7, Msg: "tab in indentation"}, "cert: client.key_secret:7: tab in indentation"},
		{ParseError{Line: 3, Column: 9, Msg: "m"}, "cert: line 3:9: m"},
		{ParseError{Path: "client", Msg: "no curve/public-key"}, "cert: client: no curve/public-key"},
		{ParseError{Line: 3, Msg: "m"}, "cert: line 3: m"},
		{ParseError{Msg: "m"}, "cert: m"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}

	// A loaded file's errors name it.
	dir := t.TempDir()
	path := filepath.Join(dir, "client.key_secret")
	if err := os.WriteFile(path, []byte(strings.Replace(validCZMQ(), "    secret-key", "\tsecret-key", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadCertificate(path)
	if want := "cert: " + path + ":7:1: tab in indentation"; err == nil || err.Error() != want {
		t.Errorf("LoadCertificate error %v, want %s", err, want)
	}
}

func TestCertificateMetaAndClone(t *testing.T) {
	c := testCert(t)
	if v, ok := c.Meta("email"); !ok || v != "client@example.invalid" {
		t.Errorf("Meta(email) = %q, %v", v, ok)
	}
	if _, ok := c.Meta("Email"); ok {
		t.Error("Meta is not case-sensitive")
	}
	c2 := c.Clone()
	if diff := cmp.Diff(c, c2); diff != "" {
		t.Errorf("Clone differs:\n%s", diff)
	}
	c2.Metadata[0].Value = "changed"
	c2.Secret[0] ^= 1
	if c.Metadata[0].Value == "changed" || c.Secret.Z85() != libzmqPairs[1].secret {
		t.Error("Clone shares storage with the original")
	}
}

func TestCertificateKeyPair(t *testing.T) {
	c, err := LoadCertificate("testdata/czmq/client")
	if err != nil {
		t.Fatal(err)
	}
	kp, err := c.KeyPair()
	if err != nil {
		t.Fatalf("KeyPair of a secret certificate: %v", err)
	}
	if kp.Public != c.Public || kp.Secret != *c.Secret {
		t.Errorf("KeyPair = %v, want the certificate's keys", kp.Public)
	}
	if pub, err := kp.Secret.PublicKey(); err != nil || pub != kp.Public {
		t.Errorf("the secret key derives %v, %v; want %v", pub, err, kp.Public)
	}
	// The secret key is a copy.
	clear(c.Secret[:])
	if kp.Secret.IsZero() {
		t.Error("clearing the certificate's secret cleared the KeyPair's")
	}

	// A public-only certificate: a typed error, not a nil dereference.
	data, err := os.ReadFile("testdata/czmq/client")
	if err != nil {
		t.Fatal(err)
	}
	pubOnly, err := ParseCertificate(data)
	if err != nil {
		t.Fatal(err)
	}
	if pubOnly.Secret != nil {
		t.Fatal("testdata/czmq/client holds a secret key")
	}
	for _, tc := range []struct {
		path, want string
	}{
		{"", "cert: certificate has no secret key"},
		{"certs/client.key", "cert: certs/client.key: certificate has no secret key"},
	} {
		pubOnly.Path = tc.path
		kp, err := pubOnly.KeyPair()
		if !errors.Is(err, ErrNoSecretKey) {
			t.Errorf("Path %q: KeyPair error %v, want ErrNoSecretKey", tc.path, err)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("Path %q: KeyPair error %q, want %q", tc.path, err, tc.want)
		}
		if kp != (KeyPair{}) {
			t.Errorf("Path %q: KeyPair returned keys with its error", tc.path)
		}
	}
}
