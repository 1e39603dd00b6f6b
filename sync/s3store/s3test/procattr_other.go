//go:build !linux

package s3test

import "syscall"

// childAttr returns the default attributes: only Linux can tie the server's
// life to the test binary's.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{}
}
