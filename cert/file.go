package cert

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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
// [MaxFileSize] bytes; it is opened as by [ReadFile], so a FIFO or device
// in its place is refused at once. Errors from the file system wrap the
// [fs.PathError]; malformed content gives a [*ParseError] (see
// [ParseCertificate]), which never quotes the file.
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

// readCertFile reads a certificate file: a regular file of at most
// MaxFileSize bytes.
func readCertFile(path string) ([]byte, FileVersion, error) {
	return ReadFile(path, MaxFileSize)
}

// A FileVersion identifies one version of a file, as the file system
// describes it: on Unix systems the device and inode numbers, the size, and
// the modification and status-change times to the nanosecond; elsewhere the
// size and modification time only. FileVersions are comparable with ==. The
// zero FileVersion stands for no file.
//
// Every write to a file, and every rename onto its name, gives a new
// version on Unix systems, because the change time moves with each of them
// and cannot be set by users; a rewrite that keeps the size and resets the
// modification time is seen too. The one exception is a change within the
// file system's timestamp granularity of the moment the version was taken:
// see [FileVersion.Recent].
type FileVersion struct {
	dev, ino uint64
	size     int64
	mtime    int64 // nanoseconds since the Unix epoch
	ctime    int64 // nanoseconds since the Unix epoch; 0 where unknown
}

// Size returns the size of the file in bytes.
func (v FileVersion) Size() int64 { return v.size }

// RecentWindow is how close to the present a file's times may be for
// [FileVersion.Recent] to report it. It covers the coarsest timestamp
// granularity in common use (2 s on FAT; Linux file systems tick with the
// kernel's coarse clock, a few milliseconds).
const RecentWindow = 2 * time.Second

// Recent reports whether the file's modification or change time is less
// than [RecentWindow] before now, or after it. A file changed again within
// the same timestamp tick may keep such a version, so a reader that polls
// should read a recent file again rather than trust an unchanged version.
func (v FileVersion) Recent(now time.Time) bool {
	t := max(v.mtime, v.ctime)
	return t > now.Add(-RecentWindow).UnixNano()
}

// StatFile returns the version of the file at path without opening it,
// following symbolic links. A file that is not regular (a directory, a
// FIFO, a device, a socket) gives an error wrapping [ErrNotRegular].
// Other errors are [*fs.PathError] values.
func StatFile(path string) (FileVersion, error) {
	v, mode, err := statFile(path)
	if err != nil {
		return FileVersion{}, fmt.Errorf("cert: %w", err)
	}
	if !mode.IsRegular() {
		return FileVersion{}, notRegular(path, mode)
	}
	return v, nil
}

// ReadFile reads the regular file at path, of at most maxSize bytes, and
// returns its content and the version that was read. Symbolic links are
// followed (Kubernetes mounts secrets as links).
//
// ReadFile never blocks on what it opens: on Unix systems the file is
// opened with O_NONBLOCK (and O_NOCTTY and O_CLOEXEC), and its type is
// checked with fstat on the open descriptor, not on the path, so that a
// FIFO or a device swapped in between a stat and the open is refused at
// once with an error wrapping [ErrNotRegular], and nothing is read from
// it. A larger file gives an error wrapping [ErrFileTooLarge]; other errors
// are [*fs.PathError] values. No error holds any of the file's content.
//
// The loaders of this package read certificates with it, and
// [github.com/zmtpsec/zmtpsec/zap] reads password files with it.
func ReadFile(path string, maxSize int64) ([]byte, FileVersion, error) {
	data, v, err := readFile(path, maxSize)
	if _, ok := err.(*fs.PathError); ok {
		err = fmt.Errorf("cert: %w", err)
	}
	return data, v, err
}

// fileError is the error of ReadFile and StatFile for a file of the wrong
// type or size. Its message is "cert: PATH: MSG"; it unwraps to err.
type fileError struct {
	path, msg string
	err       error
}

func (e *fileError) Error() string { return "cert: " + e.path + ": " + e.msg }
func (e *fileError) Unwrap() error { return e.err }

func notRegular(path string, mode fs.FileMode) error {
	what := "irregular file"
	switch {
	case mode&fs.ModeDir != 0:
		what = "directory"
	case mode&fs.ModeNamedPipe != 0:
		what = "named pipe"
	case mode&fs.ModeCharDevice != 0:
		what = "character device"
	case mode&fs.ModeDevice != 0:
		what = "block device"
	case mode&fs.ModeSocket != 0:
		what = "socket"
	case mode&fs.ModeSymlink != 0:
		what = "symbolic link"
	}
	return &fileError{path, "not a regular file (" + what + ")", ErrNotRegular}
}

func tooLarge(path string, maxSize int64) error {
	return &fileError{path, "larger than " + strconv.FormatInt(maxSize, 10) + " bytes", ErrFileTooLarge}
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
//
// Nothing in the directory can make LoadCertificates block: the directory
// and each file are opened as by [ReadFile].
func LoadCertificates(dir string) ([]*Certificate, error) {
	names, err := readDirNames(dir)
	if err != nil {
		return nil, fmt.Errorf("cert: %w", err)
	}
	slices.Sort(names)
	var certs []*Certificate
	byKey := make(map[PublicKey]string)
	for _, name := range names {
		if !isCandidate(name) {
			continue
		}
		path := filepath.Join(dir, name)
		if _, err := StatFile(path); err != nil {
			continue // gone, or not a regular file
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
