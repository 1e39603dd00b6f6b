package s3test

import "syscall"

// childAttr makes the kernel kill the server when the test binary dies, so a
// crashed or killed test run leaves no server behind.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
