package sync

import (
	"context"
	"errors"
	"fmt"
	"path"

	"github.com/s3seal/s3seal/catalog"
)

// ErrTooManyDeletes is returned by Sync when more files were deleted locally
// than Options.MaxDelete allows; nothing was deleted then.
var ErrTooManyDeletes = errors.New("too many deletions")

// deleteBatch is how many objects one DeleteObjects request removes.
const deleteBatch = 1000

// DeleteInput is everything Deletions looks at.
type DeleteInput struct {
	Rows    []catalog.File // the catalog
	Scanned []Entry        // the regular files the scan found
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
	present := make(map[string]bool, len(in.Scanned)+len(in.Reported))
	for _, e := range in.Scanned {
		present[e.Path] = true
	}
	reported := make(map[string]bool, len(in.Reported))
	for _, p := range in.Reported {
		reported[p] = true
	}
	var gone []catalog.File
	for _, row := range in.Rows {
		if present[row.Path] || underReported(reported, row.Path) || excludedPath(in.Skip, row.Path) {
			continue
		}
		gone = append(gone, row)
	}
	return gone
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
	if err := db.Files(func(f catalog.File) error { in.Rows = append(in.Rows, f); return nil }); err != nil {
		return fmt.Errorf("read catalog: %w", err)
	}
	gone := Deletions(in)
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
