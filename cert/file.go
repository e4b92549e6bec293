package cert

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// MaxFileSize is the largest certificate file the loaders read. Real
// certificates are well under 1 KiB.
const MaxFileSize = 64 << 10

// secretSuffix ends the name of a secret file in both layouts.
const secretSuffix = "_secret"

// LoadCertificate reads the certificate file at path, in either layout.
//
// As CZMQ's zcert_load does, and so that the secret key and (in
// [LayoutPyzmq]) the metadata come along, if a file path+"_secret" exists it
// is read instead of path; when path exists as well, both must name the
// same public key, or the error wraps [ErrKeyMismatch]. A path ending in
// "_secret" is read as it is. The returned certificate's Path is the file
// that was read.
//
// The file must be a regular file (symbolic links are followed) of at most
// [MaxFileSize] bytes. Errors from the file system wrap the [fs.PathError];
// malformed content gives a [*ParseError] (see [ParseCertificate]).
func LoadCertificate(path string) (*Certificate, error) {
	if strings.HasSuffix(path, secretSuffix) {
		return loadFile(path)
	}
	secPath := path + secretSuffix
	secData, _, err := readCertFile(secPath)
	if errors.Is(err, fs.ErrNotExist) {
		return loadFile(path)
	}
	if err != nil {
		return nil, err
	}
	pubData, _, err := readCertFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return loadPair(path, pubData, err == nil, secPath, secData)
}

func loadFile(path string) (*Certificate, error) {
	data, _, err := readCertFile(path)
	if err != nil {
		return nil, err
	}
	return parseFile(path, data)
}

// loadPair parses a secret file and, if hasPub, the public file beside it,
// and checks that they agree on the public key.
func loadPair(pubPath string, pubData []byte, hasPub bool, secPath string, secData []byte) (*Certificate, error) {
	c, err := parseFile(secPath, secData)
	if err != nil {
		return nil, err
	}
	if hasPub {
		pc, err := parseFile(pubPath, pubData)
		if err != nil {
			return nil, err
		}
		if pc.Public != c.Public {
			return nil, fmt.Errorf("cert: public key %s in %s differs from %s in %s: %w",
				pc.Public, pubPath, c.Public, secPath, ErrKeyMismatch)
		}
	}
	return c, nil
}

func parseFile(path string, data []byte) (*Certificate, error) {
	c, perr := parseCertificate(data)
	if perr != nil {
		perr.Path = path
		return nil, perr
	}
	c.Path = path
	return c, nil
}

// readCertFile reads a regular file of at most MaxFileSize bytes.
func readCertFile(path string) ([]byte, fs.FileInfo, error) {
	// Stat first, so that opening never blocks on a FIFO or a device.
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("cert: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("cert: %s: not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("cert: %w", err)
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, nil, fmt.Errorf("cert: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("cert: %s: not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("cert: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, nil, fmt.Errorf("cert: %s: larger than %d bytes", path, MaxFileSize)
	}
	return data, fi, nil
}

// isCandidate reports whether the directory entry name may be a public
// certificate file: not a dotfile and not a secret file.
func isCandidate(name string) bool {
	return !strings.HasPrefix(name, ".") && !strings.HasSuffix(name, secretSuffix)
}

// LoadCertificates loads every public certificate in the directory dir, in
// either layout, sorted by file name. It looks at the top level only, like
// pyzmq, but at every file name, like CZMQ: it skips names starting with ".",
// names ending in "_secret" and anything that is not a regular file (a
// symbolic link to a regular file counts as one). Each file is read with
// [LoadCertificate], so a secret file beside it is read instead and the
// certificate then carries the secret key.
//
// Loading is all or nothing: the first file that cannot be read or parsed
// ends it with an error naming the file, and two files with the same public
// key give an error wrapping [ErrDuplicateKey]. Put nothing but
// certificates in the directory. See [Store] for a directory that changes.
func LoadCertificates(dir string) ([]*Certificate, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cert: %w", err)
	}
	var certs []*Certificate
	byKey := make(map[PublicKey]string)
	for _, e := range entries {
		if !isCandidate(e.Name()) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if !isRegular(path, e) {
			continue
		}
		c, err := LoadCertificate(path)
		if err != nil {
			return nil, err
		}
		if prev, ok := byKey[c.Public]; ok {
			return nil, fmt.Errorf("cert: public key %s in both %s and %s: %w", c.Public, prev, path, ErrDuplicateKey)
		}
		byKey[c.Public] = path
		certs = append(certs, c)
	}
	return certs, nil
}

// isRegular reports whether the directory entry e at path is a regular
// file or a symbolic link to one.
func isRegular(path string, e fs.DirEntry) bool {
	switch {
	case e.Type().IsRegular():
		return true
	case e.Type()&fs.ModeSymlink != 0:
		fi, err := os.Stat(path)
		return err == nil && fi.Mode().IsRegular()
	}
	return false
}

// SaveOptions holds the options of [Certificate.Save]. The zero value is the
// default.
type SaveOptions struct {
	// Overwrite lets Save replace existing files. Each file is then
	// written to a temporary file in the same directory and renamed over
	// the old one, so readers see either the old or the new content. When
	// Overwrite is false, Save fails if either file exists.
	Overwrite bool
	// Time is written on the first line of each file, formatted in its own
	// location. The zero Time means time.Now(), local time, as both
	// tools write.
	Time time.Time
}

// Save writes c to the directory dir as the certificate called name, in the
// given layout (see [Layout.FileNames]), and returns the paths it wrote.
// The content is that of [Certificate.MarshalPublic] and
// [Certificate.MarshalSecret].
//
// The public file gets mode 0644 and the secret file mode 0600, both
// created with O_EXCL unless opts.Overwrite is set; a nil opts means the
// defaults. If c.Secret is nil, only the public file is written, and Save
// fails if a secret file exists beside it, since [LoadCertificate] would
// read that file instead. name must not be empty, contain a path
// separator or start with "."; in [LayoutCZMQ] it must not end in
// "_secret".
//
// The secret file is written first. If the public file then cannot be
// written, the secret file is removed again, unless opts.Overwrite is set:
// a failed overwrite can leave a new secret file beside an old public file,
// which LoadCertificate reports as a key mismatch.
func (c *Certificate) Save(dir, name string, layout Layout, opts *SaveOptions) (publicPath, secretPath string, err error) {
	if opts == nil {
		opts = &SaveOptions{}
	}
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") ||
		strings.ContainsRune(name, filepath.Separator) || strings.HasPrefix(name, ".") {
		return "", "", fmt.Errorf("cert: save: bad certificate name %q", name)
	}
	if layout == LayoutCZMQ && strings.HasSuffix(name, secretSuffix) {
		return "", "", fmt.Errorf("cert: save: certificate name %q ends in %q", name, secretSuffix)
	}
	now := opts.Time
	if now.IsZero() {
		now = time.Now()
	}
	pubData, err := c.MarshalPublic(layout, now)
	if err != nil {
		return "", "", err
	}
	var secData []byte
	if c.Secret != nil {
		if secData, err = c.MarshalSecret(layout, now); err != nil {
			return "", "", err
		}
	}
	pubName, secName := layout.FileNames(name)
	publicPath = filepath.Join(dir, pubName)
	secretPath = filepath.Join(dir, secName)
	if c.Secret == nil {
		if _, err := os.Lstat(secretPath); !errors.Is(err, fs.ErrNotExist) {
			return "", "", fmt.Errorf("cert: save: %s exists and would be read instead of the public file", secretPath)
		}
		if err := writeFile(publicPath, pubData, 0o644, opts.Overwrite); err != nil {
			return "", "", err
		}
		return publicPath, "", nil
	}
	if err := writeFile(secretPath, secData, 0o600, opts.Overwrite); err != nil {
		return "", "", err
	}
	if err := writeFile(publicPath, pubData, 0o644, opts.Overwrite); err != nil {
		if !opts.Overwrite {
			os.Remove(secretPath)
		}
		return "", "", err
	}
	return publicPath, secretPath, nil
}

// writeFile writes data to a new file at path with mode perm (less the
// umask). If overwrite is set, it writes a temporary file and renames it
// over path.
func writeFile(path string, data []byte, perm os.FileMode, overwrite bool) (err error) {
	var f *os.File
	if overwrite {
		f, err = os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
		if err == nil {
			err = f.Chmod(perm)
		}
	} else {
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	}
	if err != nil {
		if f != nil {
			f.Close()
			os.Remove(f.Name())
		}
		return fmt.Errorf("cert: save: %w", err)
	}
	defer func() {
		if err != nil {
			os.Remove(f.Name())
			err = fmt.Errorf("cert: save: %w", err)
		}
	}()
	if _, err = io.Copy(f, bytes.NewReader(data)); err != nil {
		f.Close()
		return err
	}
	if err = f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if overwrite {
		return os.Rename(f.Name(), path)
	}
	return nil
}
