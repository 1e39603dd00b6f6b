package sync

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"filippo.io/age"
	"golang.org/x/sync/errgroup"

	"github.com/s3seal/s3seal/catalog"
	"github.com/s3seal/s3seal/cipher"
)

// Options configure a sync.
type Options struct {
	Source     string // absolute path of the folder to back up
	Prefix     string // key prefix in the bucket, without leading or trailing "/"
	Recipients []age.Recipient
	Naming     cipher.Naming
	Checksum   bool  // hash every file, whatever its stat says
	DryRun     bool  // decide and report, change nothing anywhere
	Jobs       int   // files (and parts) in flight; 0 = 4
	PartSize   int64 // ciphertext bytes per part; 0 = DefaultPartSize
	PutOptions PutOptions
	// AbortUploadsAfter is the age past which multipart uploads under the
	// prefix that the catalog does not know are aborted (0 = never).
	AbortUploadsAfter time.Duration
	// Skip excludes paths (directories end without "/"; dir says which).
	Skip func(rel string, dir bool) bool
	// Delete removes, after the uploads and only when no file failed, the
	// objects and catalog rows of files deleted from the source (see
	// Deletions). Without it they are kept, as a backup should.
	Delete bool
	// MaxDelete, with Delete, makes the run fail with ErrTooManyDeletes,
	// deleting nothing, when more files than this would go; negative: no limit.
	MaxDelete int
	Report    Reporter
}

// Summary counts what a sync did.
type Summary struct {
	Files          int   // regular files in the source
	Uploaded       int   // files uploaded (with DryRun: files that would be)
	Copied         int   // new files made a server-side copy of an uploaded object with the same content
	Skipped        int   // files that needed nothing
	Recorded       int   // files whose stat changed but content did not
	Failed         int   // files that failed (see the fail events)
	Warnings       int   // paths passed over (symlinks, special files)
	Deleted        int   // files whose object was deleted (dry run: would be)
	BytesSent      int64 // ciphertext bytes sent in this run
	PlainBytes     int64 // plaintext bytes of the uploaded files
	SavedBytes     int64 // plaintext bytes of the files not uploaded: unchanged, or copied
	StaleUploads   int   // unknown multipart uploads found under the prefix
	AbortedUploads int   // of which were aborted
}

// task is one file that needs work beyond a stat comparison.
type task struct {
	entry Entry
	row   *catalog.File
	key   string
	dec   Decision
}

// Sync backs opts.Source up to the store under opts.Prefix and records every
// confirmed upload in db. Per-file failures are reported and counted in the
// summary; the error is for failures of the run itself (source missing,
// bucket unreachable, interrupted). An interrupted run keeps what finished.
func Sync(ctx context.Context, db *catalog.DB, store Bucket, opts Options) (Summary, error) {
	if opts.Jobs <= 0 {
		opts.Jobs = 4
	}
	if opts.PartSize <= 0 {
		opts.PartSize = DefaultPartSize
	}
	r := &reporter{fn: opts.Report}
	var sum Summary
	count := func(e Event) {
		switch e.Kind {
		case EventFail:
			sum.Failed++
		case EventWarn:
			sum.Warnings++
		}
		r.fn(e)
	}
	cr := &reporter{fn: count}
	if opts.Report == nil {
		r.fn = func(Event) {}
	}

	var entries []Entry
	var reported []string // paths the scan failed on or passed over
	var remote *listing
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		entries, err = Scan(gctx, opts.Source, opts.skip(), func(e Event) {
			reported = append(reported, e.Path)
			cr.report(e)
		})
		return err
	})
	g.Go(func() (err error) {
		remote, err = listRemote(gctx, store, opts.Prefix)
		return err
	})
	if err := g.Wait(); err != nil {
		return sum, err
	}
	sum.Files = len(entries)
	cr.report(scanEvent(entries))
	if err := settleUploads(ctx, db, store, opts, &sum, cr); err != nil {
		return sum, err
	}
	err := execute(ctx, db, store, opts, entries, remote, &sum, cr)
	if err != nil || !opts.Delete {
		return sum, err
	}
	if sum.Failed > 0 {
		cr.report(Event{Kind: EventInfo, Reason: "delete-skipped",
			Err: fmt.Errorf("no object deleted: %d files failed in this run", sum.Failed)})
		return sum, nil
	}
	err = deleteGone(ctx, db, store, opts, DeleteInput{Scanned: entries, Reported: reported, Skip: opts.skip()}, &sum, cr)
	return sum, err
}

// scanEvent announces the files a run will look at and their total size.
func scanEvent(entries []Entry) Event {
	var total int64
	for _, e := range entries {
		total += e.Size
	}
	return Event{Kind: EventScan, Count: len(entries), Size: total}
}

// skip combines the user's filter with the paths s3seal reserves.
func (o Options) skip() func(string, bool) bool {
	return func(rel string, dir bool) bool {
		if !o.Naming.Hidden && rel == ".s3seal" {
			return true // plain keys there would collide with internal objects
		}
		return o.Skip != nil && o.Skip(rel, dir)
	}
}

// listPrefix is the listing prefix for a key prefix: "p/" or "".
func listPrefix(prefix string) string {
	if prefix == "" {
		return ""
	}
	return prefix + "/"
}

// execute decides each file and runs the uploads on a fixed pool of workers.
func execute(ctx context.Context, db *catalog.DB, store Bucket, opts Options, entries []Entry, remote *listing, sum *Summary, r *reporter) error {
	u := &uploader{
		store: store, db: db, recipients: opts.Recipients,
		buffers:  newBufferPool(opts.Jobs, partSizeFor(0, opts.PartSize)),
		partSize: partSizeFor(0, opts.PartSize), putOpts: opts.PutOptions, report: r,
		inFlight: make(map[string]bool),
	}
	ups, err := db.Uploads()
	if err != nil {
		return err
	}
	for _, up := range ups {
		u.inFlight[up.Path] = true
	}
	batch := db.NewBatch(500)
	w := &worker{u: u, db: db, opts: opts, remote: remote, batch: batch, sum: sum, report: r,
		attempted: make(map[string]bool)}
	tasks := make(chan task)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(tasks)
		return w.decideAll(gctx, entries, tasks)
	})
	for range filesInFlight(opts.Jobs) {
		g.Go(func() error {
			for t := range tasks {
				w.run(gctx, t)
			}
			return nil
		})
	}
	stopFlushing := flushEvery(batch, 5*time.Second)
	err = g.Wait()
	stopFlushing()
	if ferr := batch.Flush(); ferr != nil {
		err = errors.Join(err, fmt.Errorf("record uploads: %w", ferr))
	}
	if err == nil {
		err = ctx.Err()
	}
	if err == nil && !opts.DryRun {
		err = dropUnneededUploads(ctx, u, w.attempted)
	}
	return err
}

// objectKey is the key of rel's object, or an error for a path the naming
// cannot represent.
func (o Options) objectKey(rel string) (string, error) {
	key := o.Naming.ObjectKey(o.Prefix, rel)
	if o.Naming.Hidden {
		return key, nil
	}
	if !utf8.ValidString(rel) {
		return "", errors.New("name is not valid UTF-8, which S3 keys require; use hidden names to back it up")
	}
	if len(key) > 1024 {
		return "", fmt.Errorf("object key is %d bytes, over S3's limit of 1,024; use hidden names to back it up", len(key))
	}
	return key, nil
}

// flushEvery commits batch every interval until the returned func is called,
// so that a killed run forgets at most a few seconds of small uploads.
// Errors are left to the final Flush, which retries the rows.
func flushEvery(batch *catalog.Batch, interval time.Duration) (stop func()) {
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				_ = batch.Flush()
			case <-done:
				return
			}
		}
	}()
	return func() { close(done); <-exited }
}
