package krbtest

import "syscall"

// sysProcAttr makes the kernel kill the KDC when the thread that started
// it ends, which covers a test binary that dies without running its
// cleanups (see launch).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
