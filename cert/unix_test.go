//go:build unix

package cert

import (
	"os"
	"syscall"
)

// umask returns the process umask.
func umask() os.FileMode {
	m := syscall.Umask(0)
	syscall.Umask(m)
	return os.FileMode(m)
}

func mkfifo(path string) error { return syscall.Mkfifo(path, 0o600) }
