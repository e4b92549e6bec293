package krbtest

import (
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// mitKeytab is a keytab as MIT 1.20's kadmin.local wrote it (ktadd
// -norandkey of alice and zmqtest/localhost in a throwaway realm whose
// keys are aes128-cts-hmac-sha256-128): version 0502, then two entries of
// 0x35 and 0x42 bytes.
const mitKeytab = "0502" +
	"00000035" + "0001" + "0009" + "5a4d54502e54455354" + "0005" + "616c696365" + "00000001" + "6b11ef32" + "01" +
	"0013" + "0010" + "f143ff5fbe177afb0d798feeb467727f" + "00000001" +
	"00000042" + "0002" + "0009" + "5a4d54502e54455354" + "0007" + "7a6d7174657374" + "0009" + "6c6f63616c686f7374" +
	"00000001" + "6b11ef32" + "01" + "0013" + "0010" + "fc572453351830bdc5994e98d994ea78" + "00000001"

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReadKeytab(t *testing.T) {
	full := mustHex(t, mitKeytab)
	want := []KeytabEntry{
		{Principal: "alice@ZMTP.TEST", NameType: 1, KVNO: 1, Etype: 19},
		{Principal: "zmqtest/localhost@ZMTP.TEST", NameType: 1, KVNO: 1, Etype: 19},
	}
	write := func(b []byte) string {
		p := filepath.Join(t.TempDir(), "k.keytab")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	got, err := ReadKeytab(write(full))
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("ReadKeytab = %+v, %v; want %+v", got, err, want)
	}

	// A hole (a negative size: a removed entry) is skipped; a 32-bit
	// version supersedes the 8-bit one; a zero 32-bit version does not.
	hole := append(slices.Clone(full[:2]), mustHex(t, "fffffff8"+"0000000000000000")...)
	hole = append(hole, full[2:]...)
	kvno := slices.Clone(full)
	copy(kvno[len(kvno)-4:], mustHex(t, "00000107"))
	zero := slices.Clone(full)
	copy(zero[len(zero)-4:], mustHex(t, "00000000"))
	for _, tc := range []struct {
		name string
		b    []byte
		kvno uint32
	}{{"hole", hole, 1}, {"kvno32", kvno, 0x107}, {"kvno32 zero", zero, 1}} {
		got, err := ReadKeytab(write(tc.b))
		if err != nil || len(got) != 2 || got[1].KVNO != tc.kvno || got[0] != want[0] {
			t.Errorf("%s: %+v, %v", tc.name, got, err)
		}
	}

	// Every truncation is an error, never a panic, except at the
	// boundaries of entries, where it is a shorter keytab.
	boundaries := map[int]int{2: 0, 2 + 4 + 0x35: 1, len(full): 2}
	for n := range len(full) {
		got, err := parseKeytab(full[:n])
		if k, ok := boundaries[n]; ok {
			if err != nil || len(got) != k {
				t.Errorf("cut at %d: %d entries, %v; want %d", n, len(got), err, k)
			}
			continue
		}
		if err == nil {
			t.Errorf("cut at %d: no error (%+v)", n, got)
		}
	}

	for name, b := range map[string][]byte{
		"version 0501":     append([]byte{5, 1}, full[2:]...),
		"hole past end":    append(slices.Clone(full), mustHex(t, "ffffff00")...),
		"no components":    mustHex(t, "0502"+"00000004"+"0000"+"0000"),
		"entry past end":   mustHex(t, "0502"+"7fffffff"+"00"),
		"component length": mustHex(t, "0502"+"00000008"+"0001"+"0001"+"41"+"00ff"+"41"),
	} {
		if _, err := ReadKeytab(write(b)); !errors.Is(err, errKeytab) {
			t.Errorf("%s: %v, want a malformed-keytab error", name, err)
		}
	}
	big := make([]byte, maxKeytab+1)
	copy(big, full)
	if _, err := ReadKeytab(write(big)); err == nil || !strings.Contains(err.Error(), "over") {
		t.Errorf("oversized keytab: %v", err)
	}
	if _, err := ReadKeytab(filepath.Join(t.TempDir(), "none")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing keytab: %v", err)
	}
}

func FuzzParseKeytab(f *testing.F) {
	full, _ := hex.DecodeString(mitKeytab)
	f.Add(full)
	f.Add(full[:40])
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := parseKeytab(b)
		if err != nil && es != nil {
			t.Fatalf("entries %+v with error %v", es, err)
		}
		for _, e := range es {
			if !strings.Contains(e.Principal, "@") {
				t.Fatalf("principal %q without a realm", e.Principal)
			}
		}
	})
}
