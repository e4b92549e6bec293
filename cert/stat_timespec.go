//go:build darwin || freebsd || netbsd

package cert

import "syscall"

func statVersion(st *syscall.Stat_t) FileVersion {
	return FileVersion{
		dev:   uint64(st.Dev),
		ino:   uint64(st.Ino),
		size:  int64(st.Size),
		mtime: st.Mtimespec.Nano(),
		ctime: st.Ctimespec.Nano(),
	}
}
