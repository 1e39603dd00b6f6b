package sync

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/s3seal/s3seal/catalog"
)

// copy makes t's object a server-side copy of the object of t.dec.From,
// which has t's content (sums) and which the listing showed as recorded: a
// renamed or duplicated file then costs no upload. The copy is the same
// age ciphertext, so it decrypts to the same bytes. It returns only an
// error that ends the run (see runError).
func (w *worker) copy(ctx context.Context, t task, sums plainSums) error {
	src := t.dec.From
	obj, err := w.u.store.Copy(ctx, src.ObjectKey, t.key, w.opts.PutOptions)
	if err != nil {
		if rerr := w.runError(t, err); rerr != nil {
			return rerr
		}
		if ctx.Err() == nil {
			w.fail(t, fmt.Errorf("copy from %s: %w", src.Path, err))
		}
		return nil
	}
	if isMD5ETag(src.ETag) && obj.ETag != src.ETag {
		// A single-part source keeps its ETag when copied; another one
		// means the source object is not the one the catalog recorded.
		w.fail(t, fmt.Errorf("copy from %s: etag %s, want %s", src.Path, obj.ETag, src.ETag))
		return nil
	}
	// The copy's row gets the file's hashes, the source row's SHA-256 when
	// that has one (Decide checked they agree).
	w.record(t, withSums(catalog.File{ObjectKey: t.key, ETag: obj.ETag, VersionID: obj.VersionID,
		RetainUntil: w.opts.retainedUntil(obj.VersionID, true),
		CipherSize:  src.CipherSize, UploadedAt: time.Now().Unix()}, sums))
	w.count(func(s *Summary) {
		s.Copied++
		s.SavedBytes += t.entry.Size
	})
	w.report.report(Event{Kind: EventDone, Path: t.entry.Path, Reason: "copied", Size: t.entry.Size})
	return nil
}

// isMD5ETag reports whether etag is the plain MD5 a single-part object has.
func isMD5ETag(etag string) bool {
	b, err := hex.DecodeString(etag)
	return err == nil && len(b) == 16
}
