//go:build !unix

package cert

import (
	"errors"
	"os"
)

func umask() os.FileMode { return 0 }

func mkfifo(path string) error { return errors.ErrUnsupported }
