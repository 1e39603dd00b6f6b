//go:build unix

package catalog

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"
)

// lockFile is an exclusive flock(2) on a catalog's ".lock" file. The kernel
// releases it when the descriptor is closed or the process dies.
type lockFile struct {
	f *os.File
}

// acquireLock takes the lock at lockPath without waiting, and records this
// process as its holder in the file. If another open file description holds
// it (another process, or another Open in this one), it returns a
// *LockedError for catalogPath naming the holder.
func acquireLock(lockPath, catalogPath string) (*lockFile, error) {
	// No O_TRUNC: the file may belong to a live holder whose identity we
	// want to read.
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock catalog %s: %w", catalogPath, err)
	}
	if err := flockNB(f); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &LockedError{Path: catalogPath, Holder: readHolder(f)}
		}
		return nil, fmt.Errorf("lock catalog %s: %w", catalogPath, err)
	}
	if err := writeHolder(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock catalog %s: record holder in %s: %w", catalogPath, lockPath, err)
	}
	return &lockFile{f: f}, nil
}

func flockNB(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err != syscall.EINTR {
			return err
		}
	}
}

// release drops the lock. The file stays: removing it would race with a
// process that opened it and is about to lock it.
func (l *lockFile) release() error {
	return l.f.Close()
}

// holderLine describes this process as the lock holder, for example
// "pid 1234 on laptop (started 2026-01-02T15:04:05Z)".
func holderLine() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown host"
	}
	return fmt.Sprintf("pid %d on %s (started %s)", os.Getpid(), host,
		time.Now().UTC().Format(time.RFC3339))
}

func writeHolder(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt([]byte(holderLine()+"\n"), 0); err != nil {
		return err
	}
	return nil
}

// readHolder returns the holder line a live holder wrote. The holder writes
// it right after locking, so an empty file is retried briefly before giving
// up with a generic description.
func readHolder(f *os.File) string {
	const maxHolder = 256
	for attempt := 0; attempt < 20; attempt++ {
		buf := make([]byte, maxHolder)
		n, err := f.ReadAt(buf, 0)
		if err != nil && err != io.EOF {
			break
		}
		if line := sanitizeHolder(buf[:n]); line != "" {
			return line
		}
		time.Sleep(5 * time.Millisecond)
	}
	return "another process"
}

// sanitizeHolder keeps the first line of what a holder wrote, printable
// ASCII only, since it ends up in an error message on a terminal.
func sanitizeHolder(b []byte) string {
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, strings.TrimSpace(line))
}
