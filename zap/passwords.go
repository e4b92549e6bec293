package zap

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/zmtpsec/zmtpsec/cert"
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
	path   string        // empty for a fixed table
	fixed  passwordTable // the table if path is empty

	poller
	// state is what requests use for a file: the table, or the error that
	// makes them fail closed. Replaced whole by reload.
	state atomic.Pointer[passwordState]
	now   func() time.Time // time.Now; tests move it

	// The fields below are guarded by poller.reloadMu.
	// table is the last table read. It is kept across failures so that a
	// file that comes back with the same content is not parsed again.
	table passwordTable
	sum   digest           // SHA-256 of the file content table was parsed from
	read  cert.FileVersion // the version table was read from; zero after a failure
	// recheck makes the next reload read the file even if its version is
	// unchanged: it changed too recently to be trusted (see
	// cert.FileVersion.Recent).
	recheck bool
	// failure is the last error, reported once until it changes.
	failure string
	// reads and parses count file reads and table rebuilds, for tests.
	reads, parses int
}

// passwordState is the outcome of a reload: a table, or an error.
type passwordState struct {
	table passwordTable
	err   error
}

func fixedPasswords(domain string, m map[string]string) *passwordSource {
	return &passwordSource{domain: domain, fixed: newPasswordTable(m)}
}

func filePasswords(domain, path string, interval time.Duration) *passwordSource {
	s := &passwordSource{domain: domain, path: path, now: time.Now}
	s.interval.Store(int64(interval))
	return s
}

// current returns the table to check a request against. It does no I/O:
// for a file, it is what the last reload read, or the error that made it
// fail.
func (s *passwordSource) current() (passwordTable, error) {
	if s.path == "" {
		return s.fixed, nil
	}
	st := s.state.Load()
	if st == nil {
		return nil, ErrClosed // unreachable: ConfigurePlainFile reloads first
	}
	return st.table, st.err
}

// reload brings the table up to date with the file. It stats the file and
// reads it again if its version (identity, size, times) changed or if it
// changed too recently for the version to be trusted; if the content is
// the same, the table is kept. A file that cannot be stat'ed or read (it
// is missing, is not a regular file, is too large) makes requests fail
// closed until it can be read again; the problem is logged once.
func (s *passwordSource) reload(log *slog.Logger) error {
	var err error
	s.run(func() { err = s.reloadLocked(log) })
	return err
}

// tick is the refresher's reload.
func (s *passwordSource) tick(log *slog.Logger) { s.reload(log) }

func (s *passwordSource) reloadLocked(log *slog.Logger) error {
	now := s.now()
	v, err := cert.StatFile(s.path)
	if st := s.state.Load(); err == nil && v == s.read && !s.recheck && st != nil && st.err == nil {
		return nil
	}
	var data []byte
	if err == nil {
		data, v, err = cert.ReadFile(s.path, MaxPasswordFileSize)
	}
	if err != nil {
		err = fmt.Errorf("zap: password file: %w", err)
		s.read = cert.FileVersion{}
		s.state.Store(&passwordState{err: err})
		if msg := err.Error(); msg != s.failure {
			s.failure = msg
			if log != nil {
				log.Error("zap: password file cannot be read; PLAIN requests for its domain are refused",
					"domain", s.domain, "path", s.path, "err", err)
			}
		}
		return err
	}
	s.reads++
	sum := sha256.Sum256(data)
	parsed := false
	if s.table == nil || sum != s.sum {
		s.table, s.sum, parsed = passwordTableFromFile(data), sum, true
		s.parses++
		if log != nil {
			log.Info("zap: password file loaded", "domain", s.domain, "path", s.path, "users", len(s.table))
		}
	}
	clear(data)
	s.read, s.recheck, s.failure = v, v.Recent(now), ""
	if st := s.state.Load(); parsed || st == nil || st.err != nil {
		s.state.Store(&passwordState{table: s.table})
	}
	return nil
}
