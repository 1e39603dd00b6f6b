package sync

import (
	"context"
	"crypto/md5"
	"fmt"
	"io"
	"os"
	"path/filepath"
	gosync "sync"
	"time"

	"github.com/s3seal/s3seal/catalog"
)

// worker holds what the decide loop and the upload workers share.
type worker struct {
	u      *uploader
	db     *catalog.DB
	opts   Options
	remote *listing
	batch  *catalog.Batch
	report *reporter

	mu        gosync.Mutex // guards sum and attempted
	sum       *Summary
	attempted map[string]bool // paths whose upload this run started
}

// decideAll looks every entry up in the catalog and sends the ones that need
// more than a stat comparison to the workers. The catalog is read here, on
// one goroutine, a batch of paths per query, so a no-change run is a few
// hundred indexed queries for a hundred thousand files.
func (w *worker) decideAll(ctx context.Context, entries []Entry, tasks chan<- task) error {
	const batch = 500
	paths := make([]string, 0, batch)
	for start := 0; start < len(entries); start += batch {
		chunk := entries[start:min(start+batch, len(entries))]
		paths = paths[:0]
		for _, e := range chunk {
			paths = append(paths, e.Path)
		}
		rows, err := w.db.LookupMany(paths)
		if err != nil {
			return err
		}
		for _, e := range chunk {
			if err := w.decide(ctx, e, rows, tasks); err != nil {
				return err
			}
		}
	}
	return nil
}

// decide sends e to the workers unless its stat shows it needs nothing.
func (w *worker) decide(ctx context.Context, e Entry, rows map[string]catalog.File, tasks chan<- task) error {
	key, err := w.opts.objectKey(e.Path)
	if err != nil {
		w.report.report(Event{Kind: EventFail, Path: e.Path, Reason: "name", Err: err})
		return nil
	}
	t := task{entry: e, key: key}
	if row, ok := rows[e.Path]; ok {
		t.row = &row
	}
	t.dec = Decide(w.input(t, nil))
	if t.dec.Action == Skip {
		w.skipped(t)
		return nil
	}
	select {
	case tasks <- t:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w *worker) input(t task, plainMD5 *[16]byte) Input {
	in := Input{Local: t.entry, Row: t.row, ObjectKey: t.key, PlainMD5: plainMD5, Checksum: w.opts.Checksum}
	if r, ok := w.remote.Get(t.key); ok {
		in.Remote = &r
	}
	return in
}

func (w *worker) count(f func(*Summary)) {
	w.mu.Lock()
	f(w.sum)
	w.mu.Unlock()
}

// run carries one task out: hash if needed, then record or upload.
func (w *worker) run(ctx context.Context, t task) {
	if ctx.Err() != nil {
		return
	}
	if t.dec.Action == Hash {
		sum, err := hashFile(ctx, w.opts.Source, t.entry)
		if err != nil {
			w.fail(t, err)
			return
		}
		t.dec = Decide(w.input(t, &sum))
	}
	switch t.dec.Action {
	case Skip:
		w.skipped(t)
	case Record:
		w.record(t, catalog.File{PlainMD5: t.row.PlainMD5, ObjectKey: t.row.ObjectKey,
			ETag: t.row.ETag, CipherSize: t.row.CipherSize, UploadedAt: t.row.UploadedAt})
		w.skipped(t)
	case Upload:
		if !w.copied(ctx, t) {
			w.upload(ctx, t)
		}
	}
}

// skipped counts and reports a file that needs no upload: Skip, or Record
// (reason "touched": only its catalog row was refreshed).
func (w *worker) skipped(t task) {
	w.count(func(s *Summary) {
		if t.dec.Action == Record {
			s.Recorded++
		} else {
			s.Skipped++
		}
		s.SavedBytes += t.entry.Size
	})
	w.report.report(Event{Kind: EventSkip, Path: t.entry.Path, Reason: t.dec.Reason, Size: t.entry.Size})
}

// upload sends one file and records it once the server confirmed it.
func (w *worker) upload(ctx context.Context, t task) {
	w.report.report(Event{Kind: EventPlan, Path: t.entry.Path, Reason: t.dec.Reason, Size: t.entry.Size})
	if w.opts.DryRun {
		w.count(func(s *Summary) { s.Uploaded++; s.PlainBytes += t.entry.Size })
		return
	}
	base, err := statEntry(w.opts.Source, t.entry.Path)
	if err != nil {
		w.fail(t, err)
		return
	}
	w.report.report(Event{Kind: EventStart, Path: t.entry.Path, Reason: t.dec.Reason, Size: base.Size})
	w.count(func(*Summary) { w.attempted[t.entry.Path] = true })
	res, err := w.u.uploadFile(ctx, w.opts.Source, base, t.key)
	if err != nil {
		if ctx.Err() == nil {
			w.fail(t, err)
		}
		return
	}
	t.entry = base
	w.record(t, catalog.File{PlainMD5: res.plainMD5, ObjectKey: t.key, ETag: res.etag,
		CipherSize: res.cipherSize, UploadedAt: time.Now().Unix()})
	if res.multipart {
		// The row must be committed before the in-flight upload is
		// forgotten: a crash in between would otherwise lose both, and the
		// next run would send the whole file again.
		if err := w.batch.Flush(); err != nil {
			w.fail(t, fmt.Errorf("record in catalog: %w", err))
			return
		}
		if err := w.db.DeleteUpload(t.entry.Path); err != nil {
			w.fail(t, err)
			return
		}
	}
	w.count(func(s *Summary) {
		s.Uploaded++
		s.BytesSent += res.sent
		s.PlainBytes += base.Size
	})
	w.report.report(Event{Kind: EventDone, Path: t.entry.Path, Reason: t.dec.Reason, Size: base.Size, Bytes: res.cipherSize})
}

// record writes the catalog row for t with the stat it was read at.
func (w *worker) record(t task, f catalog.File) {
	if w.opts.DryRun {
		return
	}
	e := t.entry
	f.Path, f.Size, f.Mode = e.Path, e.Size, uint32(e.Mode)
	f.ModTime, f.ChangeTime, f.Inode, f.Device = e.ModTime, e.ChangeTime, e.Inode, e.Device
	if err := w.batch.Put(f); err != nil {
		w.fail(t, fmt.Errorf("record in catalog: %w", err))
	}
}

func (w *worker) fail(t task, err error) {
	w.report.report(Event{Kind: EventFail, Path: t.entry.Path, Reason: t.dec.Reason, Size: t.entry.Size, Err: err})
}

// hashFile returns the MD5 of a source file, checking that it did not
// change while it was read.
func hashFile(ctx context.Context, root string, e Entry) ([16]byte, error) {
	var sum [16]byte
	f, err := os.Open(filepath.Join(root, filepath.FromSlash(e.Path)))
	if err != nil {
		return sum, err
	}
	defer f.Close()
	h := md5.New()
	n, err := io.Copy(h, &ctxReader{ctx: ctx, r: f})
	if err != nil {
		return sum, fmt.Errorf("hash %s: %w", e.Path, err)
	}
	now, err := statEntry(root, e.Path)
	if err != nil || n != e.Size || !now.sameStat(e) {
		return sum, fmt.Errorf("hash %s: %w", e.Path, ErrChanged)
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// ctxReader stops a long read when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
