package zap

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/zmtpsec/zmtpsec/cert"
	"github.com/zmtpsec/zmtpsec/internal/testhelp/testkeys"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

func TestCertificateDirectoryReload(t *testing.T) {
	dir := t.TempDir()
	k1, k2, k3 := testkeys.FromSeed(t, 21), testkeys.FromSeed(t, 22), testkeys.FromSeed(t, 23)
	a := newAuth(t)
	if err := a.ConfigureCurve("*", dir); err != nil {
		t.Fatal(err)
	}
	expect := func(step string, kp cert.KeyPair, want outcome) {
		t.Helper()
		got := decideAfterReload(t, a, curveReq("", "::1", kp.Public))
		if diff := cmp.Diff(want, got, cmpEmpty); diff != "" {
			t.Errorf("%s: (-want +got):\n%s", step, diff)
		}
	}
	meta := func(v string) zmtp.Metadata { return zmtp.Metadata{{Name: "name", Value: []byte(v)}} }
	withMeta := func(kp cert.KeyPair, v string) outcome {
		return outcome{200, "OK", kp.Public.String(), meta(v)}
	}
	start := time.Now()

	expect("empty directory", k1, no("Unknown key"))

	// Added, in both layouts.
	saveCert(t, dir, "one", cert.LayoutCZMQ, k1, cert.MetadataEntry{Name: "name", Value: "one"})
	expect("added", k1, withMeta(k1, "one"))
	saveCertPair(t, dir, "two", cert.LayoutPyzmq, k2, cert.MetadataEntry{Name: "name", Value: "two"})
	expect("added pyzmq pair", k2, withMeta(k2, "two"))
	expect("added pyzmq pair", k1, withMeta(k1, "one"))

	// Changed metadata, same key.
	saveCert(t, dir, "one", cert.LayoutCZMQ, k1, cert.MetadataEntry{Name: "name", Value: "uno"})
	expect("metadata changed", k1, withMeta(k1, "uno"))

	// Replaced by another key under the same name (an atomic rename, as
	// Save with Overwrite does it).
	saveCert(t, dir, "one", cert.LayoutCZMQ, k3, cert.MetadataEntry{Name: "name", Value: "three"})
	expect("replaced: old key", k1, no("Unknown key"))
	expect("replaced: new key", k3, withMeta(k3, "three"))

	// Replaced in place, with the same size and modification time.
	p3, _ := cert.LayoutCZMQ.FileNames("one")
	p3 = filepath.Join(dir, p3)
	fi, err := os.Stat(p3)
	if err != nil {
		t.Fatal(err)
	}
	c := &cert.Certificate{Public: k1.Public, Metadata: []cert.MetadataEntry{{Name: "name", Value: "three"}}}
	data, err := c.MarshalPublic(cert.LayoutCZMQ, certTime)
	if err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(p3)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) != len(old) {
		t.Fatalf("rewrite of %d bytes, want %d", len(data), len(old))
	}
	if err := os.WriteFile(p3, data, 0o644); err != nil {
		t.Fatal(err)
	}
	setMtime(t, p3, fi.ModTime())
	expect("same size and time: new key", k1, withMeta(k1, "three"))
	expect("same size and time: old key", k3, no("Unknown key"))

	// Removed.
	if err := os.Remove(p3); err != nil {
		t.Fatal(err)
	}
	expect("removed", k1, no("Unknown key"))
	expect("removed", k3, no("Unknown key"))
	expect("kept", k2, withMeta(k2, "two"))

	if d := time.Since(start); d > time.Second {
		t.Errorf("the changes took %v to be seen", d)
	}

	// The directory itself goes away: an empty store, not an error.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	expect("directory removed", k2, no("Unknown key"))
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	saveCert(t, dir, "two", cert.LayoutPyzmq, k2)
	expect("directory back", k2, ok(k2.Public.String()))
}

func TestCertificateDirectoryBadFile(t *testing.T) {
	dir := t.TempDir()
	good, other := testkeys.FromSeed(t, 31), testkeys.FromSeed(t, 32)
	saveCert(t, dir, "good", cert.LayoutPyzmq, good)
	var logs logBuffer
	a := newAuth(t)
	a.SetLogger(newLogger(&logs))
	if err := a.ConfigureCurve("*", dir); err != nil {
		t.Fatal(err)
	}

	// A file that does not parse appears: known keys still pass, and an
	// unknown key gets 500, since it may be the one in the broken file.
	bad := writeFile(t, dir, "broken.key", "curve\n    public-key = \"not a key\"\n")
	for range 2 {
		if got := decideAfterReload(t, a, curveReq("", "::1", good.Public)); !same(got, ok(good.Public.String())) {
			t.Errorf("good key beside a broken file: %+v", got)
		}
		if got := decideAfterReload(t, a, curveReq("", "::1", other.Public)); !same(got, internal) {
			t.Errorf("unknown key beside a broken file: %+v, want %+v", got, internal)
		}
	}
	if n := logs.count("certificate directory read with errors"); n != 1 {
		t.Errorf("broken file logged %d times, want once:\n%s", n, logs.String())
	}
	if err := os.Remove(bad); err != nil {
		t.Fatal(err)
	}
	if got := decideAfterReload(t, a, curveReq("", "::1", other.Public)); !same(got, no("Unknown key")) {
		t.Errorf("after the broken file went: %+v", got)
	}
	if n := logs.count("without errors again"); n != 1 {
		t.Errorf("recovery logged %d times, want once:\n%s", n, logs.String())
	}
}

func TestConfigureCurveErrors(t *testing.T) {
	dir := t.TempDir()
	kp := testkeys.FromSeed(t, 41)
	saveCert(t, dir, "c", cert.LayoutPyzmq, kp)
	badDir := t.TempDir()
	writeFile(t, badDir, "broken", "not a certificate\n")
	file := writeFile(t, t.TempDir(), "file", "")
	for name, loc := range map[string]string{
		"missing":      filepath.Join(dir, "missing"),
		"not a dir":    file,
		"broken file":  badDir,
		"empty":        "",
		"missing star": filepath.Join(dir, "*"),
	} {
		a := newAuth(t)
		if err := a.ConfigureCurve("*", loc); err == nil {
			t.Errorf("%s: no error", name)
		}
		if got := decide(t, a, curveReq("", "::1", kp.Public)); !same(got, no("Unknown domain")) {
			t.Errorf("%s: failed ConfigureCurve configured something: %+v", name, got)
		}
		if err := a.ConfigureCurve("*", dir); err != nil {
			t.Fatal(err)
		}
		if err := a.ConfigureCurve("*", loc); err == nil {
			t.Errorf("%s: no error", name)
		}
		if got := decide(t, a, curveReq("", "::1", kp.Public)); !same(got, ok(kp.Public.String())) {
			t.Errorf("%s: failed ConfigureCurve changed the domain: %+v", name, got)
		}
	}
}

func TestConfigureCurveReplaces(t *testing.T) {
	dir := t.TempDir()
	kp, other := testkeys.FromSeed(t, 51), testkeys.FromSeed(t, 52)
	saveCert(t, dir, "c", cert.LayoutPyzmq, kp)
	a := newAuth(t)
	if err := a.ConfigureCurve("d", CurveAllowAny); err != nil {
		t.Fatal(err)
	}
	if got := decide(t, a, curveReq("d", "::1", other.Public)); !same(got, ok(other.Public.String())) {
		t.Errorf("allow any: %+v", got)
	}
	if err := a.ConfigureCurve("d", dir); err != nil {
		t.Fatal(err)
	}
	if got := decide(t, a, curveReq("d", "::1", other.Public)); !same(got, no("Unknown key")) {
		t.Errorf("directory after allow any: %+v", got)
	}
	// A directory literally called "*" is reachable as "./*".
	star := filepath.Join(t.TempDir(), "*")
	if err := os.Mkdir(star, 0o700); err != nil {
		t.Fatal(err)
	}
	saveCert(t, star, "o", cert.LayoutPyzmq, other)
	if err := a.ConfigureCurve("d", star); err != nil {
		t.Fatal(err)
	}
	if got := decide(t, a, curveReq("d", "::1", other.Public)); !same(got, ok(other.Public.String())) {
		t.Errorf("directory named *: %+v", got)
	}
	a.ConfigureGSSAPI("d", "anything") // GSSAPI's configuration of d leaves CURVE's alone
	if got := decide(t, a, curveReq("d", "::1", other.Public)); !same(got, ok(other.Public.String())) {
		t.Errorf("after ConfigureGSSAPI: %+v", got)
	}
}

func TestCertMetadataNames(t *testing.T) {
	c := &cert.Certificate{Metadata: []cert.MetadataEntry{
		{Name: "name", Value: "n"},
		{Name: "a/b", Value: "slash"},
		{Name: "a@b", Value: "at"},
		{Name: "$x", Value: "dollar"},
		{Name: "a&b", Value: "amp"},
		{Name: "X-Ok.v1+2_3", Value: ""},
		{Name: strings.Repeat("n", 256), Value: "too long"},
	}}
	want := zmtp.Metadata{{Name: "name", Value: []byte("n")}, {Name: "X-Ok.v1+2_3", Value: []byte{}}}
	if diff := cmp.Diff(want, certMetadata(c, nil), cmpEmpty); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if md := certMetadata(&cert.Certificate{}, nil); md != nil {
		t.Errorf("no metadata: %v", md)
	}
}
