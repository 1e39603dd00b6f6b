package sync

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"path"
	"slices"

	"github.com/s3seal/s3seal/catalog"
)

// ErrTooManyDeletes is returned by Sync when more files were deleted locally
// than Options.MaxDelete allows; nothing was deleted then.
var ErrTooManyDeletes = errors.New("too many deletions")

// deleteBatch is how many objects one DeleteObjects request removes.
const deleteBatch = 1000

// DeleteInput is everything Deletions looks at.
type DeleteInput struct {
	Rows []catalog.File // the catalog
	// Scanned reports whether the scan found a regular file at a path; nil
	// when it found none.
	Scanned func(rel string) bool
	// Reported are the other paths the scan reported: unreadable folders and
	// files, symlinks, special files. They and everything under them are
	// kept, since their absence from Scanned says nothing about the file.
	Reported []string
	// Skip is the sync's filter: a path it excludes, or one under a folder
	// it excludes, was not deleted locally, only left out, and is kept.
	Skip func(rel string, dir bool) bool
}

// Deletions returns the catalog rows whose file was deleted locally, in the
// order of in.Rows: those whose path is neither among the scanned files, nor
// at or under a reported path, nor excluded by the filter. It is a pure
// function of its input.
func Deletions(in DeleteInput) []catalog.File {
	deleted := in.deleted()
	var gone []catalog.File
	for _, row := range in.Rows {
		if deleted(row.Path) {
			gone = append(gone, row)
		}
	}
	return gone
}

// deleted returns the test Deletions applies to each row's path (in.Rows
// aside), for a caller that reads the rows one at a time.
func (in DeleteInput) deleted() func(rel string) bool {
	reported := make(map[string]bool, len(in.Reported))
	for _, p := range in.Reported {
		reported[p] = true
	}
	return func(rel string) bool {
		present := in.Scanned != nil && in.Scanned(rel)
		return !present && !underReported(reported, rel) && !excludedPath(in.Skip, rel)
	}
}

// pathSet is the set of scanned paths that a --delete run asks about, held
// as sorted 64-bit hashes: 8 bytes a file, where the paths themselves take
// tens. A deleted file whose path hashes like a scanned one is kept, so a
// collision (odds about n/2^64 per deleted file among n scanned: one in
// 10^13 at 2,000,000) can only keep a file that is gone, never delete one
// that exists; the seed is new every run, so it does not happen twice.
type pathSet struct {
	seed   maphash.Seed
	hashes []uint64
	sorted bool
}

func newPathSet() *pathSet { return &pathSet{seed: maphash.MakeSeed()} }

// add puts rel into the set; call it before the first has.
func (s *pathSet) add(rel string) {
	s.hashes = append(s.hashes, maphash.String(s.seed, rel))
	s.sorted = false
}

// has reports whether rel, or a path that hashes like it, was added.
func (s *pathSet) has(rel string) bool {
	if !s.sorted {
		slices.Sort(s.hashes)
		s.sorted = true
	}
	_, found := slices.BinarySearch(s.hashes, maphash.String(s.seed, rel))
	return found
}

// underReported reports whether rel or a folder above it was reported.
func underReported(reported map[string]bool, rel string) bool {
	for p := rel; p != "."; p = path.Dir(p) {
		if reported[p] {
			return true
		}
	}
	return false
}

// excludedPath reports whether skip excludes rel or a folder above it.
func excludedPath(skip func(string, bool) bool, rel string) bool {
	if skip == nil {
		return false
	}
	if skip(rel, false) {
		return true
	}
	for p := path.Dir(rel); p != "."; p = path.Dir(p) {
		if skip(p, true) {
			return true
		}
	}
	return false
}

// deleteGone removes the objects, then the catalog rows, of the files
// deleted locally. A dry run reports them as plan events with reason
// "delete". Over maxDelete it deletes nothing and fails.
func deleteGone(ctx context.Context, db *catalog.DB, store Bucket, dryRun bool, maxDelete int, in DeleteInput, sum *Summary, r *reporter) error {
	// The rows are read one at a time and only those of deleted files kept.
	deleted := in.deleted()
	var gone []catalog.File
	err := db.Files(func(f catalog.File) error {
		if deleted(f.Path) {
			gone = append(gone, f)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read catalog: %w", err)
	}
	if dryRun {
		for _, row := range gone {
			r.report(Event{Kind: EventPlan, Action: "delete", Path: row.Path, Reason: "delete", Size: row.Size})
		}
	}
	if maxDelete >= 0 && len(gone) > maxDelete {
		return fmt.Errorf("%w: %d files were deleted locally, more than the limit of %d; nothing was deleted",
			ErrTooManyDeletes, len(gone), maxDelete)
	}
	if dryRun {
		sum.Deleted = len(gone)
		return nil
	}
	for start := 0; start < len(gone); start += deleteBatch {
		batch := gone[start:min(start+deleteBatch, len(gone))]
		keys := make([]string, len(batch))
		paths := make([]string, len(batch))
		for i, row := range batch {
			keys[i], paths[i] = row.ObjectKey, row.Path
		}
		// The object goes first: a crash in between leaves a row whose file
		// is gone, which the next run deletes again.
		if err := store.Delete(ctx, keys...); err != nil {
			return fmt.Errorf("delete objects: %w", err)
		}
		if err := db.Delete(paths...); err != nil {
			return fmt.Errorf("delete catalog rows: %w", err)
		}
		for _, row := range batch {
			sum.Deleted++
			r.report(Event{Kind: EventDelete, Path: row.Path, Size: row.Size})
		}
	}
	return nil
}
