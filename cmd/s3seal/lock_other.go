//go:build !unix

package main

import (
	"errors"
	"os"
)

// errLockHeld is returned by lockFile and lockDir when another process holds
// the lock.
var errLockHeld = errors.New("locked by another process")

// errNoLocks: like the catalog, the temporary folders rely on flock(2).
var errNoLocks = errors.New("file locking is only implemented on Unix systems")

func lockFile(path string, wait bool) (*os.File, error) { return nil, errNoLocks }

func lockDir(path string) (*os.File, error) { return nil, errNoLocks }
