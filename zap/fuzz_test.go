package zap

import (
	"bytes"
	"context"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/zmtpsec/zmtpsec/cert"
	"github.com/zmtpsec/zmtpsec/internal/testhelp/testkeys"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// Fuzz inputs are lists of frames, encoded by encodeFrames: each frame is a
// 2-byte big-endian length and its bytes.

func requestSeeds(key cert.PublicKey) [][][]byte {
	return [][][]byte{
		frames("1.0", "1", "", "127.0.0.1", "", "NULL"),
		frames("1.0", "1", "dom", "10.1.2.3", "SRV", "NULL"),
		frames("1.0", "1", "", "::1", "", "PLAIN", "admin", "secret"),
		frames("1.0", "1", "", "::1", "", "PLAIN", "admin", ""),
		frames("1.0", "1", "", "::1", "", "PLAIN", "nobody", ""),
		frames("1.0", "1", "app", "::ffff:1.2.3.4", "", "PLAIN", "empty", ""),
		frames("1.0", "1", "file", "::1", "", "PLAIN", "alice", "pw=1"),
		frames("1.0", "1", "", "::1", "", "CURVE", string(key[:])),
		frames("1.0", "1", "any", "::1", "", "CURVE", strings.Repeat("\x00", 32)),
		frames("1.0", "1", "", "::1", "", "CURVE", strings.Repeat("k", 31)),
		frames("1.0", "1", "", "::1", "", "GSSAPI", "alice@EXAMPLE.ORG"),
		frames("1.0", "1", "", "::1", "", "X-MECH"),
		frames("2.0", "1", "", "::1", "", "NULL"),
		frames("1.0", "1", "", "::1", ""),
	}
}

func replySeeds() [][][]byte {
	md := zmtp.Metadata{{Name: "X-Role", Value: []byte("reader")}, {Name: "User-Id", Value: nil}}.Append(nil)
	return [][][]byte{
		frames("1.0", "1", "200", "OK", "admin", ""),
		frames("1.0", "1", "300", "", "", ""),
		frames("1.0", "1", "400", "Invalid password", "", ""),
		frames("1.0", "", "500", "Internal error", "", ""),
		{[]byte("1.0"), []byte("1"), []byte("200"), []byte("OK"), []byte("k"), md},
		frames("1.0", "1", "201", "OK", "", ""),
		frames("1.0", "1", "200", "OK", ""),
		frames("1.1", "1", "200", "OK", "", ""),
	}
}

// FuzzAuthenticate feeds arbitrary frames through ParseRequest to a fully
// configured Authenticator: every request that parses must get a valid
// reply, never a panic, and no client may be accepted that the
// configuration does not accept.
func FuzzAuthenticate(f *testing.F) {
	known := testkeys.FromSeed(f, 1)
	dir := f.TempDir()
	saveCertPair(f, dir, "known", cert.LayoutPyzmq, known,
		cert.MetadataEntry{Name: "name", Value: "known"}, cert.MetadataEntry{Name: "a/b", Value: "skipped"})
	pwFile := writeFile(f, f.TempDir(), "passwords", "# users\nalice=pw=1\n")
	users := map[string]map[string]string{
		"*":    {"admin": "secret"},
		"app":  {"empty": ""},
		"file": {"alice": "pw=1"},
	}
	a := newAuth(f)
	a.ConfigurePlain("*", users["*"])
	a.ConfigurePlain("app", users["app"])
	if err := a.ConfigurePlainFile("file", pwFile); err != nil {
		f.Fatal(err)
	}
	if err := a.ConfigureCurve("*", dir); err != nil {
		f.Fatal(err)
	}
	if err := a.ConfigureCurve("any", CurveAllowAny); err != nil {
		f.Fatal(err)
	}
	if err := a.Deny("10.0.0.0/8", "2001:db8::/32"); err != nil {
		f.Fatal(err)
	}
	denied := func(s string) bool {
		addr, ok := requestAddr(s)
		return ok && (netip.MustParsePrefix("10.0.0.0/8").Contains(addr) || netip.MustParsePrefix("2001:db8::/32").Contains(addr))
	}

	for _, s := range requestSeeds(known.Public) {
		f.Add(encodeFrames(s...))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		req, err := ParseRequest(decodeFrames(in))
		if err != nil {
			return
		}
		rep, err := a.Authenticate(context.Background(), req)
		if err != nil {
			t.Fatalf("Authenticate: %v", err)
		}
		checkReply(t, req, rep)
		if rep.StatusCode == StatusInternalError {
			t.Fatalf("500 for %q: %q", req.Frames(), rep.StatusText)
		}
		if rep.StatusCode != StatusOK {
			return
		}
		if denied(req.Address) {
			t.Fatalf("denied address %q accepted", req.Address)
		}
		switch req.Mechanism {
		case "NULL":
			if rep.UserID != AnonymousUserID {
				t.Fatalf("NULL user id %q", rep.UserID)
			}
		case "PLAIN":
			u, p := string(req.Credentials[0]), string(req.Credentials[1])
			m := users[req.Domain]
			if m == nil {
				m = users["*"]
			}
			if pw, ok := m[u]; !ok || pw != p || rep.UserID != u {
				t.Fatalf("PLAIN %q/%q in domain %q accepted as %q", u, p, req.Domain, rep.UserID)
			}
		case "CURVE":
			key := cert.PublicKey(req.Credentials[0])
			if req.Domain != "any" && key != known.Public {
				t.Fatalf("CURVE key %s in domain %q accepted", key, req.Domain)
			}
			if rep.UserID != key.String() {
				t.Fatalf("CURVE user id %q", rep.UserID)
			}
		case "GSSAPI":
			if rep.UserID != string(req.Credentials[0]) {
				t.Fatalf("GSSAPI user id %q", rep.UserID)
			}
		default:
			t.Fatalf("mechanism %q accepted", req.Mechanism)
		}
	})
}

// FuzzParseRequest checks that a request that parses gives back the same
// frames, and that those parse to the same request.
func FuzzParseRequest(f *testing.F) {
	for _, s := range requestSeeds(testkeys.FromSeed(f, 1).Public) {
		f.Add(encodeFrames(s...))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		fr := decodeFrames(in)
		req, err := ParseRequest(fr)
		if err != nil {
			return
		}
		out := req.Frames()
		if diff := cmp.Diff(fr, out, cmpEmpty); diff != "" {
			t.Fatalf("Frames differ from the input (-in +out):\n%s", diff)
		}
		back, err := ParseRequest(out)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if diff := cmp.Diff(req, back, cmpEmpty); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}

// FuzzParseReply checks the same for replies.
func FuzzParseReply(f *testing.F) {
	for _, s := range replySeeds() {
		f.Add(encodeFrames(s...))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		fr := decodeFrames(in)
		rep, err := ParseReply(fr)
		if err != nil {
			return
		}
		if !rep.StatusCode.Valid() || rep.Version != Version {
			t.Fatalf("parsed reply %+v", rep)
		}
		out := rep.Frames()
		if diff := cmp.Diff(fr, out, cmpEmpty); diff != "" {
			t.Fatalf("Frames differ from the input (-in +out):\n%s", diff)
		}
		back, err := ParseReply(out)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if diff := cmp.Diff(rep, back, cmpEmpty); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}

// FuzzPasswordFile checks the password file parser: names are never empty,
// hold no "=" or "\n" and do not start with "#"; passwords hold no "\n";
// writing the entries back as "name=password\r\n" lines gives the same
// entries (a password may end in "\r", and the CRLF keeps it); and the
// digest table agrees with the map.
func FuzzPasswordFile(f *testing.F) {
	for _, s := range []string{
		"", "alice=secret\n", "# c\nalice=a=b\r\nbob=\n", "=x\nnoequals\n\n", "a=1\na=2", " a = b \n", "x=\r\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		m := parsePasswords(in)
		var b bytes.Buffer
		for _, name := range slices.Sorted(maps.Keys(m)) {
			pw := m[name]
			if name == "" || name[0] == '#' || strings.ContainsAny(name, "=\n") {
				t.Fatalf("bad name %q", name)
			}
			if strings.Contains(pw, "\n") {
				t.Fatalf("bad password %q", pw)
			}
			b.WriteString(name + "=" + pw + "\r\n")
		}
		if diff := cmp.Diff(m, parsePasswords(b.Bytes())); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
		if diff := cmp.Diff(newPasswordTable(m), passwordTableFromFile(in)); diff != "" {
			t.Fatalf("digest table (-map +file):\n%s", diff)
		}
	})
}
