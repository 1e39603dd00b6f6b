package sync

import (
	"context"
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
	if err := w.sourceAsRecorded(ctx, src); err != nil {
		if rerr := w.runError(t, err); rerr != nil {
			return rerr
		}
		if ctx.Err() == nil {
			w.fail(t, fmt.Errorf("copy from %s: %w", src.Path, err))
		}
		return nil
	}
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

// sourceAsRecorded checks, just before the copy, that the object of src is
// still the one its row records: the listing said so when the run began,
// which may be long ago. ETags are compared as tokens: the copy's own ETag
// says nothing of its source (a copy of a multipart object, or one under
// SSE-KMS, gets another).
func (w *worker) sourceAsRecorded(ctx context.Context, src *catalog.File) error {
	obj, err := w.u.store.Head(ctx, src.ObjectKey)
	if err != nil {
		return err
	}
	if obj.ETag != src.ETag || obj.Size != src.CipherSize {
		return fmt.Errorf("the object %s has ETag %s and %d bytes now, the catalog recorded %s and %d",
			src.ObjectKey, obj.ETag, obj.Size, src.ETag, src.CipherSize)
	}
	return nil
}
