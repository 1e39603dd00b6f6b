package sync

import (
	"context"
	"errors"
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
	opts   *run
	remote *remoteIndex
	batch  *catalog.Batch
	report *reporter

	mu        gosync.Mutex // guards sum and attempted
	sum       *Summary
	attempted map[string]bool // paths with an upload from an earlier run whose upload this run started
}

// decideAll looks every entry up in the catalog and the listing and sends
// the ones that need more than a stat comparison to the workers. Both are
// read here, on one goroutine, a batch of paths per query, so a no-change
// run is a few hundred indexed queries for a hundred thousand files.
func (w *worker) decideAll(ctx context.Context, batches <-chan []Entry, tasks chan<- task) error {
	paths := make([]string, 0, scanBatch)
	keys := make([]string, 0, scanBatch)
	for {
		var chunk []Entry
		select {
		case b, ok := <-batches:
			if !ok {
				return nil
			}
			chunk = b
		case <-ctx.Done():
			return ctx.Err()
		}
		paths, keys = paths[:0], keys[:0]
		for _, e := range chunk {
			key, err := w.opts.objectKey(e.Path)
			if err != nil {
				w.report.report(Event{Kind: EventFail, Path: e.Path, Reason: "name", Err: err})
				key = "" // no object: the file is not decided
			}
			paths, keys = append(paths, e.Path), append(keys, key)
		}
		rows, err := w.db.LookupMany(paths)
		if err != nil {
			return err
		}
		remotes, err := w.remote.lookup(keys)
		if err != nil {
			return err
		}
		for i, e := range chunk {
			if keys[i] == "" {
				continue
			}
			if err := w.decide(ctx, task{entry: e, key: keys[i]}, rows, remotes, tasks); err != nil {
				return err
			}
		}
	}
}

// decide sends t, a file and its key, to the workers unless its stat shows
// it needs nothing; rows and remotes are what the catalog and the listing
// hold of its batch.
func (w *worker) decide(ctx context.Context, t task, rows map[string]catalog.File, remotes map[string]Remote, tasks chan<- task) error {
	if row, ok := rows[t.entry.Path]; ok {
		t.row = &row
	}
	if r, ok := remotes[t.key]; ok {
		t.remote = &r
	}
	in, err := w.input(t, nil)
	if err != nil {
		return err
	}
	t.dec = Decide(in)
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

// input gathers what Decide needs for t: the listing's view of its object
// (looked up with its batch), whether it has an upload in flight, and for a
// new file whether it may be a copy (with sums, the rows of its content and
// their objects).
func (w *worker) input(t task, sums *plainSums) (Input, error) {
	in := Input{Local: t.entry, Row: t.row, ObjectKey: t.key, Checksum: w.opts.Checksum,
		InFlight: w.u.inFlight[t.entry.Path], Remote: t.remote}
	if sums != nil {
		in.PlainMD5, in.PlainSHA256 = &sums.md5, &sums.sha256
	}
	if t.row != nil || in.InFlight || t.entry.Size < copyMinSize {
		return in, nil
	}
	var err error
	if in.SizeKnown, err = w.db.HasSize(t.entry.Size); err != nil || !in.SizeKnown || sums == nil {
		return in, err
	}
	row, ok, err := w.db.FindByMD5(sums.md5, t.entry.Size)
	if err != nil || !ok {
		return in, err
	}
	twin := Twin{Row: row}
	if twin.Remote, err = w.remote.get(row.ObjectKey); err != nil {
		return in, err
	}
	in.Twins = []Twin{twin}
	return in, nil
}

func (w *worker) count(f func(*Summary)) {
	w.mu.Lock()
	f(w.sum)
	w.mu.Unlock()
}

// run carries one task out: hash if the decision says so and decide again,
// then report the decision and, unless this is a dry run, carry it out. A
// file that was hashed and needs no upload gets its row refreshed with the
// SHA-256 when the row has none yet. Its failures are the file's, reported
// as events, except one that would fail every file alike (see runError):
// that one is returned, and ends the run.
func (w *worker) run(ctx context.Context, t task) error {
	if ctx.Err() != nil {
		return nil
	}
	var hashed *plainSums
	if t.dec.Action == Hash {
		sums, err := hashFile(ctx, w.opts.Source, t.entry)
		if err != nil {
			w.fail(t, err)
			return nil
		}
		hashed = &sums
		in, err := w.input(t, hashed)
		if err != nil {
			w.fail(t, err)
			return nil
		}
		t.dec = Decide(in)
	}
	switch t.dec.Action {
	case Skip:
		if hashed != nil && t.row != nil && !t.row.HasSHA256 {
			w.refresh(t, hashed, t.row.ETag)
		}
		w.skipped(t)
	case Record:
		if t.dec.Reason == "etag-refreshed" {
			w.u.etags.seen(t.entry.Path)
		}
		w.refresh(t, hashed, t.dec.ETag)
		w.skipped(t)
	case Upload, Resume, Copy:
		w.planned(t)
		switch {
		case w.opts.DryRun:
			w.count(func(s *Summary) {
				if t.dec.Action == Copy {
					s.Copied++
					s.SavedBytes += t.entry.Size
				} else {
					s.Uploaded++
					s.PlainBytes += t.entry.Size
				}
			})
		case t.dec.Action == Copy:
			return w.copy(ctx, t, *hashed)
		default:
			return w.upload(ctx, t)
		}
	}
	return nil
}

// runError returns the error that ends the run when err, the failure of
// t's upload or copy, would be every file's: a storage class the server
// refuses. It returns nil for a failure of the file alone.
func (w *worker) runError(t task, err error) error {
	if !errors.Is(err, ErrInvalidStorageClass) {
		return nil
	}
	class := "storage class " + w.opts.PutOptions.StorageClass
	if w.opts.PutOptions.StorageClass == "" {
		class = "the default storage class"
	}
	return fmt.Errorf("the server refuses %s (%s): %w", class, t.entry.Path, err)
}

// planned reports the decision to transfer t.
func (w *worker) planned(t task) {
	e := Event{Kind: EventPlan, Action: t.dec.Action.String(), Path: t.entry.Path, Reason: t.dec.Reason, Size: t.entry.Size}
	if t.dec.From != nil {
		e.From = t.dec.From.Path
	}
	w.report.report(e)
}

// skipped counts and reports a file that needs no upload: Skip, or Record
// (reason "touched" or "etag-refreshed": only its catalog row was
// refreshed).
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

// upload sends one file and records it once the server confirmed it. It
// returns only an error that ends the run (see runError).
func (w *worker) upload(ctx context.Context, t task) error {
	base, err := statEntry(w.opts.Source, t.entry.Path)
	if err != nil {
		w.fail(t, err)
		return nil
	}
	w.report.report(Event{Kind: EventStart, Path: t.entry.Path, Reason: t.dec.Reason, Size: base.Size})
	if w.u.inFlight[t.entry.Path] {
		// Only the uploads the run began with can be unneeded (see
		// dropUnneededUploads): a set of every file sent would grow with
		// the tree on a first run.
		w.count(func(*Summary) { w.attempted[t.entry.Path] = true })
	}
	res, err := w.u.uploadFile(ctx, w.opts.Source, base, t.key)
	if err != nil {
		if rerr := w.runError(t, err); rerr != nil {
			return rerr
		}
		if ctx.Err() == nil {
			w.fail(t, err)
		}
		return nil
	}
	t.entry = base
	w.record(t, withSums(catalog.File{ObjectKey: t.key, ETag: res.etag, VersionID: res.version,
		RetainUntil: w.opts.retainedUntil(res.version, res.begun),
		CipherSize:  res.cipherSize, UploadedAt: time.Now().Unix()}, res.plain))
	if res.multipart {
		// The row must be committed before the in-flight upload is
		// forgotten: a crash in between would otherwise lose both, and the
		// next run would send the whole file again.
		if err := w.batch.Flush(); err != nil {
			w.fail(t, fmt.Errorf("record in catalog: %w", err))
			return nil
		}
		if err := w.db.DeleteUpload(t.entry.Path); err != nil {
			w.fail(t, err)
			return nil
		}
	}
	w.count(func(s *Summary) {
		s.Uploaded++
		s.PlainBytes += base.Size
	})
	w.report.report(Event{Kind: EventDone, Path: t.entry.Path, Reason: t.dec.Reason, Size: base.Size, Bytes: res.cipherSize})
	return nil
}

// refresh records t's row again with the stat the file was read at, etag
// for its object's and, when the file was hashed, the hashes (without sums
// the stat is the row's, and so is the content).
func (w *worker) refresh(t task, sums *plainSums, etag string) {
	f := *t.row
	f.ETag = etag
	if sums != nil {
		f = withSums(f, *sums)
	}
	w.record(t, f)
}

// withSums returns f with the plaintext hashes sums.
func withSums(f catalog.File, sums plainSums) catalog.File {
	f.PlainMD5, f.PlainSHA256, f.HasSHA256 = sums.md5, sums.sha256, true
	return f
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

// hashFile returns the MD5 and SHA-256 of a source file, computed in one
// read, checking that it did not change while it was read.
func hashFile(ctx context.Context, root string, e Entry) (plainSums, error) {
	f, err := os.Open(filepath.Join(root, filepath.FromSlash(e.Path)))
	if err != nil {
		return plainSums{}, err
	}
	defer f.Close()
	h := newPlainHash()
	n, err := io.Copy(h, &ctxReader{ctx: ctx, r: f})
	if err != nil {
		return plainSums{}, fmt.Errorf("hash %s: %w", e.Path, err)
	}
	now, err := statEntry(root, e.Path)
	if err != nil || n != e.Size || !now.sameStat(e) {
		return plainSums{}, fmt.Errorf("hash %s: %w", e.Path, ErrChanged)
	}
	return h.sums(), nil
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
