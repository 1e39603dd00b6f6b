package sync

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Entry is one regular file found by Scan, with the stat that decides
// whether it must be hashed again.
type Entry struct {
	Path       string // relative to the source, slash-separated
	Size       int64
	Mode       fs.FileMode // permission bits
	ModTime    int64       // unix nanoseconds
	ChangeTime int64       // unix nanoseconds
	Inode      uint64
	Device     uint64
}

// sameStat reports whether two stats describe a file that was not modified
// in between, as far as the file system can tell.
func (e Entry) sameStat(o Entry) bool {
	return e.Size == o.Size && e.ModTime == o.ModTime &&
		e.ChangeTime == o.ChangeTime && e.Inode == o.Inode
}

// entryFromInfo fills an Entry from an lstat result.
func entryFromInfo(rel string, fi fs.FileInfo) Entry {
	e := Entry{
		Path:    rel,
		Size:    fi.Size(),
		Mode:    fi.Mode().Perm() | fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky),
		ModTime: fi.ModTime().UnixNano(),
	}
	sysStat(fi, &e)
	return e
}

// statEntry stats one file of the source again, for the checks around a read.
func statEntry(root, rel string) (Entry, error) {
	fi, err := os.Lstat(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		return Entry{}, err
	}
	if !fi.Mode().IsRegular() {
		return Entry{}, fmt.Errorf("%s is no longer a regular file", rel)
	}
	return entryFromInfo(rel, fi), nil
}

// scanBatch is how many entries Scan hands over at a time: enough that
// a catalog query per batch costs little, few enough that a batch is small.
const scanBatch = 500

// Scan walks root and hands its regular files to emit, in batches of at
// most scanBatch entries in the order of the walk (each folder's names in
// lexical order), so that what holds the files is the consumer's choice.
// emit owns each batch it is given; an error from it stops the walk and is
// returned. Symbolic links are not followed and special files (fifos,
// sockets, devices) are skipped; both are reported as warnings, as are
// unreadable directories. skip, if not nil, is asked about every path
// (directories end in "/") and excluded paths are never opened. Scan fails
// only if root itself cannot be walked, or emit fails.
func Scan(ctx context.Context, root string, skip func(rel string, dir bool) bool, report func(Event), emit func([]Entry) error) error {
	fi, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("scan source: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("scan source %s: not a directory", root)
	}
	batch := make([]Entry, 0, scanBatch)
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		if path == root {
			return err
		}
		rel := filepath.ToSlash(strings.TrimPrefix(path, root+string(filepath.Separator)))
		if err != nil {
			report(Event{Kind: EventFail, Path: rel, Reason: "unreadable", Err: err})
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if skip != nil && skip(rel, d.IsDir()) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		switch t := d.Type(); {
		case t.IsDir():
			return nil
		case t&fs.ModeSymlink != 0:
			report(Event{Kind: EventWarn, Path: rel, Reason: "symlink", Err: errors.New("symbolic link not followed")})
			return nil
		case !t.IsRegular():
			report(Event{Kind: EventWarn, Path: rel, Reason: "special", Err: fmt.Errorf("special file (%v) skipped", t)})
			return nil
		}
		info, err := d.Info()
		if err != nil {
			report(Event{Kind: EventFail, Path: rel, Reason: "unreadable", Err: err})
			return nil
		}
		if batch = append(batch, entryFromInfo(rel, info)); len(batch) == scanBatch {
			full := batch
			batch = make([]Entry, 0, scanBatch)
			return emit(full)
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = emit(batch)
	}
	if err != nil {
		return fmt.Errorf("scan source %s: %w", root, err)
	}
	return nil
}

// scanAll is Scan collected into one slice sorted by path, for the callers
// that compare whole trees (audit).
func scanAll(ctx context.Context, root string, skip func(rel string, dir bool) bool, report func(Event)) ([]Entry, error) {
	var entries []Entry
	err := Scan(ctx, root, skip, report, func(batch []Entry) error {
		entries = append(entries, batch...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Path < entries[j].Path })
	return entries, nil
}
