//go:build unix

package cert

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// openFlags open a file for reading without ever blocking: O_NONBLOCK makes
// the open of a FIFO with no writer (or of a device that would wait)
// return at once, O_NOCTTY keeps a terminal from becoming the process's
// controlling terminal, O_CLOEXEC keeps the descriptor from a child
// process. Reads from a regular file ignore O_NONBLOCK.
const openFlags = syscall.O_RDONLY | syscall.O_NONBLOCK | syscall.O_NOCTTY | syscall.O_CLOEXEC

// statFile stats path, following symbolic links, without opening it.
func statFile(path string) (FileVersion, fs.FileMode, error) {
	var st syscall.Stat_t
	err := ignoringEINTR(func() error { return syscall.Stat(path, &st) })
	if err != nil {
		return FileVersion{}, 0, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	return statVersion(&st), modeOf(uint32(st.Mode)), nil
}

// openRead opens path with openFlags and checks, on the descriptor, that it
// is a file of the wanted type (a regular file, or a directory if dir is
// set). The descriptor is closed on failure.
func openRead(path string, dir bool) (fd int, v FileVersion, err error) {
	err = ignoringEINTR(func() error {
		var err error
		fd, err = syscall.Open(path, openFlags, 0)
		return err
	})
	if err != nil {
		return -1, FileVersion{}, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	var st syscall.Stat_t
	if err := ignoringEINTR(func() error { return syscall.Fstat(fd, &st) }); err != nil {
		syscall.Close(fd)
		return -1, FileVersion{}, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	mode := modeOf(uint32(st.Mode))
	switch {
	case dir && !mode.IsDir():
		syscall.Close(fd)
		return -1, FileVersion{}, &fs.PathError{Op: "open", Path: path, Err: syscall.ENOTDIR}
	case !dir && !mode.IsRegular():
		syscall.Close(fd)
		return -1, FileVersion{}, notRegular(path, mode)
	}
	return fd, statVersion(&st), nil
}

// readFile reads the regular file at path, of at most maxSize bytes.
func readFile(path string, maxSize int64) ([]byte, FileVersion, error) {
	fd, v, err := openRead(path, false)
	if err != nil {
		return nil, FileVersion{}, err
	}
	defer syscall.Close(fd)
	if v.size > maxSize {
		return nil, FileVersion{}, tooLarge(path, maxSize)
	}
	// One byte more than allowed, to see a file that grew since fstat.
	buf := make([]byte, 0, v.size+1)
	for {
		if int64(len(buf)) > maxSize {
			return nil, FileVersion{}, tooLarge(path, maxSize)
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		want := min(int64(cap(buf)-len(buf)), maxSize+1-int64(len(buf)))
		var n int
		err := ignoringEINTR(func() error {
			var err error
			n, err = syscall.Read(fd, buf[len(buf):int64(len(buf))+want])
			return err
		})
		if err != nil {
			return nil, FileVersion{}, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if n <= 0 {
			return buf, v, nil
		}
		buf = buf[:len(buf)+n]
	}
}

// readDirNames returns the names in the directory dir, in directory order.
func readDirNames(dir string) ([]string, error) {
	fd, _, err := openRead(dir, true)
	if err != nil {
		return nil, err
	}
	// Back to blocking mode, so that os.File reads the directory in the
	// calling goroutine, as for any directory it opens itself.
	if err := syscall.SetNonblock(fd, false); err != nil {
		syscall.Close(fd)
		return nil, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	f := os.NewFile(uintptr(fd), dir)
	defer f.Close()
	return f.Readdirnames(-1)
}

// modeOf turns a st_mode into the type bits of an fs.FileMode.
func modeOf(m uint32) fs.FileMode {
	switch m & syscall.S_IFMT {
	case syscall.S_IFREG:
		return 0
	case syscall.S_IFDIR:
		return fs.ModeDir
	case syscall.S_IFIFO:
		return fs.ModeNamedPipe
	case syscall.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFBLK:
		return fs.ModeDevice
	case syscall.S_IFSOCK:
		return fs.ModeSocket
	case syscall.S_IFLNK:
		return fs.ModeSymlink
	}
	return fs.ModeIrregular
}

func ignoringEINTR(f func() error) error {
	for {
		err := f()
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
