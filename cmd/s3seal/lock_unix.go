//go:build unix

package main

import (
	"errors"
	"os"
	"syscall"
)

// errLockHeld is returned by lockFile and lockDir when another open file
// description holds the lock.
var errLockHeld = errors.New("locked by another process")

// lockFile opens (creating it, mode 0600) the file at path and takes an
// exclusive flock(2) on it, waiting for it if wait is true, else failing
// with errLockHeld. The kernel drops the lock when the file is closed or the
// process dies.
func lockFile(path string, wait bool) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := flock(f, wait); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// lockDir takes an exclusive flock(2) on the folder at path without
// waiting, failing with errLockHeld when another process holds it. It
// writes nothing in the folder.
func lockDir(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if err := flock(f, false); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func flock(f *os.File, wait bool) error {
	how := syscall.LOCK_EX
	if !wait {
		how |= syscall.LOCK_NB
	}
	for {
		err := syscall.Flock(int(f.Fd()), how)
		switch {
		case err == syscall.EINTR:
			continue
		case errors.Is(err, syscall.EWOULDBLOCK):
			return errLockHeld
		}
		return err
	}
}
