//go:build !unix

package catalog

import (
	"errors"
	"fmt"
)

// lockFile is not implemented off Unix: the catalog relies on flock(2) so
// that a dead holder never blocks the next run.
type lockFile struct{}

func acquireLock(lockPath, catalogPath string) (*lockFile, error) {
	return nil, fmt.Errorf("lock catalog %s: %w", catalogPath,
		errors.New("exclusive catalog locking is only implemented on Unix systems"))
}

func (l *lockFile) release() error { return nil }
