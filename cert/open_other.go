//go:build !unix

package cert

import (
	"io"
	"io/fs"
	"os"
)

// statFile stats path, following symbolic links, without opening it.
func statFile(path string) (FileVersion, fs.FileMode, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return FileVersion{}, 0, err
	}
	return infoVersion(fi), fi.Mode().Type(), nil
}

// infoVersion is the FileVersion of fi. Without a portable inode number
// and change time, it has the size and modification time only.
func infoVersion(fi fs.FileInfo) FileVersion {
	return FileVersion{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
}

// readFile reads the regular file at path, of at most maxSize bytes. These
// systems have no FIFOs that block an open for reading, so a plain open is
// used; the type is still checked on the open file.
func readFile(path string, maxSize int64) ([]byte, FileVersion, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, FileVersion{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, FileVersion{}, err
	}
	if !fi.Mode().IsRegular() {
		return nil, FileVersion{}, notRegular(path, fi.Mode().Type())
	}
	if fi.Size() > maxSize {
		return nil, FileVersion{}, tooLarge(path, maxSize)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return nil, FileVersion{}, err
	}
	if int64(len(data)) > maxSize {
		return nil, FileVersion{}, tooLarge(path, maxSize)
	}
	return data, infoVersion(fi), nil
}

// readDirNames returns the names in the directory dir, in directory order.
func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}
