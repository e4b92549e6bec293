package cert

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSave(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 678901000, time.Local)
	for _, layout := range []Layout{LayoutCZMQ, LayoutPyzmq} {
		t.Run(layout.String(), func(t *testing.T) {
			dir := t.TempDir()
			c := testCert(t)
			pubPath, secPath, err := c.Save(dir, "client", layout, &SaveOptions{Time: now})
			if err != nil {
				t.Fatal(err)
			}
			wantPub, wantSec := layout.FileNames("client")
			if pubPath != filepath.Join(dir, wantPub) || secPath != filepath.Join(dir, wantSec) {
				t.Errorf("paths %q %q", pubPath, secPath)
			}
			checkMode(t, secPath, 0o600)
			checkMode(t, pubPath, 0o644&^umask())
			for path, marshal := range map[string]func(Layout, time.Time) ([]byte, error){
				pubPath: c.MarshalPublic, secPath: c.MarshalSecret,
			} {
				want, _ := marshal(layout, now)
				got, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(string(want), string(got)); diff != "" {
					t.Errorf("%s (-want +got):\n%s", path, diff)
				}
			}
			loaded, err := LoadCertificate(pubPath)
			if err != nil {
				t.Fatal(err)
			}
			c.Path = secPath
			if diff := cmp.Diff(c, loaded); diff != "" {
				t.Errorf("loaded (-want +got):\n%s", diff)
			}

			// Without Overwrite, nothing is replaced.
			before, _ := os.ReadFile(secPath)
			other := testCert(t)
			other.Metadata = nil
			if _, _, err := other.Save(dir, "client", layout, nil); !errors.Is(err, fs.ErrExist) {
				t.Errorf("second Save: error %v, want fs.ErrExist", err)
			}
			if after, _ := os.ReadFile(secPath); string(after) != string(before) {
				t.Error("second Save changed the secret file")
			}

			// With Overwrite, both files are replaced and modes are kept.
			os.Chmod(secPath, 0o644)
			if _, _, err := other.Save(dir, "client", layout, &SaveOptions{Overwrite: true}); err != nil {
				t.Fatalf("Save with Overwrite: %v", err)
			}
			checkMode(t, secPath, 0o600)
			checkMode(t, pubPath, 0o644)
			loaded, err = LoadCertificate(pubPath)
			if err != nil {
				t.Fatal(err)
			}
			if len(loaded.Metadata) != 0 {
				t.Errorf("overwritten certificate has metadata %v", loaded.Metadata)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 2 {
				t.Errorf("directory holds %d entries, want 2 (temporary files left?)", len(entries))
			}
		})
	}
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	if runtime.GOOS == "windows" {
		return
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s has mode %v, want %v", path, got, want)
	}
}

func TestSaveSecondFileFails(t *testing.T) {
	dir := t.TempDir()
	// A directory where the public file should go makes the second write
	// fail; the secret file written first must be removed.
	if err := os.Mkdir(filepath.Join(dir, "client"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, _, err := testCert(t).Save(dir, "client", LayoutCZMQ, nil); err == nil {
		t.Fatal("Save succeeded")
	}
	if _, err := os.Lstat(filepath.Join(dir, "client_secret")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("secret file left behind: %v", err)
	}
}

func TestSavePublicOnly(t *testing.T) {
	dir := t.TempDir()
	c := testCert(t)
	c.Secret = nil
	pubPath, secPath, err := c.Save(dir, "client", LayoutPyzmq, nil)
	if err != nil || secPath != "" {
		t.Fatalf("Save = %q, %q, %v", pubPath, secPath, err)
	}
	loaded, err := LoadCertificate(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Secret != nil || loaded.Public != c.Public || len(loaded.Metadata) != 0 {
		t.Errorf("loaded %+v", loaded)
	}

	// A secret file beside the public one would be read instead: refuse.
	dir = t.TempDir()
	if _, _, err := testCert(t).Save(dir, "client", LayoutCZMQ, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Save(dir, "client", LayoutCZMQ, &SaveOptions{Overwrite: true}); err == nil {
		t.Error("public-only Save beside a secret file succeeded")
	}
}

func TestSaveBadName(t *testing.T) {
	dir := t.TempDir()
	c := testCert(t)
	for _, name := range []string{"", ".", "..", ".hidden", "a/b", "a\x00b"} {
		if _, _, err := c.Save(dir, name, LayoutCZMQ, nil); err == nil || !strings.HasPrefix(err.Error(), "cert: ") {
			t.Errorf("Save(%q) error %v", name, err)
		}
	}
	if _, _, err := c.Save(dir, "x_secret", LayoutCZMQ, nil); err == nil {
		t.Error(`Save("x_secret", LayoutCZMQ) succeeded`)
	}
	if _, _, err := c.Save(dir, "x_secret", LayoutPyzmq, nil); err != nil {
		t.Errorf(`Save("x_secret", LayoutPyzmq): %v`, err)
	}
	c.Metadata = []MetadataEntry{{"k", "a\nb"}}
	if _, _, err := c.Save(dir, "m", LayoutCZMQ, nil); !errors.Is(err, ErrInvalidMetadata) {
		t.Errorf("Save with bad metadata: error %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "m")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("Save with bad metadata wrote a file")
	}
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// certText returns a certificate file for key pair i of libzmqPairs.
func certText(i int, secret bool, meta string) string {
	s := "metadata\n" + meta + "curve\n    public-key = \"" + libzmqPairs[i].public + "\"\n"
	if secret {
		s += "    secret-key = \"" + libzmqPairs[i].secret + "\"\n"
	}
	return s
}

func TestLoadCertificate(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"pub-only":           certText(0, false, "    a = 1\n"),
		"both":               certText(1, false, ""),
		"both_secret":        certText(1, true, "    a = from-secret\n"),
		"secret-only_secret": certText(2, true, ""),
		"mismatch":           certText(0, false, ""),
		"mismatch_secret":    certText(1, true, ""),
		"badsecret":          certText(0, false, ""),
		"badsecret_secret":   "\tbroken\n",
	})
	tests := []struct {
		name     string
		wantPath string
		wantKey  int
		secret   bool
		meta     string
		wantErr  string
	}{
		{name: "pub-only", wantPath: "pub-only", wantKey: 0, meta: "1"},
		{name: "both", wantPath: "both_secret", wantKey: 1, secret: true, meta: "from-secret"},
		{name: "both_secret", wantPath: "both_secret", wantKey: 1, secret: true, meta: "from-secret"},
		// Like CZMQ: NAME_secret is read even when NAME does not exist.
		{name: "secret-only", wantPath: "secret-only_secret", wantKey: 2, secret: true},
		{name: "mismatch", wantErr: "differs from"},
		{name: "badsecret", wantErr: "badsecret_secret:1:1: tab in indentation"},
		{name: "missing", wantErr: "no such file"},
	}
	for _, tt := range tests {
		c, err := LoadCertificate(filepath.Join(dir, tt.name))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "cert: ") {
				t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if c.Path != filepath.Join(dir, tt.wantPath) || c.Public.String() != libzmqPairs[tt.wantKey].public || (c.Secret != nil) != tt.secret {
			t.Errorf("%s: got %+v", tt.name, c)
		}
		if v, _ := c.Meta("a"); v != tt.meta {
			t.Errorf("%s: metadata a = %q, want %q", tt.name, v, tt.meta)
		}
	}
	if _, err := LoadCertificate(filepath.Join(dir, "mismatch")); !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("mismatch: error %v, want ErrKeyMismatch", err)
	}
	if _, err := LoadCertificate(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: error %v, want fs.ErrNotExist", err)
	}
	if _, err := LoadCertificate(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: error %v", err)
	}
	big := filepath.Join(dir, "big")
	writeFiles(t, dir, map[string]string{"big": certText(0, false, "") + "#" + strings.Repeat("x", MaxFileSize) + "\n"})
	if _, err := LoadCertificate(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("big file: error %v", err)
	}
}

func TestLoadCertificatesGolden(t *testing.T) {
	for _, dir := range []string{"pyzmq", "czmq"} {
		certs, err := LoadCertificates(filepath.Join("testdata", dir))
		if err != nil {
			t.Fatal(err)
		}
		var paths []string
		for _, c := range certs {
			paths = append(paths, filepath.Base(c.Path))
		}
		want := []string{"client_secret", "server_secret"}
		if dir == "pyzmq" {
			want = []string{"client.key_secret", "server.key_secret"}
		}
		if diff := cmp.Diff(want, paths); diff != "" {
			t.Errorf("%s: paths (-want +got):\n%s", dir, diff)
		}
	}
}

func TestLoadCertificates(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"a.key":         certText(0, false, ""),
		"b":             certText(1, false, "    n = b\n"),
		"b_secret":      certText(1, true, "    n = b-secret\n"),
		".hidden":       "not a certificate",
		"lonely_secret": certText(2, true, ""),
		"c.key_secret":  "not a certificate either",
	})
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, filepath.Join(dir, "sub"), map[string]string{"d": "garbage"})
	if runtime.GOOS != "windows" {
		if err := mkfifo(filepath.Join(dir, "fifo")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("a.key", filepath.Join(dir, "link")); err != nil {
			t.Fatal(err)
		}
	}
	certs, err := LoadCertificates(dir)
	if runtime.GOOS != "windows" {
		// The symbolic link is a second file with a's key.
		if !errors.Is(err, ErrDuplicateKey) || !strings.Contains(err.Error(), "link") {
			t.Fatalf("LoadCertificates error %v, want a duplicate key error naming link", err)
		}
		os.Remove(filepath.Join(dir, "link"))
		certs, err = LoadCertificates(dir)
	}
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range certs {
		v, _ := c.Meta("n")
		got = append(got, filepath.Base(c.Path)+" "+c.Public.String()+" "+v)
	}
	want := []string{
		"a.key " + libzmqPairs[0].public + " ",
		"b_secret " + libzmqPairs[1].public + " b-secret",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("LoadCertificates (-want +got):\n%s", diff)
	}

	// A bad file fails the whole load, naming the file.
	writeFiles(t, dir, map[string]string{"bad": "metadata\n  x = 1\n"})
	_, err = LoadCertificates(dir)
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Path != filepath.Join(dir, "bad") || pe.Line != 2 {
		t.Errorf("LoadCertificates with a bad file: error %v", err)
	}

	if _, err := LoadCertificates(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing directory: error %v", err)
	}
}

// TestReadFileRefusesNonRegular checks that ReadFile refuses, at once and
// with ErrNotRegular, whatever is not a regular file, even through a
// symbolic link, and that a link to a regular file is followed.
func TestReadFileRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := mkfifo(fifo); errors.Is(err, errors.ErrUnsupported) {
		t.Skip("no FIFOs here")
	} else if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string]string{"regular": "content"})
	for name, target := range map[string]string{"to-fifo": "fifo", "to-regular": "regular"} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, path := range []string{fifo, filepath.Join(dir, "to-fifo"), "/dev/zero", "/dev/null", dir} {
		if _, err := os.Stat(path); err != nil {
			continue // no such device here
		}
		done := make(chan error, 1)
		go func() {
			_, _, err := ReadFile(path, 1<<20)
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, ErrNotRegular) || !strings.HasPrefix(err.Error(), "cert: "+path+": not a regular file") {
				t.Errorf("ReadFile(%s): error %v, want ErrNotRegular", path, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("ReadFile(%s) blocked", path)
		}
		if _, err := StatFile(path); !errors.Is(err, ErrNotRegular) {
			t.Errorf("StatFile(%s): error %v, want ErrNotRegular", path, err)
		}
	}
	data, v, err := ReadFile(filepath.Join(dir, "to-regular"), 7)
	if err != nil || string(data) != "content" || v.Size() != 7 {
		t.Errorf("ReadFile through a link = %q, %d, %v", data, v.Size(), err)
	}
	if sv, err := StatFile(filepath.Join(dir, "to-regular")); err != nil || sv != v {
		t.Errorf("StatFile = %+v, %v; want %+v", sv, err, v)
	}
	if _, _, err := ReadFile(filepath.Join(dir, "regular"), 6); !errors.Is(err, ErrFileTooLarge) {
		t.Errorf("ReadFile over the limit: error %v, want ErrFileTooLarge", err)
	}
	if _, _, err := ReadFile(filepath.Join(dir, "missing"), 6); !errors.Is(err, fs.ErrNotExist) ||
		!strings.HasPrefix(err.Error(), "cert: ") {
		t.Errorf("ReadFile of a missing file: error %v", err)
	}
}

func TestFileVersionRecent(t *testing.T) {
	now := time.Now()
	v := FileVersion{mtime: now.Add(-time.Hour).UnixNano(), ctime: now.Add(-time.Second).UnixNano()}
	if !v.Recent(now) {
		t.Error("ctime a second ago: not recent")
	}
	if v.Recent(now.Add(RecentWindow)) {
		t.Error("ctime a window ago: recent")
	}
	if !(FileVersion{mtime: now.Add(time.Hour).UnixNano()}).Recent(now) {
		t.Error("a time in the future: not recent")
	}
}
