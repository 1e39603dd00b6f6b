package sync

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/s3seal/s3seal/catalog"
)

// renameMinSize is the smallest new file that is checked for being a copy
// of one already uploaded. The check reads the file once more before its
// upload; below this size an upload costs about what the check saves.
const renameMinSize = 1 << 20

// copied turns a new file into a server-side copy when its content is that
// of an object this catalog uploaded and the bucket still lists with the
// recorded ETag: a renamed or duplicated file then costs no upload. The
// copy is the same age ciphertext, so it decrypts to the same bytes. It
// reports whether the file was handled (copied, or failed and reported);
// false sends it on to a normal upload.
func (w *worker) copied(ctx context.Context, t task) bool {
	if t.row != nil || t.entry.Size < renameMinSize || w.opts.DryRun {
		return false
	}
	src, sums, ok := w.copySource(ctx, t)
	if !ok {
		return false
	}
	w.report.report(Event{Kind: EventPlan, Path: t.entry.Path, Reason: t.dec.Reason, Size: t.entry.Size})
	etag, err := w.u.store.Copy(ctx, src.ObjectKey, t.key, w.opts.PutOptions)
	if err != nil {
		if ctx.Err() == nil {
			w.fail(t, fmt.Errorf("copy from %s: %w", src.Path, err))
		}
		return true
	}
	if isMD5ETag(src.ETag) && etag != src.ETag {
		// A single-part source keeps its ETag when copied; another one
		// means the source object is not the one the catalog recorded.
		w.fail(t, fmt.Errorf("copy from %s: etag %s, want %s", src.Path, etag, src.ETag))
		return true
	}
	w.record(t, withSums(catalog.File{ObjectKey: t.key, ETag: etag,
		CipherSize: src.CipherSize, UploadedAt: time.Now().Unix()}, sums))
	w.count(func(s *Summary) {
		s.Copied++
		s.SavedBytes += t.entry.Size
	})
	w.report.report(Event{Kind: EventDone, Path: t.entry.Path, Reason: "copied", Size: t.entry.Size})
	return true
}

// copySource hashes t's file when the catalog has a row of its size, and
// returns a row with the same content whose object is listed unchanged,
// with the file's hashes. A row whose SHA-256 is not the file's is an MD5
// collision, not a copy. The copy's row gets the file's SHA-256, which is
// the source row's when that has one.
func (w *worker) copySource(ctx context.Context, t task) (catalog.File, plainSums, bool) {
	var none plainSums
	if ok, err := w.db.HasSize(t.entry.Size); err != nil || !ok {
		return catalog.File{}, none, false
	}
	sums, err := hashFile(ctx, w.opts.Source, t.entry)
	if err != nil {
		return catalog.File{}, none, false // the upload reads it again and reports
	}
	src, ok, err := w.db.FindByMD5(sums.md5, t.entry.Size)
	if err != nil || !ok || src.HasSHA256 && src.PlainSHA256 != sums.sha256 {
		return catalog.File{}, none, false
	}
	listed, ok := w.remote.Get(src.ObjectKey)
	if !ok || listed.ETag != src.ETag || listed.Size != src.CipherSize {
		return catalog.File{}, none, false
	}
	return src, sums, true
}

// isMD5ETag reports whether etag is the plain MD5 a single-part object has.
func isMD5ETag(etag string) bool {
	b, err := hex.DecodeString(etag)
	return err == nil && len(b) == 16
}
