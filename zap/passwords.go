package zap

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
)

// MaxPasswordFileSize is the largest password file
// [Authenticator.ConfigurePlainFile] reads. A larger file is treated as one
// that cannot be read.
const MaxPasswordFileSize = 16 << 20

// digest is the SHA-256 of a password. Passwords are kept and compared only
// as digests: the comparison then takes the same time whatever the lengths,
// and no password stays in memory in clear.
type digest = [sha256.Size]byte

// passwordTable maps a user name to the digest of its password. A table is
// never modified once built.
type passwordTable map[string]digest

// dummyDigest is compared against for an unknown user, so that an unknown
// user costs the same work as a known one.
var dummyDigest = sha256.Sum256([]byte("zmtpsec zap: no such user"))

// checkPassword reports whether password matches the user's entry in t, in
// time that depends on neither the password nor the stored one. known is
// false if t has no such user; the comparison is still made.
func (t passwordTable) checkPassword(user string, password []byte) (known, ok bool) {
	want, known := t[user]
	if !known {
		want = dummyDigest
	}
	got := sha256.Sum256(password)
	eq := subtle.ConstantTimeCompare(got[:], want[:]) == 1
	return known, known && eq
}

// newPasswordTable builds a table from a name → password map.
func newPasswordTable(m map[string]string) passwordTable {
	t := make(passwordTable, len(m))
	for name, pw := range m {
		t[name] = sha256.Sum256([]byte(pw))
	}
	return t
}

// eachPassword calls f for every entry of a password file in CZMQ's format
// (zhashx_load), in file order:
//
//   - the file is split into lines at "\n", and the "\n" is removed;
//   - unlike CZMQ, a "\r" left at the end of a line is removed too, so that
//     a file with CRLF line endings works as intended (CZMQ would make the
//     "\r" part of the password);
//   - a line that starts with "#", has no "=", or starts with "=" is
//     skipped (an empty line has no "=");
//   - the rest is split at the first "=": the name before it, the password
//     after it, which may contain "=" and may be empty. Nothing is trimmed:
//     "admin = pw" is user "admin " with password " pw".
//
// Unlike CZMQ, which reads with a 1024-byte fgets, lines of any length are
// read whole, and a NUL byte is an ordinary byte.
func eachPassword(data []byte, f func(name, password []byte)) {
	for len(data) > 0 {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		eq := bytes.IndexByte(line, '=')
		if eq <= 0 {
			continue
		}
		f(line[:eq], line[eq+1:])
	}
}

// parsePasswords returns the entries of a password file as a map; a later
// entry for a name replaces an earlier one, as in CZMQ.
func parsePasswords(data []byte) map[string]string {
	m := make(map[string]string)
	eachPassword(data, func(name, pw []byte) { m[string(name)] = string(pw) })
	return m
}

// passwordTableFromFile parses a password file straight into digests.
func passwordTableFromFile(data []byte) passwordTable {
	t := make(passwordTable)
	eachPassword(data, func(name, pw []byte) { t[string(name)] = sha256.Sum256(pw) })
	return t
}

// A passwordSource is the password table of one PLAIN domain: either fixed
// (ConfigurePlain) or read from a file that is reloaded when it changes
// (ConfigurePlainFile).
type passwordSource struct {
	domain string
	path   string // empty for a fixed table

	mu sync.Mutex // guards the fields below; held while reading the file
	// table is the current table. For a file it is served only while stat
	// is non-nil; it is kept across failures so that a file that comes
	// back with the same content is not parsed again.
	table passwordTable
	// stat describes the file table was read from; nil after a failure,
	// which forces the next request to read the file again.
	stat os.FileInfo
	sum  digest // SHA-256 of the file content table was parsed from
	// failure is the last error, reported once until it changes.
	failure string
	// reads and parses count file reads and table rebuilds, for tests.
	reads, parses int
}

func fixedPasswords(domain string, m map[string]string) *passwordSource {
	return &passwordSource{domain: domain, table: newPasswordTable(m)}
}

// current returns the table to check a request against. For a file it
// first stats the file and reads it again if its identity (an atomic rename
// replaces it), size or modification time (to the nanosecond) changed; if
// the content turns out to be the same, the table is kept. A file that
// cannot be stat'ed or read gives an error: the caller refuses the request
// (it fails closed), and the next request tries again.
func (s *passwordSource) current(log *slog.Logger) (passwordTable, error) {
	if s.path == "" {
		return s.table, nil
	}
	fi, err := os.Stat(s.path)

	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil && s.stat != nil && sameFileVersion(s.stat, fi) {
		return s.table, nil
	}
	if err == nil {
		err = s.reloadLocked(log)
	}
	if err != nil {
		s.stat = nil
		if msg := err.Error(); msg != s.failure {
			s.failure = msg
			if log != nil {
				log.Error("zap: password file cannot be read; PLAIN requests for its domain are refused",
					"domain", s.domain, "path", s.path, "err", err)
			}
		}
		return nil, err
	}
	s.failure = ""
	return s.table, nil
}

// sameFileVersion reports whether a and b describe the same file with the
// same size and modification time.
func sameFileVersion(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// reloadLocked reads the file and replaces the table if the content
// changed. The stamp recorded is the one taken before reading, so a file
// that changes while it is read is read again by the next request.
func (s *passwordSource) reloadLocked(log *slog.Logger) error {
	f, err := os.Open(s.path)
	if err != nil {
		return fmt.Errorf("zap: password file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("zap: password file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("zap: password file %s: not a regular file", s.path)
	}
	if fi.Size() > MaxPasswordFileSize {
		return fmt.Errorf("zap: password file %s: larger than %d bytes", s.path, MaxPasswordFileSize)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxPasswordFileSize+1))
	if err != nil {
		return fmt.Errorf("zap: password file: %w", err)
	}
	if len(data) > MaxPasswordFileSize {
		return fmt.Errorf("zap: password file %s: larger than %d bytes", s.path, MaxPasswordFileSize)
	}
	s.reads++
	sum := sha256.Sum256(data)
	if s.table == nil || sum != s.sum {
		s.table, s.sum = passwordTableFromFile(data), sum
		s.parses++
		if log != nil {
			log.Info("zap: password file loaded", "domain", s.domain, "path", s.path, "users", len(s.table))
		}
	}
	clear(data)
	s.stat = fi
	return nil
}
