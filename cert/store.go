package cert

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// A Store holds the public certificates of one directory and follows the
// directory as certificate files are added, changed and removed. It is what
// a ZAP authenticator consults to decide whether a CURVE client key is
// allowed. A Store is safe for concurrent use.
//
// The files considered are those [LoadCertificates] considers, and each is
// read as by [LoadCertificate], including a secret file beside it. Secret
// keys are then dropped: the Store keeps public keys, metadata and paths.
//
// Unlike LoadCertificates, a Store fails closed file by file: a file that
// cannot be read or parsed contributes no certificate, two files with the
// same public key both contribute none, and the other files are still
// served. [Store.Refresh] reports such problems.
type Store struct {
	dir string

	refreshMu sync.Mutex // serialises Refresh; held while reading files

	mu    sync.RWMutex // guards the fields below
	files map[string]*storeFile
	byKey map[PublicKey]*Certificate
}

// storeFile is what the Store knows of one certificate name.
type storeFile struct {
	pub, sec fileStamp
	cert     *Certificate // nil if the file failed to load
	err      error        // why it failed
}

// fileStamp identifies one version of a file. A file replaced by one of the
// same size and modification time is still noticed through its hash.
type fileStamp struct {
	exists bool
	size   int64
	mtime  int64 // nanoseconds since the Unix epoch
	sum    [sha256.Size]byte
}

// NewStore returns an empty Store for the directory dir. It does no I/O:
// call [Store.Refresh] to load the directory, and again whenever it may have
// changed.
func NewStore(dir string) *Store {
	return &Store{dir: dir}
}

// Dir returns the directory of s.
func (s *Store) Dir() string { return s.dir }

// Refresh reads the directory again and brings s up to date. It reports
// whether anything changed since the last Refresh: a certificate file (or
// the secret file beside it) was added, removed, or has a new size,
// modification time or SHA-256 content hash. Every file is read and hashed
// on each call, so a replacement with the same size and time is noticed.
//
// A directory that does not exist is an empty store, not an error. A
// directory that cannot be read empties the store (it fails closed) and
// returns the error. Files that cannot be read or parsed, and duplicate
// public keys, are left out of the store and reported together in the
// returned error (see [errors.Join]); the rest of the directory is loaded.
// Problems that persist are reported by every Refresh.
func (s *Store) Refresh() (changed bool, err error) {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()

	s.mu.RLock()
	old := s.files
	s.mu.RUnlock()

	entries, err := os.ReadDir(s.dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.mu.Lock()
		s.files, s.byKey = nil, nil
		s.mu.Unlock()
		return len(old) > 0, fmt.Errorf("cert: store: %w", err)
	}

	var errs []error
	files := make(map[string]*storeFile, len(entries))
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(s.dir, name)
		if !isCandidate(name) || !isRegular(path, e) {
			continue
		}
		prev := old[name]
		f := loadStoreFile(path, prev)
		if prev == nil || f.pub != prev.pub || f.sec != prev.sec {
			changed = true
		}
		if f.err != nil {
			errs = append(errs, f.err)
		}
		files[name] = f
	}
	for name := range old {
		if files[name] == nil {
			changed = true
		}
	}

	// Index by public key, leaving out every file of a duplicated key.
	names := make([]string, 0, len(files))
	count := make(map[PublicKey]int)
	for name, f := range files {
		names = append(names, name)
		if f.cert != nil {
			count[f.cert.Public]++
		}
	}
	slices.Sort(names)
	byKey := make(map[PublicKey]*Certificate, len(files))
	dups := make(map[PublicKey][]string)
	for _, name := range names {
		c := files[name].cert
		if c == nil {
			continue
		}
		if count[c.Public] > 1 {
			dups[c.Public] = append(dups[c.Public], c.Path)
			continue
		}
		byKey[c.Public] = c
	}
	for _, name := range names {
		// Report each duplicated key once, at its first file.
		c := files[name].cert
		if c == nil {
			continue
		}
		if paths := dups[c.Public]; len(paths) > 0 && paths[0] == c.Path {
			errs = append(errs, fmt.Errorf("cert: store: public key %s in %s: %w",
				c.Public, strings.Join(paths, ", "), ErrDuplicateKey))
		}
	}

	s.mu.Lock()
	s.files, s.byKey = files, byKey
	s.mu.Unlock()
	return changed, errors.Join(errs...)
}

// loadStoreFile reads the certificate at path and its secret file, and
// returns old if neither changed.
func loadStoreFile(path string, old *storeFile) *storeFile {
	pubData, pub, err := readStamped(path)
	if err != nil {
		return &storeFile{err: err}
	}
	secData, sec, err := readStamped(path + secretSuffix)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return &storeFile{pub: pub, err: err}
	}
	if old != nil && old.pub == pub && old.sec == sec {
		return old
	}
	f := &storeFile{pub: pub, sec: sec}
	var c *Certificate
	if sec.exists {
		c, err = loadPair(path, pubData, true, path+secretSuffix, secData)
	} else {
		c, err = parseFile(path, pubData)
	}
	if err != nil {
		f.err = err
		return f
	}
	c.Secret = nil
	f.cert = c
	return f
}

// readStamped reads a certificate file and its stamp.
func readStamped(path string) ([]byte, fileStamp, error) {
	data, fi, err := readCertFile(path)
	if err != nil {
		return nil, fileStamp{}, err
	}
	return data, fileStamp{
		exists: true,
		size:   fi.Size(),
		mtime:  fi.ModTime().UnixNano(),
		sum:    sha256.Sum256(data),
	}, nil
}

// Lookup returns a copy of the certificate with public key k, and whether
// there is one. It does no I/O.
func (s *Store) Lookup(k PublicKey) (*Certificate, bool) {
	s.mu.RLock()
	c, ok := s.byKey[k]
	s.mu.RUnlock()
	if !ok {
		return nil, false
	}
	return c.Clone(), true
}

// Certificates returns copies of all the certificates in s, sorted by path.
func (s *Store) Certificates() []*Certificate {
	s.mu.RLock()
	certs := make([]*Certificate, 0, len(s.byKey))
	for _, c := range s.byKey {
		certs = append(certs, c.Clone())
	}
	s.mu.RUnlock()
	slices.SortFunc(certs, func(a, b *Certificate) int {
		switch {
		case a.Path < b.Path:
			return -1
		case a.Path > b.Path:
			return 1
		}
		return 0
	})
	return certs
}
