package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zmtpsec/zmtpsec/cert"
)

func runCmd(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestKeyPairText(t *testing.T) {
	code, out, _ := runCmd(t, "")
	lines := strings.Split(out, "\n")
	if code != 0 || len(lines) != 6 || lines[0] != "== CURVE PUBLIC KEY ==" || lines[3] != "== CURVE SECRET KEY ==" {
		t.Fatalf("code %d, output %q", code, out)
	}
	pub, err := cert.ParsePublicKey(lines[1])
	if err != nil {
		t.Fatal(err)
	}
	sec, err := cert.ParseSecretKey(lines[4])
	if err != nil {
		t.Fatal(err)
	}
	if derived, _ := sec.PublicKey(); derived != pub {
		t.Fatal("the printed keys are not a pair")
	}
}

func TestKeyPairJSON(t *testing.T) {
	code, out, _ := runCmd(t, "", "-json")
	var kp struct {
		Public string `json:"public_key"`
		Secret string `json:"secret_key"`
	}
	if err := json.Unmarshal([]byte(out), &kp); code != 0 || err != nil {
		t.Fatalf("code %d, %v: %q", code, err, out)
	}
	sec, err := cert.ParseSecretKey(kp.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if derived, _ := sec.PublicKey(); derived.String() != kp.Public {
		t.Fatal("the JSON keys are not a pair")
	}
}

// TestPublicFromSecret uses the libzmq documentation's server key pair.
func TestPublicFromSecret(t *testing.T) {
	const secret, public = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6", "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
	for _, args := range [][]string{{"-public", secret}, {"-public", "-"}} {
		code, out, errs := runCmd(t, secret+"\n", args...)
		if code != 0 || out != public+"\n" {
			t.Fatalf("%v: code %d, %q %q", args, code, out, errs)
		}
	}
	if code, _, errs := runCmd(t, "", "-public", "not a key"); code != 1 || !strings.Contains(errs, "cert:") {
		t.Fatalf("bad key: code %d, %q", code, errs)
	}
}

func TestCertificates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	const secret = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs"
	for _, tc := range []struct{ layout, pub, sec string }{
		{"pyzmq", "client.key", "client.key_secret"},
		{"czmq", "client", "client_secret"},
	} {
		code, out, errs := runCmd(t, "", "-cert", "client", "-dir", dir, "-layout", tc.layout, "-meta", "name=client", "-meta", "email=a@example.invalid", "-secret", secret)
		if code != 0 {
			t.Fatalf("%s: code %d: %s", tc.layout, code, errs)
		}
		if !strings.Contains(out, "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID") {
			t.Fatalf("%s: output %q lacks the public key", tc.layout, out)
		}
		fi, err := os.Stat(filepath.Join(dir, tc.sec))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: secret file %v %v", tc.layout, fi, err)
		}
		c, err := cert.LoadCertificate(filepath.Join(dir, tc.pub))
		if err != nil {
			t.Fatal(err)
		}
		if c.Secret == nil || c.Secret.Z85() != secret {
			t.Fatalf("%s: secret key not read back", tc.layout)
		}
		if v, ok := c.Meta("email"); !ok || v != "a@example.invalid" {
			t.Fatalf("%s: metadata %v", tc.layout, c.Metadata)
		}
		// Existing files are kept unless -force.
		if code, _, _ := runCmd(t, "", "-cert", "client", "-dir", dir, "-layout", tc.layout); code != 1 {
			t.Fatalf("%s: overwrote without -force", tc.layout)
		}
		if code, _, errs := runCmd(t, "", "-cert", "client", "-dir", dir, "-layout", tc.layout, "-force"); code != 0 {
			t.Fatalf("%s: -force: %s", tc.layout, errs)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-nosuchflag"}, {"extra"}, {"-meta", "a=b"}, {"-force"}, {"-cert", "x", "-layout", "zip"},
		{"-public", "x", "-json"}, {"-meta", "novalue", "-cert", "x"},
	} {
		if code, _, _ := runCmd(t, "", args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
