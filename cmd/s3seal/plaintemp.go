package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/s3seal/s3seal/catalog"
)

// privateTemp is a folder for the temporary plaintext of one run of a
// command that has no catalog of its own, such as the decrypted catalog a
// restore downloads: DATADIR/tmp/KIND-RANDOM, mode 0700, never the system's
// temporary folder. The run holds a lock on it while it lives, so that the
// next run of the same kind can tell a folder a killed run left (and remove
// it) from one a live run uses.
type privateTemp struct {
	dir  string
	lock *os.File
}

// newPrivateTemp removes the folders of kind that killed runs left, then
// creates and locks a new one.
func newPrivateTemp(kind string) (*privateTemp, error) {
	data, err := catalog.DataDir()
	if err != nil {
		return nil, err
	}
	root := filepath.Join(data, "tmp")
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("create temporary folder: %w", err)
	}
	if err := os.Chmod(root, 0o700); err != nil {
		return nil, fmt.Errorf("create temporary folder: %w", err)
	}
	// The guard makes sweeping and creating one step: a sweeper never sees
	// a new folder before its lock is taken.
	guard, err := lockFile(filepath.Join(root, ".lock"), true)
	if err != nil {
		return nil, fmt.Errorf("lock temporary folder %s: %w", root, err)
	}
	defer guard.Close()
	if err := sweepPrivateTemp(root, kind); err != nil {
		return nil, fmt.Errorf("remove stale temporary folders in %s: %w", root, err)
	}
	dir, err := os.MkdirTemp(root, kind+"-")
	if err != nil {
		return nil, fmt.Errorf("create temporary folder: %w", err)
	}
	lock, err := lockFile(filepath.Join(dir, ".lock"), false)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("lock temporary folder %s: %w", dir, err)
	}
	return &privateTemp{dir: dir, lock: lock}, nil
}

// remove deletes the folder and its contents, then drops the lock.
func (p *privateTemp) remove() error {
	err := os.RemoveAll(p.dir)
	p.lock.Close()
	return err
}

// sweepPrivateTemp removes the folders of kind under root whose lock no live
// run holds. Call it with root's guard held.
func sweepPrivateTemp(root, kind string) error {
	entries, err := os.ReadDir(root)
	if err != nil {
		return err
	}
	for _, entry := range entries {
		if !entry.IsDir() || !strings.HasPrefix(entry.Name(), kind+"-") {
			continue
		}
		dir := filepath.Join(root, entry.Name())
		lock, err := lockFile(filepath.Join(dir, ".lock"), false)
		if errors.Is(err, errLockHeld) {
			continue // a live run's
		}
		if err != nil {
			return err
		}
		err = os.RemoveAll(dir)
		lock.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
