//go:build !linux

package krbtest

import "syscall"

// sysProcAttr has nothing to add outside Linux: a KDC outlives a test
// binary that dies without running its cleanups.
func sysProcAttr() *syscall.SysProcAttr { return nil }
