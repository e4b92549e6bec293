package zap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/zmtpsec/zmtpsec/cert"
	"github.com/zmtpsec/zmtpsec/internal/testhelp/testkeys"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// TestDecisions covers every decision path with its exact status, text,
// user id and metadata.
func TestDecisions(t *testing.T) {
	known := testkeys.FromSeed(t, 1)
	other := testkeys.FromSeed(t, 2)
	certDir := t.TempDir()
	saveCertPair(t, certDir, "known", cert.LayoutPyzmq, known,
		cert.MetadataEntry{Name: "name", Value: "client-one"},
		cert.MetadataEntry{Name: "org/unit", Value: "skipped: not a ZMTP name"},
		cert.MetadataEntry{Name: "X-Role", Value: "reader"})
	knownMeta := zmtp.Metadata{{Name: "name", Value: []byte("client-one")}, {Name: "X-Role", Value: []byte("reader")}}

	plain := func(a *Authenticator) {
		a.ConfigurePlain("*", map[string]string{"admin": "secret"})
		a.ConfigurePlain("app", map[string]string{"alice": "pw=1", "nopw": ""})
	}
	curve := func(a *Authenticator) {
		if err := a.ConfigureCurve("*", certDir); err != nil {
			t.Fatal(err)
		}
		if err := a.ConfigureCurve("any", CurveAllowAny); err != nil {
			t.Fatal(err)
		}
	}
	allow := func(addrs ...string) func(*Authenticator) {
		return func(a *Authenticator) {
			if err := a.Allow(addrs...); err != nil {
				t.Fatal(err)
			}
		}
	}
	deny := func(addrs ...string) func(*Authenticator) {
		return func(a *Authenticator) {
			if err := a.Deny(addrs...); err != nil {
				t.Fatal(err)
			}
		}
	}
	userID := func(f func(cert.PublicKey) string) func(*Authenticator) {
		return func(a *Authenticator) { a.SetCurveUserID(f) }
	}
	long := strings.Repeat("u", 256)
	const alice = "alice@EXAMPLE.ORG"
	principals := func(domain string, names ...string) func(*Authenticator) {
		return func(a *Authenticator) { a.ConfigureGSSAPIPrincipals(domain, names...) }
	}
	gssapi := func(domain string) func(*Authenticator) {
		return func(a *Authenticator) { a.ConfigureGSSAPI(domain, "") }
	}
	gssUserID := func(f func(string) string) func(*Authenticator) {
		return func(a *Authenticator) { a.SetGSSAPIUserID(f) }
	}

	tests := []struct {
		name  string
		setup []func(*Authenticator)
		req   *Request
		want  outcome
	}{
		// Request checks.
		{"nil request", nil, nil, no("Invalid request")},
		{"version 2.0", nil, &Request{Version: "2.0", RequestID: []byte("7"), Mechanism: "NULL"}, no("Invalid version")},
		{"empty version", nil, &Request{Mechanism: "NULL"}, no("Invalid version")},
		{"bad version before address check", []func(*Authenticator){deny("1.2.3.4")},
			&Request{Version: "1", Address: "1.2.3.4", Mechanism: "NULL"}, no("Invalid version")},

		// NULL.
		{"NULL no lists", nil, request("NULL", "", "1.2.3.4"), ok("anonymous")},
		{"NULL with credentials", nil, request("NULL", "", "1.2.3.4", []byte("x")), no("Invalid credentials")},
		{"NULL allowed", []func(*Authenticator){allow("1.2.3.4")}, request("NULL", "", "1.2.3.4"), ok("anonymous")},
		{"NULL not allowed", []func(*Authenticator){allow("1.2.3.4")}, request("NULL", "", "1.2.3.5"), no("Address not allowed")},
		{"NULL denied", []func(*Authenticator){deny("1.2.3.4")}, request("NULL", "", "1.2.3.4"), no("Address denied")},
		{"NULL not denied", []func(*Authenticator){deny("1.2.3.4")}, request("NULL", "", "1.2.3.5"), ok("anonymous")},
		{"NULL unparseable address, allow list", []func(*Authenticator){allow("0.0.0.0/0", "::/0")},
			request("NULL", "", "ipc:peer"), no("Address not allowed")},
		{"NULL unparseable address, deny list", []func(*Authenticator){deny("0.0.0.0/0", "::/0")},
			request("NULL", "", "ipc:peer"), ok("anonymous")},
		{"NULL empty address, deny list", []func(*Authenticator){deny("1.2.3.4")},
			request("NULL", "", ""), ok("anonymous")},

		// PLAIN.
		{"PLAIN no passwords", nil, plainReq("", "1.2.3.4", "admin", "secret"), no("No passwords defined")},
		{"PLAIN no passwords but CURVE", []func(*Authenticator){curve}, plainReq("", "1.2.3.4", "admin", "secret"), no("No passwords defined")},
		{"PLAIN one credential", []func(*Authenticator){plain}, request("PLAIN", "", "1.2.3.4", []byte("admin")), no("Invalid credentials")},
		{"PLAIN three credentials", []func(*Authenticator){plain},
			request("PLAIN", "", "1.2.3.4", []byte("admin"), []byte("secret"), nil), no("Invalid credentials")},
		{"PLAIN no credentials", []func(*Authenticator){plain}, request("PLAIN", "", "1.2.3.4"), no("Invalid credentials")},
		{"PLAIN username too long", []func(*Authenticator){plain}, plainReq("", "1.2.3.4", long, "x"), no("Invalid credentials")},
		{"PLAIN password too long", []func(*Authenticator){plain}, plainReq("", "1.2.3.4", "admin", long), no("Invalid credentials")},
		{"PLAIN ok", []func(*Authenticator){plain}, plainReq("*", "1.2.3.4", "admin", "secret"), ok("admin")},
		{"PLAIN empty domain falls back to *", []func(*Authenticator){plain}, plainReq("", "1.2.3.4", "admin", "secret"), ok("admin")},
		{"PLAIN other domain falls back to *", []func(*Authenticator){plain}, plainReq("web", "1.2.3.4", "admin", "secret"), ok("admin")},
		{"PLAIN own domain, no per-user fallback", []func(*Authenticator){plain},
			plainReq("app", "1.2.3.4", "admin", "secret"), no("Invalid username")},
		{"PLAIN own domain ok, '=' in password", []func(*Authenticator){plain}, plainReq("app", "1.2.3.4", "alice", "pw=1"), ok("alice")},
		{"PLAIN configured empty password", []func(*Authenticator){plain}, plainReq("app", "1.2.3.4", "nopw", ""), ok("nopw")},
		{"PLAIN configured empty password, given one", []func(*Authenticator){plain},
			plainReq("app", "1.2.3.4", "nopw", "x"), no("Invalid password")},
		{"PLAIN invalid domain", []func(*Authenticator){func(a *Authenticator) { a.ConfigurePlain("app", map[string]string{"alice": "pw"}) }},
			plainReq("web", "1.2.3.4", "alice", "pw"), no("Invalid domain")},
		{"PLAIN empty domain is not *", []func(*Authenticator){func(a *Authenticator) { a.ConfigurePlain("app", map[string]string{"alice": "pw"}) }},
			plainReq("", "1.2.3.4", "alice", "pw"), no("Invalid domain")},
		{"PLAIN empty domain configured", []func(*Authenticator){plain, func(a *Authenticator) { a.ConfigurePlain("", map[string]string{"bob": "b"}) }},
			plainReq("", "1.2.3.4", "admin", "secret"), no("Invalid username")},
		{"PLAIN empty domain configured ok", []func(*Authenticator){plain, func(a *Authenticator) { a.ConfigurePlain("", map[string]string{"bob": "b"}) }},
			plainReq("", "1.2.3.4", "bob", "b"), ok("bob")},
		{"PLAIN domain with no users", []func(*Authenticator){func(a *Authenticator) { a.ConfigurePlain("*", nil) }},
			plainReq("", "1.2.3.4", "admin", ""), no("Invalid username")},
		{"PLAIN unknown user", []func(*Authenticator){plain}, plainReq("", "1.2.3.4", "mallory", "secret"), no("Invalid username")},
		{"PLAIN unknown user, empty password (pebbe bug)", []func(*Authenticator){plain},
			plainReq("", "1.2.3.4", "mallory", ""), no("Invalid username")},
		{"PLAIN empty user, empty password", []func(*Authenticator){plain}, plainReq("", "1.2.3.4", "", ""), no("Invalid username")},
		{"PLAIN wrong password", []func(*Authenticator){plain}, plainReq("", "1.2.3.4", "admin", "Secret"), no("Invalid password")},
		{"PLAIN empty password", []func(*Authenticator){plain}, plainReq("", "1.2.3.4", "admin", ""), no("Invalid password")},
		{"PLAIN password prefix", []func(*Authenticator){plain}, plainReq("", "1.2.3.4", "admin", "secre"), no("Invalid password")},
		{"PLAIN password with suffix", []func(*Authenticator){plain}, plainReq("", "1.2.3.4", "admin", "secret\x00"), no("Invalid password")},
		{"PLAIN allowed address must authenticate", []func(*Authenticator){plain, allow("1.2.3.4")},
			plainReq("", "1.2.3.4", "admin", "wrong"), no("Invalid password")},
		{"PLAIN allowed address ok", []func(*Authenticator){plain, allow("1.2.3.4")}, plainReq("", "1.2.3.4", "admin", "secret"), ok("admin")},
		{"PLAIN not allowed address", []func(*Authenticator){plain, allow("1.2.3.4")},
			plainReq("", "1.2.3.5", "admin", "secret"), no("Address not allowed")},
		{"PLAIN denied address", []func(*Authenticator){plain, deny("1.2.3.4")}, plainReq("", "1.2.3.4", "admin", "secret"), no("Address denied")},
		{"PLAIN denied before credentials", []func(*Authenticator){plain, deny("1.2.3.4")},
			request("PLAIN", "", "1.2.3.4"), no("Address denied")},
		{"PLAIN not denied", []func(*Authenticator){plain, deny("1.2.3.4")}, plainReq("", "1.2.3.5", "admin", "secret"), ok("admin")},

		// CURVE.
		{"CURVE nothing configured", nil, curveReq("", "1.2.3.4", known.Public), no("Unknown domain")},
		{"CURVE only PLAIN configured", []func(*Authenticator){plain}, curveReq("", "1.2.3.4", known.Public), no("Unknown domain")},
		{"CURVE domain not configured, no *", []func(*Authenticator){func(a *Authenticator) {
			if err := a.ConfigureCurve("app", certDir); err != nil {
				t.Fatal(err)
			}
		}}, curveReq("web", "1.2.3.4", known.Public), no("Unknown domain")},
		{"CURVE key of 31 bytes", []func(*Authenticator){curve}, request("CURVE", "", "1.2.3.4", known.Public[:31]), no("Invalid credentials")},
		{"CURVE key of 33 bytes", []func(*Authenticator){curve},
			request("CURVE", "", "1.2.3.4", append(known.Public[:], 0)), no("Invalid credentials")},
		{"CURVE no key", []func(*Authenticator){curve}, request("CURVE", "", "1.2.3.4"), no("Invalid credentials")},
		{"CURVE two keys", []func(*Authenticator){curve},
			request("CURVE", "", "1.2.3.4", known.Public[:], known.Public[:]), no("Invalid credentials")},
		{"CURVE known key", []func(*Authenticator){curve}, curveReq("", "1.2.3.4", known.Public),
			outcome{200, "OK", known.Public.String(), knownMeta}},
		{"CURVE known key, other domain falls back", []func(*Authenticator){curve}, curveReq("web", "1.2.3.4", known.Public),
			outcome{200, "OK", known.Public.String(), knownMeta}},
		{"CURVE unknown key", []func(*Authenticator){curve}, curveReq("", "1.2.3.4", other.Public), no("Unknown key")},
		{"CURVE zero key", []func(*Authenticator){curve}, curveReq("", "1.2.3.4", cert.PublicKey{}), no("Unknown key")},
		{"CURVE allow any", []func(*Authenticator){curve}, curveReq("any", "1.2.3.4", other.Public), ok(other.Public.String())},
		{"CURVE allow any is per domain", []func(*Authenticator){func(a *Authenticator) {
			if err := a.ConfigureCurve("any", CurveAllowAny); err != nil {
				t.Fatal(err)
			}
		}}, curveReq("", "1.2.3.4", other.Public), no("Unknown domain")},
		{"CURVE allow any in *", []func(*Authenticator){func(a *Authenticator) {
			if err := a.ConfigureCurve("*", CurveAllowAny); err != nil {
				t.Fatal(err)
			}
		}}, curveReq("web", "1.2.3.4", other.Public), ok(other.Public.String())},
		{"CURVE allowed address must authenticate", []func(*Authenticator){curve, allow("1.2.3.4")},
			curveReq("", "1.2.3.4", other.Public), no("Unknown key")},
		{"CURVE not allowed address", []func(*Authenticator){curve, allow("1.2.3.4")},
			curveReq("", "1.2.3.5", known.Public), no("Address not allowed")},
		{"CURVE denied address", []func(*Authenticator){curve, deny("1.2.3.4")}, curveReq("any", "1.2.3.4", known.Public), no("Address denied")},
		{"CURVE user id hook", []func(*Authenticator){curve, userID(func(k cert.PublicKey) string { return "user-" + k.String()[:4] })},
			curveReq("", "1.2.3.4", known.Public), outcome{200, "OK", "user-" + known.Public.String()[:4], knownMeta}},
		{"CURVE user id hook, allow any", []func(*Authenticator){curve, userID(func(cert.PublicKey) string { return "anyone" })},
			curveReq("any", "1.2.3.4", known.Public), ok("anyone")},
		{"CURVE user id hook returns empty", []func(*Authenticator){curve, userID(func(cert.PublicKey) string { return "" })},
			curveReq("any", "1.2.3.4", known.Public), ok("")},
		{"CURVE user id hook reset", []func(*Authenticator){curve, userID(func(cert.PublicKey) string { return "x" }), userID(nil)},
			curveReq("any", "1.2.3.4", known.Public), ok(known.Public.String())},
		{"CURVE user id hook panics", []func(*Authenticator){curve, userID(func(cert.PublicKey) string { panic("boom") })},
			curveReq("", "1.2.3.4", known.Public), internal},
		{"CURVE user id hook too long", []func(*Authenticator){curve, userID(func(cert.PublicKey) string { return long })},
			curveReq("any", "1.2.3.4", known.Public), internal},
		{"CURVE user id hook not called on refusal", []func(*Authenticator){curve, userID(func(cert.PublicKey) string { panic("boom") })},
			curveReq("", "1.2.3.4", other.Public), no("Unknown key")},

		// GSSAPI.
		{"GSSAPI principal", nil, request("GSSAPI", "", "1.2.3.4", []byte("alice@EXAMPLE.ORG")), ok("alice@EXAMPLE.ORG")},
		{"GSSAPI no principal", nil, request("GSSAPI", "", "1.2.3.4"), no("Invalid credentials")},
		{"GSSAPI principal too long", nil, request("GSSAPI", "", "1.2.3.4", []byte(long)), no("Invalid credentials")},
		{"GSSAPI denied", []func(*Authenticator){deny("1.2.3.4")}, request("GSSAPI", "", "1.2.3.4", []byte("a")), no("Address denied")},
		{"GSSAPI empty principal", nil, request("GSSAPI", "", "1.2.3.4", []byte{}), no("Invalid credentials")},
		{"GSSAPI two credentials", nil, request("GSSAPI", "", "1.2.3.4", []byte("a@R"), []byte("b@R")), no("Invalid credentials")},
		{"GSSAPI listed", []func(*Authenticator){principals("*", alice, "bob@EXAMPLE.ORG")},
			request("GSSAPI", "web", "1.2.3.4", []byte(alice)), ok(alice)},
		{"GSSAPI not listed", []func(*Authenticator){principals("*", alice)},
			request("GSSAPI", "", "1.2.3.4", []byte("mallory@EXAMPLE.ORG")), no("Unknown principal")},
		{"GSSAPI list is case-sensitive (user)", []func(*Authenticator){principals("*", alice)},
			request("GSSAPI", "", "1.2.3.4", []byte("Alice@EXAMPLE.ORG")), no("Unknown principal")},
		{"GSSAPI list is case-sensitive (realm)", []func(*Authenticator){principals("*", alice)},
			request("GSSAPI", "", "1.2.3.4", []byte("alice@example.org")), no("Unknown principal")},
		{"GSSAPI list matches exactly", []func(*Authenticator){principals("*", alice)},
			request("GSSAPI", "", "1.2.3.4", []byte("alice")), no("Unknown principal")},
		{"GSSAPI empty list lets nobody in", []func(*Authenticator){principals("*")},
			request("GSSAPI", "", "1.2.3.4", []byte(alice)), no("Unknown principal")},
		{"GSSAPI list of another domain, no *", []func(*Authenticator){principals("app", alice)},
			request("GSSAPI", "web", "1.2.3.4", []byte("mallory@EXAMPLE.ORG")), ok("mallory@EXAMPLE.ORG")},
		{"GSSAPI ConfigureGSSAPI opens a domain", []func(*Authenticator){principals("*", alice), gssapi("web")},
			request("GSSAPI", "web", "1.2.3.4", []byte("mallory@EXAMPLE.ORG")), ok("mallory@EXAMPLE.ORG")},
		{"GSSAPI ConfigureGSSAPI leaves * alone", []func(*Authenticator){principals("*", alice), gssapi("web")},
			request("GSSAPI", "app", "1.2.3.4", []byte("mallory@EXAMPLE.ORG")), no("Unknown principal")},
		{"GSSAPI list replaces ConfigureGSSAPI", []func(*Authenticator){gssapi("*"), principals("*", alice)},
			request("GSSAPI", "", "1.2.3.4", []byte("mallory@EXAMPLE.ORG")), no("Unknown principal")},
		{"GSSAPI ConfigureGSSAPI replaces a list", []func(*Authenticator){principals("*", alice), gssapi("*")},
			request("GSSAPI", "", "1.2.3.4", []byte("mallory@EXAMPLE.ORG")), ok("mallory@EXAMPLE.ORG")},
		{"GSSAPI allowed address must be listed", []func(*Authenticator){principals("*", alice), allow("1.2.3.4")},
			request("GSSAPI", "", "1.2.3.4", []byte("mallory@EXAMPLE.ORG")), no("Unknown principal")},
		{"GSSAPI listed, not allowed address", []func(*Authenticator){principals("*", alice), allow("1.2.3.4")},
			request("GSSAPI", "", "1.2.3.5", []byte(alice)), no("Address not allowed")},
		{"GSSAPI user id hook", []func(*Authenticator){gssUserID(func(p string) string { u, _, _ := strings.Cut(p, "@"); return u })},
			request("GSSAPI", "", "1.2.3.4", []byte(alice)), ok("alice")},
		{"GSSAPI user id hook reset", []func(*Authenticator){gssUserID(func(string) string { return "x" }), gssUserID(nil)},
			request("GSSAPI", "", "1.2.3.4", []byte(alice)), ok(alice)},
		{"GSSAPI user id hook panics", []func(*Authenticator){gssUserID(func(string) string { panic("boom") })},
			request("GSSAPI", "", "1.2.3.4", []byte(alice)), internal},
		{"GSSAPI user id hook too long", []func(*Authenticator){gssUserID(func(string) string { return long })},
			request("GSSAPI", "", "1.2.3.4", []byte(alice)), internal},
		{"GSSAPI user id hook not called on refusal", []func(*Authenticator){principals("*", alice), gssUserID(func(string) string { panic("boom") })},
			request("GSSAPI", "", "1.2.3.4", []byte("mallory@EXAMPLE.ORG")), no("Unknown principal")},

		// Any other mechanism: the address lists decide.
		{"unknown mechanism, no lists", nil, request("X-AUTH", "", "1.2.3.4"), no("NO ACCESS")},
		{"lower-case null is unknown", nil, request("null", "", "1.2.3.4"), no("NO ACCESS")},
		{"unknown mechanism, allowed", []func(*Authenticator){allow("1.2.3.4")}, request("X-AUTH", "", "1.2.3.4"), ok("anonymous")},
		{"unknown mechanism, not allowed", []func(*Authenticator){allow("1.2.3.4")},
			request("X-AUTH", "", "1.2.3.5"), no("Address not allowed")},
		{"unknown mechanism, not denied", []func(*Authenticator){deny("1.2.3.4")}, request("X-AUTH", "", "1.2.3.5"), ok("anonymous")},
		{"unknown mechanism, denied", []func(*Authenticator){deny("1.2.3.4")}, request("X-AUTH", "", "1.2.3.4"), no("Address denied")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAuth(t)
			for _, f := range tt.setup {
				f(a)
			}
			got := decide(t, a, tt.req)
			if diff := cmp.Diff(tt.want, got, cmpEmpty); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestZeroValueAuthenticator(t *testing.T) {
	var a Authenticator
	if got := decide(t, &a, request("NULL", "", "::1")); !same(got, ok("anonymous")) {
		t.Errorf("NULL: %+v", got)
	}
	a.ConfigurePlain("*", map[string]string{"u": "p"})
	if got := decide(t, &a, plainReq("", "::1", "u", "p")); !same(got, ok("u")) {
		t.Errorf("PLAIN: %+v", got)
	}
}

func TestReplyEchoesRequestID(t *testing.T) {
	a := newAuth(t)
	for _, id := range [][]byte{nil, {}, []byte("1"), []byte("\x00\xff"), bytes.Repeat([]byte("r"), 255)} {
		for _, req := range []*Request{
			{Version: Version, RequestID: id, Mechanism: "NULL"},
			{Version: Version, RequestID: id, Mechanism: "PLAIN"},
			{Version: "0.9", RequestID: id, Mechanism: "NULL"},
		} {
			rep, err := a.Authenticate(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(rep.RequestID, id) || rep.Version != Version {
				t.Errorf("request id %q: reply version %q, id %q", id, rep.Version, rep.RequestID)
			}
			// The reply must not alias the request.
			if len(id) > 0 && len(rep.RequestID) > 0 && &rep.RequestID[0] == &req.RequestID[0] {
				t.Errorf("reply request id aliases the request's")
			}
		}
	}
}

func TestAuthenticateThroughAsk(t *testing.T) {
	a := newAuth(t)
	a.ConfigurePlain("*", map[string]string{"admin": "secret"})
	a.SetCurveUserID(func(cert.PublicKey) string { panic("hook") })
	if err := a.ConfigureCurve("*", CurveAllowAny); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		req     *Request
		want    StatusCode
		wantErr bool
	}{
		{plainReq("", "1.2.3.4", "admin", "secret"), 200, false},
		{plainReq("", "1.2.3.4", "admin", "nope"), 400, false},
		{curveReq("", "1.2.3.4", cert.PublicKey{1}), 500, false},
	} {
		rep, err := Ask(context.Background(), a, tt.req)
		if rep.StatusCode != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("%s: Ask = %d, %v; want %d, error %v", tt.req.Mechanism, rep.StatusCode, err, tt.want, tt.wantErr)
		}
	}
}

func TestAddressMatching(t *testing.T) {
	tests := []struct {
		entry string
		addr  string
		match bool
	}{
		{"1.2.3.4", "1.2.3.4", true},
		{"1.2.3.4", "1.2.3.5", false},
		{"1.2.3.4", "::ffff:1.2.3.4", true},
		{"::ffff:1.2.3.4", "1.2.3.4", true},
		{"::ffff:1.2.3.4", "::ffff:1.2.3.4", true},
		{"1.2.3.4", "::1.2.3.4", false}, // IPv4-compatible, not IPv4-mapped
		{"2001:db8::1", "2001:DB8:0::1", true},
		{"2001:DB8:0:0:0:0:0:1", "2001:db8::1", true},
		{"2001:db8::1", "2001:db8::2", false},
		{"::1", "::1", true},
		{"::1", "127.0.0.1", false},
		{"fe80::1%eth0", "fe80::1", true},
		{"fe80::1", "fe80::1%eth1", true},
		{"10.0.0.0/8", "10.255.1.2", true},
		{"10.0.0.0/8", "11.0.0.1", false},
		{"10.0.0.0/8", "::ffff:10.1.1.1", true},
		{"10.1.2.3/8", "10.9.9.9", true}, // host bits are cleared
		{"192.168.1.0/24", "192.168.1.255", true},
		{"192.168.1.0/24", "192.168.2.0", false},
		{"1.2.3.4/32", "1.2.3.4", true},
		{"0.0.0.0/0", "203.0.113.9", true},
		{"0.0.0.0/0", "::1", false},
		{"2001:db8::/32", "2001:db8:ffff::1", true},
		{"2001:db8::/32", "2001:db9::1", false},
		{"::ffff:10.0.0.0/104", "10.1.1.1", true},
		{"::ffff:10.0.0.0/104", "11.1.1.1", false},
		{"::ffff:0:0/96", "198.51.100.7", true},
		{"::/0", "198.51.100.7", true}, // covers IPv4 through its mapped form
		{"::/0", "2001:db8::1", true},
		{"1.2.3.4", "1.2.3.4:5555", true},
		{"::1", "[::1]:5555", true},
		{"1.2.3.4", "", false},
		{"1.2.3.4", "localhost", false},
		{"1.2.3.4", " 1.2.3.4", false},
	}
	for _, tt := range tests {
		t.Run(tt.entry+"~"+tt.addr, func(t *testing.T) {
			a := newAuth(t)
			if err := a.Allow(tt.entry); err != nil {
				t.Fatal(err)
			}
			want := no("Address not allowed")
			if tt.match {
				want = ok("anonymous")
			}
			if got := decide(t, a, request("NULL", "", tt.addr)); !same(got, want) {
				t.Errorf("allow %q, address %q: got %+v, want %+v", tt.entry, tt.addr, got, want)
			}

			d := NewAuthenticator()
			if err := d.Deny(tt.entry); err != nil {
				t.Fatal(err)
			}
			want = ok("anonymous")
			if tt.match {
				want = no("Address denied")
			}
			if got := decide(t, d, request("NULL", "", tt.addr)); !same(got, want) {
				t.Errorf("deny %q, address %q: got %+v, want %+v", tt.entry, tt.addr, got, want)
			}
		})
	}
}

func TestBadAddresses(t *testing.T) {
	for _, bad := range []string{
		"", " ", "localhost", "host.example", "1.2.3", "1.2.3.4.5", "256.1.1.1",
		"1.2.3.4:80", "[::1]", "[::1]:80", "10.0.0.0/33", "::1/129", "1.2.3.4/",
		"/8", "10.0.0.0/-1", "1.2.3.4 ", "fe80::1%", "fe80::1%eth0/64", "01.2.3.4",
	} {
		for name, f := range map[string]func(*Authenticator, ...string) error{
			"Allow": (*Authenticator).Allow,
			"Deny":  (*Authenticator).Deny,
		} {
			a := newAuth(t)
			err := f(a, "10.0.0.1", bad)
			if err == nil {
				t.Errorf("%s(%q) succeeded", name, bad)
				continue
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("%q", bad)) {
				t.Errorf("%s(%q): error %q does not name the address", name, bad, err)
			}
			// Nothing was added: the good address is not on a list.
			if got := decide(t, a, request("NULL", "", "10.0.0.2")); !same(got, ok("anonymous")) {
				t.Errorf("%s(%q) failed but changed the lists: %+v", name, bad, got)
			}
		}
	}
}

func TestAllowAndDenyExclusive(t *testing.T) {
	a := newAuth(t)
	if err := a.Allow("10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if err := a.Deny("10.0.0.2"); !errors.Is(err, ErrAllowAndDeny) {
		t.Errorf("Deny after Allow: %v, want ErrAllowAndDeny", err)
	}
	if err := a.Deny(); !errors.Is(err, ErrAllowAndDeny) {
		t.Errorf("Deny() after Allow: %v, want ErrAllowAndDeny", err)
	}
	// The deny list was not set: 10.0.0.2 is simply not allowed.
	if got := decide(t, a, request("NULL", "", "10.0.0.2")); !same(got, no("Address not allowed")) {
		t.Errorf("after failed Deny: %+v", got)
	}
	if err := a.Allow("10.0.0.2", "10.0.0.1"); err != nil {
		t.Errorf("second Allow: %v", err)
	}
	if got := decide(t, a, request("NULL", "", "10.0.0.2")); !same(got, ok("anonymous")) {
		t.Errorf("after second Allow: %+v", got)
	}

	d := NewAuthenticator()
	if err := d.Deny("10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if err := d.Allow("10.0.0.2"); !errors.Is(err, ErrAllowAndDeny) {
		t.Errorf("Allow after Deny: %v, want ErrAllowAndDeny", err)
	}
	if got := decide(t, d, request("NULL", "", "10.0.0.3")); !same(got, ok("anonymous")) {
		t.Errorf("after failed Allow: %+v", got)
	}

	// A bad address is reported before the conflict.
	if err := d.Allow("bogus"); err == nil || errors.Is(err, ErrAllowAndDeny) || !strings.Contains(err.Error(), `"bogus"`) {
		t.Errorf("Allow(bogus) after Deny: %v", err)
	}
	// Empty calls with no other list are fine.
	if err := NewAuthenticator().Allow(); err != nil {
		t.Errorf("Allow(): %v", err)
	}
}

func TestDomainFallback(t *testing.T) {
	a := newAuth(t)
	a.ConfigurePlain("*", map[string]string{"star": "s"})
	a.ConfigurePlain("", map[string]string{"empty": "e"})
	a.ConfigurePlain("app", map[string]string{"app": "a"})
	tests := []struct {
		domain, user, pw string
		want             outcome
	}{
		{"*", "star", "s", ok("star")},
		{"", "empty", "e", ok("empty")},
		{"", "star", "s", no("Invalid username")},
		{"app", "app", "a", ok("app")},
		{"app", "star", "s", no("Invalid username")},
		{"other", "star", "s", ok("star")},
		{"other", "app", "a", no("Invalid username")},
		{"APP", "star", "s", ok("star")}, // domains are case-sensitive
	}
	for _, tt := range tests {
		if got := decide(t, a, plainReq(tt.domain, "::1", tt.user, tt.pw)); !same(got, tt.want) {
			t.Errorf("domain %q user %q: %+v, want %+v", tt.domain, tt.user, got, tt.want)
		}
	}

	// Reconfiguring a domain replaces it; other domains stay.
	a.ConfigurePlain("app", map[string]string{"app2": "b"})
	if got := decide(t, a, plainReq("app", "::1", "app", "a")); !same(got, no("Invalid username")) {
		t.Errorf("old user after reconfiguration: %+v", got)
	}
	if got := decide(t, a, plainReq("app", "::1", "app2", "b")); !same(got, ok("app2")) {
		t.Errorf("new user after reconfiguration: %+v", got)
	}
}

func TestConfigurePlainCopies(t *testing.T) {
	m := map[string]string{"u": "p"}
	a := newAuth(t)
	a.ConfigurePlain("*", m)
	m["u"] = "changed"
	m["v"] = "new"
	if got := decide(t, a, plainReq("", "::1", "u", "p")); !same(got, ok("u")) {
		t.Errorf("after changing the map: %+v", got)
	}
	if got := decide(t, a, plainReq("", "::1", "v", "new")); !same(got, no("Invalid username")) {
		t.Errorf("user added to the map after ConfigurePlain: %+v", got)
	}
}

func TestCheckPasswordLengths(t *testing.T) {
	long := bytes.Repeat([]byte("p"), 1<<20)
	table := newPasswordTable(map[string]string{"empty": "", "short": "x", "long": string(long)})
	tests := []struct {
		user      string
		pw        []byte
		known, ok bool
	}{
		{"empty", nil, true, true},
		{"empty", []byte{}, true, true},
		{"empty", []byte("x"), true, false},
		{"empty", long, true, false},
		{"short", nil, true, false},
		{"short", []byte("x"), true, true},
		{"short", long, true, false},
		{"long", long, true, true},
		{"long", long[1:], true, false},
		{"long", nil, true, false},
		{"nobody", nil, false, false},
		{"nobody", []byte{}, false, false},
		{"nobody", long, false, false},
		{"", nil, false, false},
	}
	for _, tt := range tests {
		known, ok := table.checkPassword(tt.user, tt.pw)
		if known != tt.known || ok != tt.ok {
			t.Errorf("checkPassword(%q, %d bytes) = %v, %v; want %v, %v", tt.user, len(tt.pw), known, ok, tt.known, tt.ok)
		}
	}
	// Through Authenticate, over-long credentials are refused before any
	// comparison.
	a := newAuth(t)
	a.ConfigurePlain("*", map[string]string{"long": string(long)})
	if got := decide(t, a, plainReq("", "::1", "long", string(long))); !same(got, no("Invalid credentials")) {
		t.Errorf("1 MiB password: %+v", got)
	}
}

func TestPasswordsNeverLogged(t *testing.T) {
	const secret = "hunter2-very-secret"
	var logs logBuffer
	a := newAuth(t)
	a.SetLogger(newLogger(&logs))
	a.ConfigurePlain("*", map[string]string{"admin": secret})
	decide(t, a, plainReq("", "1.2.3.4", "admin", secret))
	decide(t, a, plainReq("", "1.2.3.4", "admin", secret+"x"))
	decide(t, a, plainReq("", "1.2.3.4", "nobody", secret))
	decide(t, a, request("PLAIN", "", "1.2.3.4", []byte(secret)))

	path := writeFile(t, t.TempDir(), "passwords", "admin="+secret+"\n")
	if err := a.ConfigurePlainFile("file", path); err != nil {
		t.Fatal(err)
	}
	decide(t, a, plainReq("file", "1.2.3.4", "admin", secret))

	out := logs.String()
	if strings.Contains(out, "hunter2") {
		t.Errorf("a password was logged:\n%s", out)
	}
	for _, want := range []string{
		"level=DEBUG", "domain=", "address=1.2.3.4", "mechanism=PLAIN", "user=admin", "status=200", "reason=OK",
		"status=400", `reason="Invalid password"`, "user=nobody", `reason="Invalid username"`, `reason="Invalid credentials"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if n := logs.count("zap: decision"); n != 5 {
		t.Errorf("%d decisions logged, want 5:\n%s", n, out)
	}
}

func TestLoggingCurveAndInternalErrors(t *testing.T) {
	var logs logBuffer
	a := newAuth(t)
	a.SetLogger(newLogger(&logs))
	dir := t.TempDir()
	kp := testkeys.FromSeed(t, 3)
	saveCert(t, dir, "c", cert.LayoutCZMQ, kp, cert.MetadataEntry{Name: "bad$name", Value: "v"}, cert.MetadataEntry{Name: "ok", Value: "v"})
	if err := a.ConfigureCurve("*", dir); err != nil {
		t.Fatal(err)
	}
	got := decide(t, a, curveReq("", "::1", kp.Public))
	want := outcome{200, "OK", kp.Public.String(), zmtp.Metadata{{Name: "ok", Value: []byte("v")}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if !strings.Contains(logs.String(), "bad$name") || !strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("skipped metadata name not logged:\n%s", logs.String())
	}
	a.SetCurveUserID(func(cert.PublicKey) string { panic("hook exploded") })
	decide(t, a, curveReq("", "::1", kp.Public))
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "hook exploded") {
		t.Errorf("internal error not logged:\n%s", logs.String())
	}
	// Logging off again.
	a.SetLogger(nil)
	before := logs.String()
	decide(t, a, request("NULL", "", "::1"))
	if logs.String() != before {
		t.Errorf("logged after SetLogger(nil)")
	}
}

// TestLoggingGSSAPI: the principal is not a secret, and is logged as the
// user of every GSSAPI decision, accepted or not; the user id a hook makes
// of it is the reply's, not the log's user.
func TestLoggingGSSAPI(t *testing.T) {
	var logs logBuffer
	a := newAuth(t)
	a.SetLogger(newLogger(&logs))
	a.ConfigureGSSAPIPrincipals("*", "alice@EXAMPLE.ORG")
	a.SetGSSAPIUserID(func(string) string { return "uid-7" })
	if got := decide(t, a, request("GSSAPI", "d", "1.2.3.4", []byte("alice@EXAMPLE.ORG"))); !same(got, ok("uid-7")) {
		t.Errorf("accepted: %+v", got)
	}
	decide(t, a, request("GSSAPI", "d", "1.2.3.4", []byte("mallory@EXAMPLE.ORG")))
	out := logs.String()
	for _, want := range []string{
		"mechanism=GSSAPI", "user=alice@EXAMPLE.ORG", "status=200",
		"user=mallory@EXAMPLE.ORG", "status=400", `reason="Unknown principal"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	dir := t.TempDir()
	keys := []cert.KeyPair{testkeys.FromSeed(t, 10), testkeys.FromSeed(t, 11)}
	saveCert(t, dir, "k0", cert.LayoutPyzmq, keys[0])
	pwPath := writeFile(t, t.TempDir(), "passwords", "file=user\n")

	a := newAuth(t)
	a.ConfigurePlain("*", map[string]string{"admin": "secret"})
	if err := a.ConfigureCurve("*", dir); err != nil {
		t.Fatal(err)
	}
	if err := a.ConfigurePlainFile("file", pwPath); err != nil {
		t.Fatal(err)
	}
	var logs logBuffer

	const workers, rounds = 8, 200
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range workers {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var req *Request
				switch (w + i) % 5 {
				case 0:
					req = request("NULL", "", fmt.Sprintf("10.0.0.%d", i%4))
				case 1:
					req = plainReq("", "10.0.0.1", "admin", "secret")
				case 2:
					req = curveReq("", "10.0.0.1", keys[i%2].Public)
				case 3:
					req = plainReq("file", "10.0.0.1", "file", "user")
				case 4:
					req = request("X", "web", "10.0.0.1")
				}
				decide(t, a, req)
			}
		})
	}
	for i := range rounds {
		a.ConfigurePlain("*", map[string]string{"admin": fmt.Sprint("secret", i%2)})
		if err := a.Allow(fmt.Sprintf("10.0.0.%d", i%4)); err != nil {
			t.Error(err)
		}
		loc := dir
		if i%3 == 0 {
			loc = CurveAllowAny
		}
		if err := a.ConfigureCurve([]string{"*", "web"}[i%2], loc); err != nil {
			t.Error(err)
		}
		a.SetCurveUserID(func(k cert.PublicKey) string { return fmt.Sprint(i, k) })
		if i%10 == 0 {
			a.SetLogger(newLogger(&logs))
		} else if i%10 == 5 {
			a.SetLogger(nil)
		}
		if i%7 == 0 {
			saveCert(t, dir, "k1", cert.LayoutPyzmq, keys[1])
		}
		writeFile(t, pathDir(pwPath), "passwords", fmt.Sprintf("file=user\nn%d=x\n", i))
	}
	close(stop)
	wg.Wait()
}
