package cert

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A Store holds the public certificates of one directory in memory, indexed
// by public key, and follows the directory as certificate files are added,
// changed and removed, each time [Store.Refresh] is called. It is what a ZAP
// authenticator consults to decide whether a CURVE client key is allowed.
// A Store is safe for concurrent use; [Store.Lookup] and
// [Store.Certificates] do no I/O and never wait for a Refresh.
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
	now func() time.Time // time.Now; tests move it

	refreshMu sync.Mutex // serialises Refresh; lookups never take it
	// files is what the last Refresh found, by file name. Guarded by
	// refreshMu.
	files map[string]*storeFile
	// scan numbers the Refresh calls, to find the names that are gone.
	// Guarded by refreshMu.
	scan uint64
	// dupErrs reports the duplicated keys of files. Guarded by refreshMu.
	dupErrs []error
	// reads counts the certificates read, for tests. Guarded by refreshMu.
	reads int

	// index is the current index, replaced whole by Refresh.
	index atomic.Pointer[map[PublicKey]*Certificate]
}

// storeFile is what the Store knows of one certificate name.
type storeFile struct {
	pub, sec       FileVersion // versions read; sec is zero without a secret file
	pubSum, secSum [sha256.Size]byte
	cert           *Certificate // nil if the file failed to load
	err            error        // why it failed
	// scan is the number of the last Refresh that saw the file.
	scan uint64
	// recheck makes the next Refresh read the files again although their
	// versions did not change: they were read too soon after a change (see
	// FileVersion.Recent), or reading them failed for a reason that may
	// pass (too many open files, say).
	recheck bool
}

// NewStore returns an empty Store for the directory dir. It does no I/O:
// call [Store.Refresh] to load the directory, and again whenever it may have
// changed.
func NewStore(dir string) *Store {
	return &Store{dir: dir, now: time.Now}
}

// Dir returns the directory of s.
func (s *Store) Dir() string { return s.dir }

// Refresh scans the directory again and brings s up to date. It reports
// whether anything changed since the last Refresh: a certificate file was
// added or removed, or a certificate file (or the secret file beside it)
// now has different content. Lookups see the old index until the new one
// is complete, then the new one.
//
// A scan lists the directory and stats each entry; only a file whose
// [FileVersion] changed, or that changed too recently for its version to
// be trusted (see [FileVersion.Recent]), is read and parsed again. A file
// rewritten with its old content is not a change. Nothing in the
// directory can make Refresh block: the directory and the files are
// opened as by [ReadFile], and what is not a regular file is skipped.
//
// A directory that does not exist is an empty store, not an error. A
// directory that cannot be read (or is not a directory) empties the store
// (it fails closed) and returns the error. Files that cannot be read or
// parsed, and duplicate public keys, are left out of the store and
// reported together in the returned error (see [errors.Join]); the rest
// of the directory is loaded. Problems that persist are reported by every
// Refresh. Errors never quote the content of a file (see [ParseError]).
func (s *Store) Refresh() (changed bool, err error) {
	return s.refresh(true)
}

// RefreshNames is a cheaper [Store.Refresh] for a large directory: it lists
// the directory, drops the certificates whose files are gone and loads the
// files that are new, but it does not stat the files it already knows
// (except those that changed too recently to be trusted, or failed to
// read). So it sees certificates added and removed, but not a file
// rewritten in place or replaced by a rename, nor a secret file added or
// changed beside a known public file: call Refresh for those. Listing a
// directory costs about a tenth of what stating every file in it does.
// Errors are reported as by Refresh.
func (s *Store) RefreshNames() (changed bool, err error) {
	return s.refresh(false)
}

// refresh is Refresh if full is set, RefreshNames otherwise.
func (s *Store) refresh(full bool) (changed bool, err error) {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	now := s.now()

	names, err := readDirNames(s.dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		changed = len(s.files) > 0
		s.files, s.dupErrs = nil, nil
		s.index.Store(nil)
		return changed, fmt.Errorf("cert: store: %w", err)
	}

	// Secret files are looked for only where the listing has them, so
	// that a scan costs one stat per certificate.
	secrets := make(map[string]bool)
	for _, name := range names {
		if strings.HasSuffix(name, secretSuffix) {
			secrets[name] = true
		}
	}
	if s.files == nil {
		s.files = make(map[string]*storeFile, len(names))
	}
	files := s.files // updated in place: lookups do not use it
	s.scan++
	var failed []string
	for _, name := range names {
		if !isCandidate(name) {
			continue
		}
		prev := files[name]
		if !full && prev != nil && !prev.recheck {
			prev.scan = s.scan
			if prev.err != nil {
				failed = append(failed, name)
			}
			continue
		}
		path := filepath.Join(s.dir, name)
		pub, err := StatFile(path)
		if err != nil {
			continue // gone since the listing, or not a regular file
		}
		var sec FileVersion
		var secErr error
		secListed := len(secrets) > 0 && secrets[name+secretSuffix]
		if secListed {
			sec, secErr = StatFile(path + secretSuffix)
			if errors.Is(secErr, fs.ErrNotExist) {
				sec, secErr = FileVersion{}, nil
			}
		}
		f := prev
		if prev == nil || prev.recheck || prev.pub != pub || prev.sec != sec || secErr != nil {
			f = loadStoreFile(path, prev, secListed, secErr, now)
			s.reads++
			if f.cert == nil && errors.Is(f.err, fs.ErrNotExist) {
				// Removed between the stat and the open: gone, not
				// failing (a failure would make unknown keys 500).
				continue
			}
		}
		if f != prev && prev != nil && f.cert == nil && prev.cert == nil && f.err.Error() == prev.err.Error() {
			*prev = *f // failing as before: no change
			f = prev
		}
		if f != prev {
			changed = true
		}
		if f.err != nil {
			failed = append(failed, name)
		}
		f.scan = s.scan
		if f != prev {
			files[name] = f
		}
	}
	for name, f := range files {
		if f.scan != s.scan {
			delete(files, name) // gone
			changed = true
		}
	}
	if changed || s.index.Load() == nil {
		s.reindex()
	}

	slices.Sort(failed)
	errs := make([]error, 0, len(failed)+len(s.dupErrs))
	for _, name := range failed {
		errs = append(errs, files[name].err)
	}
	errs = append(errs, s.dupErrs...)
	return changed, errors.Join(errs...)
}

// reindex builds the index of s.files, leaving out every file of a
// duplicated key, and publishes it. Called with refreshMu held.
func (s *Store) reindex() {
	names := make([]string, 0, len(s.files))
	count := make(map[PublicKey]int, len(s.files))
	for name, f := range s.files {
		if f.cert != nil {
			names = append(names, name)
			count[f.cert.Public]++
		}
	}
	slices.Sort(names)
	byKey := make(map[PublicKey]*Certificate, len(names))
	dups := make(map[PublicKey][]string)
	for _, name := range names {
		c := s.files[name].cert
		if count[c.Public] > 1 {
			dups[c.Public] = append(dups[c.Public], c.Path)
			continue
		}
		byKey[c.Public] = c
	}
	s.dupErrs = nil
	for _, name := range names {
		// Report each duplicated key once, at its first file.
		c := s.files[name].cert
		if paths := dups[c.Public]; len(paths) > 0 && paths[0] == c.Path {
			s.dupErrs = append(s.dupErrs, fmt.Errorf("cert: store: public key %s in %s: %w",
				c.Public, strings.Join(paths, ", "), ErrDuplicateKey))
		}
	}
	s.index.Store(&byKey)
}

// loadStoreFile reads the certificate at path and, if the listing has it,
// its secret file (unless secErr says it cannot be read). It returns prev,
// with its versions brought up to date, if the content is what prev was
// parsed from.
func loadStoreFile(path string, prev *storeFile, secListed bool, secErr error, now time.Time) *storeFile {
	if secErr != nil {
		return &storeFile{err: secErr, recheck: true}
	}
	pubData, pub, err := readCertFile(path)
	if err != nil {
		return &storeFile{err: err, recheck: true}
	}
	f := &storeFile{pub: pub, pubSum: sha256.Sum256(pubData)}
	var secData []byte
	hasSec := false
	err = fs.ErrNotExist
	if secListed {
		secData, f.sec, err = readCertFile(path + secretSuffix)
	}
	switch {
	case err == nil:
		hasSec = true
		f.secSum = sha256.Sum256(secData)
	case errors.Is(err, fs.ErrNotExist):
		f.sec = FileVersion{}
	default:
		return &storeFile{err: err, recheck: true}
	}
	f.recheck = f.pub.Recent(now) || f.sec.Recent(now)
	if prev != nil && prev.err == nil && prev.pubSum == f.pubSum && prev.secSum == f.secSum &&
		(prev.sec == FileVersion{}) == !hasSec {
		prev.pub, prev.sec, prev.recheck = f.pub, f.sec, f.recheck
		return prev
	}
	var c *Certificate
	if hasSec {
		c, err = loadPair(path, pubData, true, path+secretSuffix, secData)
		clear(secData)
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

// Lookup returns a copy of the certificate with public key k, and whether
// there is one. It does no I/O and takes no lock.
func (s *Store) Lookup(k PublicKey) (*Certificate, bool) {
	m := s.index.Load()
	if m == nil {
		return nil, false
	}
	c, ok := (*m)[k]
	if !ok {
		return nil, false
	}
	return c.Clone(), true
}

// Certificates returns copies of all the certificates in s, sorted by path.
func (s *Store) Certificates() []*Certificate {
	m := s.index.Load()
	if m == nil {
		return []*Certificate{}
	}
	certs := make([]*Certificate, 0, len(*m))
	for _, c := range *m {
		certs = append(certs, c.Clone())
	}
	slices.SortFunc(certs, func(a, b *Certificate) int { return strings.Compare(a.Path, b.Path) })
	return certs
}
