package zap

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// writeFile writes content to dir/name in place (an existing file keeps its
// identity) and returns the path.
func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func pathDir(path string) string { return filepath.Dir(path) }

func setMtime(t testing.TB, path string, mtime time.Time) {
	t.Helper()
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func TestParsePasswords(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]string
	}{
		{"empty file", "", map[string]string{}},
		{"one line", "alice=secret\n", map[string]string{"alice": "secret"}},
		{"no final newline", "alice=secret", map[string]string{"alice": "secret"}},
		{"several", "alice=a\nbob=b\n", map[string]string{"alice": "a", "bob": "b"}},
		{"comment", "# alice=a\nbob=b\n", map[string]string{"bob": "b"}},
		{"comment only at column 0", " #alice=a\n", map[string]string{" #alice": "a"}},
		{"hash inside", "a#b=c#d\n", map[string]string{"a#b": "c#d"}},
		{"equals in password", "alice=a=b==\n", map[string]string{"alice": "a=b=="}},
		{"empty password", "alice=\n", map[string]string{"alice": ""}},
		{"line starting with =", "=secret\nbob=b\n", map[string]string{"bob": "b"}},
		{"line without =", "alice\nbob=b\n", map[string]string{"bob": "b"}},
		{"empty lines", "\n\nalice=a\n\n\nbob=b\n\n", map[string]string{"alice": "a", "bob": "b"}},
		{"no trimming", "admin = pw \n", map[string]string{"admin ": " pw "}},
		{"tab kept", "\tadmin=\tpw\n", map[string]string{"\tadmin": "\tpw"}},
		{"CRLF", "alice=a\r\nbob=b\r\n", map[string]string{"alice": "a", "bob": "b"}},
		{"CR at end of file", "alice=a\r", map[string]string{"alice": "a"}},
		{"only one CR removed", "alice=a\r\r\n", map[string]string{"alice": "a\r"}},
		{"CR inside kept", "al\rice=a\rb\n", map[string]string{"al\rice": "a\rb"}},
		{"CR-only line", "\r\nalice=a\n", map[string]string{"alice": "a"}},
		{"duplicate: later wins", "alice=first\nbob=b\nalice=second\n", map[string]string{"alice": "second", "bob": "b"}},
		{"duplicate with empty", "alice=first\nalice=\n", map[string]string{"alice": ""}},
		{"NUL is a byte", "al\x00ice=p\x00w\n", map[string]string{"al\x00ice": "p\x00w"}},
		{"UTF-8 and invalid bytes", "jürgen=pässwort\n\xff=\xfe\n", map[string]string{"jürgen": "pässwort", "\xff": "\xfe"}},
		{"long line", strings.Repeat("u", 2000) + "=" + strings.Repeat("p", 2000) + "\n",
			map[string]string{strings.Repeat("u", 2000): strings.Repeat("p", 2000)}},
		{"only newline", "\n", map[string]string{}},
		{"only =", "=\n", map[string]string{}},
		{"comment with CRLF", "#x=y\r\nalice=a\r\n", map[string]string{"alice": "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parsePasswords([]byte(tt.in))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			// The file path builds the same table.
			if diff := cmp.Diff(newPasswordTable(tt.want), passwordTableFromFile([]byte(tt.in))); diff != "" {
				t.Errorf("file table (-want +got):\n%s", diff)
			}
		})
	}
}

// source returns the password source of domain, and its counters.
func source(a *Authenticator, domain string) (reads, parses int) {
	a.mu.RLock()
	s := a.plain[domain]
	a.mu.RUnlock()
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	return s.reads, s.parses
}

func TestPasswordFileReload(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "passwords", "# users\nalice=a1\n")
	a := newAuth(t)
	if err := a.ConfigurePlainFile("*", path); err != nil {
		t.Fatal(err)
	}
	expect := func(step, user, pw string, want outcome) {
		t.Helper()
		if err := a.Reload(); err != nil {
			t.Errorf("%s: Reload: %v", step, err)
		}
		if got := decide(t, a, plainReq("", "::1", user, pw)); !same(got, want) {
			t.Errorf("%s: %s/%s: %+v, want %+v", step, user, pw, got, want)
		}
	}
	start := time.Now()
	expect("initial", "alice", "a1", ok("alice"))
	expect("initial", "bob", "b1", no("Invalid username"))

	// A user added in place (new size) counts at once.
	writeFile(t, dir, "passwords", "# users\nalice=a1\nbob=b1\n")
	expect("added", "bob", "b1", ok("bob"))
	// ... and removed again.
	writeFile(t, dir, "passwords", "# users\nalice=a1\n")
	expect("removed", "bob", "b1", no("Invalid username"))
	expect("removed", "alice", "a1", ok("alice"))

	// Same size, new modification time.
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	setMtime(t, path, t0)
	expect("pinned mtime", "alice", "a1", ok("alice"))
	writeFile(t, dir, "passwords", "# users\nalice=a2\n")
	setMtime(t, path, t0.Add(time.Second))
	expect("same size, new mtime", "alice", "a2", ok("alice"))
	expect("same size, new mtime", "alice", "a1", no("Invalid password"))

	// Same size, an edit in the same second: only the nanoseconds differ.
	writeFile(t, dir, "passwords", "# users\nalice=a3\n")
	setMtime(t, path, t0.Add(time.Second+1))
	expect("same second", "alice", "a3", ok("alice"))
	writeFile(t, dir, "passwords", "# users\nalice=a4\n")
	setMtime(t, path, t0.Add(time.Second+2))
	expect("same second again", "alice", "a4", ok("alice"))
	expect("same second again", "alice", "a3", no("Invalid password"))

	// Atomic rename of a file with the same size and the same time: only
	// its identity differs.
	tmp := writeFile(t, dir, ".passwords.tmp", "# users\nalice=a5\n")
	setMtime(t, tmp, t0.Add(time.Second+2))
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	expect("renamed", "alice", "a5", ok("alice"))
	expect("renamed", "alice", "a4", no("Invalid password"))

	// Atomic rename adding a user.
	tmp = writeFile(t, dir, ".passwords.tmp", "alice=a5\ncarol=c1\n")
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	expect("renamed, added", "carol", "c1", ok("carol"))

	if d := time.Since(start); d > time.Second {
		t.Errorf("the changes took %v to be seen", d)
	}
}

// TestPasswordFileFollowedInBackground checks that a change reaches
// requests within about one reload interval, with no Reload call.
func TestPasswordFileFollowedInBackground(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "passwords", "alice=a1\n")
	a := newAuth(t)
	a.SetReloadInterval(20 * time.Millisecond)
	if err := a.ConfigurePlainFile("*", path); err != nil {
		t.Fatal(err)
	}
	tmp := writeFile(t, dir, ".tmp", "alice=a2\n")
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for !same(decide(t, a, plainReq("", "::1", "alice", "a2")), ok("alice")) {
		if time.Since(start) > 2*time.Second {
			t.Fatal("the new password was not seen within 2 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("seen after %v", time.Since(start))
	if got := decide(t, a, plainReq("", "::1", "alice", "a1")); !same(got, no("Invalid password")) {
		t.Errorf("old password: %+v", got)
	}
}

func TestPasswordFileUnchangedContentKeepsTable(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "passwords", "alice=a\n")
	a := newAuth(t)
	if err := a.ConfigurePlainFile("d", path); err != nil {
		t.Fatal(err)
	}
	// Treat the file as written long ago, so that an unchanged version
	// is trusted (see cert.FileVersion.Recent).
	a.mu.RLock()
	a.plain["d"].now = func() time.Time { return time.Now().Add(time.Hour) }
	a.mu.RUnlock()
	reload := func() {
		t.Helper()
		if err := a.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	reload() // the first read was recent: read once more
	for range 3 {
		reload()
		decide(t, a, plainReq("d", "::1", "alice", "a"))
	}
	if reads, parses := source(a, "d"); reads != 2 || parses != 1 {
		t.Errorf("unchanged file: %d reads, %d parses; want 2, 1", reads, parses)
	}
	// A touch makes it read the file again, but the table is kept.
	setMtime(t, path, time.Now().Add(time.Hour))
	reload()
	if got := decide(t, a, plainReq("d", "::1", "alice", "a")); !same(got, ok("alice")) {
		t.Errorf("after touch: %+v", got)
	}
	if reads, parses := source(a, "d"); reads != 3 || parses != 1 {
		t.Errorf("touched file: %d reads, %d parses; want 3, 1", reads, parses)
	}
	// The same content under a new identity is not parsed again either.
	tmp := writeFile(t, dir, "tmp", "alice=a\n")
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	reload()
	decide(t, a, plainReq("d", "::1", "alice", "a"))
	if reads, parses := source(a, "d"); reads != 4 || parses != 1 {
		t.Errorf("renamed identical file: %d reads, %d parses; want 4, 1", reads, parses)
	}
}

func TestPasswordFileFailsClosed(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "passwords", "alice=a\n")
	var logs logBuffer
	a := newAuth(t)
	a.SetLogger(newLogger(&logs))
	if err := a.ConfigurePlainFile("d", path); err != nil {
		t.Fatal(err)
	}
	a.ConfigurePlain("*", map[string]string{"alice": "a"})
	if got := decideAfterReload(t, a, plainReq("d", "::1", "alice", "a")); !same(got, ok("alice")) {
		t.Fatalf("before: %+v", got)
	}

	// The file vanishes: 500, with no fallback to "*", logged once.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if got := decideAfterReload(t, a, plainReq("d", "::1", "alice", "a")); !same(got, internal) {
			t.Errorf("file removed: %+v, want %+v", got, internal)
		}
	}
	if n := logs.count("password file cannot be read"); n != 1 {
		t.Errorf("failure logged %d times, want once:\n%s", n, logs.String())
	}
	// Other domains keep working.
	if got := decideAfterReload(t, a, plainReq("x", "::1", "alice", "a")); !same(got, ok("alice")) {
		t.Errorf("other domain: %+v", got)
	}

	// It comes back with the same content: served again.
	writeFile(t, dir, "passwords", "alice=a\n")
	if got := decideAfterReload(t, a, plainReq("d", "::1", "alice", "a")); !same(got, ok("alice")) {
		t.Errorf("file back: %+v", got)
	}

	// A directory in its place cannot be read.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if got := decideAfterReload(t, a, plainReq("d", "::1", "alice", "a")); !same(got, internal) {
		t.Errorf("directory: %+v, want %+v", got, internal)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "passwords", "alice=b\n")
	if got := decideAfterReload(t, a, plainReq("d", "::1", "alice", "b")); !same(got, ok("alice")) {
		t.Errorf("file back with new content: %+v", got)
	}
	if got := decideAfterReload(t, a, plainReq("d", "::1", "alice", "a")); !same(got, no("Invalid password")) {
		t.Errorf("old password after the file came back: %+v", got)
	}

	// Too large.
	if err := os.Truncate(path, MaxPasswordFileSize+1); err != nil {
		t.Fatal(err)
	}
	if got := decideAfterReload(t, a, plainReq("d", "::1", "alice", "b")); !same(got, internal) {
		t.Errorf("too large: %+v, want %+v", got, internal)
	}
	if strings.Contains(logs.String(), "alice=") {
		t.Errorf("file content logged:\n%s", logs.String())
	}
}

func TestConfigurePlainFileErrors(t *testing.T) {
	dir := t.TempDir()
	big := writeFile(t, dir, "big", "")
	if err := os.Truncate(big, MaxPasswordFileSize+1); err != nil {
		t.Fatal(err)
	}
	for name, path := range map[string]string{
		"missing":   filepath.Join(dir, "missing"),
		"directory": dir,
		"too large": big,
	} {
		a := NewAuthenticator()
		if err := a.ConfigurePlainFile("*", path); err == nil {
			t.Errorf("%s: no error", name)
		}
		if got := decide(t, a, plainReq("", "::1", "u", "p")); !same(got, no("No passwords defined")) {
			t.Errorf("%s: failed ConfigurePlainFile configured something: %+v", name, got)
		}
		// An earlier configuration of the domain is kept.
		a.ConfigurePlain("*", map[string]string{"u": "p"})
		if err := a.ConfigurePlainFile("*", path); err == nil {
			t.Errorf("%s: no error", name)
		}
		if got := decide(t, a, plainReq("", "::1", "u", "p")); !same(got, ok("u")) {
			t.Errorf("%s: failed ConfigurePlainFile changed the domain: %+v", name, got)
		}
	}
}

func TestConfigurePlainReplacesFile(t *testing.T) {
	path := writeFile(t, t.TempDir(), "passwords", "file=f\r\n")
	a := newAuth(t)
	if err := a.ConfigurePlainFile("*", path); err != nil {
		t.Fatal(err)
	}
	if got := decide(t, a, plainReq("", "::1", "file", "f")); !same(got, ok("file")) {
		t.Errorf("file (CRLF): %+v", got)
	}
	a.ConfigurePlain("*", map[string]string{"map": "m"})
	if got := decide(t, a, plainReq("", "::1", "file", "f")); !same(got, no("Invalid username")) {
		t.Errorf("file user after ConfigurePlain: %+v", got)
	}
	// Removing the old file no longer matters.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if got := decide(t, a, plainReq("", "::1", "map", "m")); !same(got, ok("map")) {
		t.Errorf("map user: %+v", got)
	}
}
