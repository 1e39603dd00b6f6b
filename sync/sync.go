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
	Source string // absolute path of the folder to back up
	Target string // "s3://bucket/prefix", which the catalog is bound to
	Prefix string // key prefix in the bucket, without leading or trailing "/"
	// Naming chooses hidden or plain object names for a new target; a
	// known target keeps its own and refuses the other.
	Naming NamingChoice
	// CreateBucket says the bucket does not exist and is to be created
	// first (a dry run only reports that it would be).
	CreateBucket bool
	// Keys returns the recipients to encrypt to and a string identifying
	// them (see UpdateMirror). Sync calls it once the bucket exists and the
	// target is prepared, before any file: in passphrase mode it seals a
	// new target identity into the bucket. A dry run may return none.
	Keys       func(ctx context.Context, db *catalog.DB, b Bucket) ([]age.Recipient, string, error)
	Checksum   bool  // hash every file, whatever its stat says
	DryRun     bool  // decide and report, change nothing anywhere
	Jobs       int   // parts in flight, and 4 multipart files per job; 0 = 4
	PartSize   int64 // ciphertext bytes per part; 0 = DefaultPartSize
	PutOptions PutOptions
	// FilesInFlight is the number of files in flight (0 =
	// DefaultFilesInFlight): small ones are one PutObject each, mostly
	// waiting for the round trip, and their bodies share a fixed memory
	// budget; multipart ones are limited by Jobs.
	FilesInFlight int
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
	// NoMirror leaves the catalog mirror in the bucket as it is; by default
	// a run that changed the catalog pushes it (see UpdateMirror).
	NoMirror bool
	// Lock, on a bucket with Object Lock, gives every version the run
	// writes a retention, and extends that of the versions the catalog
	// points to that would expire within Lock.Margin.
	Lock   *Lock
	Report Reporter
}

// Lock is an Object Lock policy: versions are retained for Days from the
// run that writes or extends them, in Mode (RetentionGovernance by
// default), and extended when they would expire within Margin.
type Lock struct {
	Days   int
	Mode   string
	Margin time.Duration
}

// ErrNoObjectLock means a run with a Lock policy found a bucket without
// Object Lock, which can only be turned on when a bucket is created.
var ErrNoObjectLock = errors.New("the bucket does not have Object Lock")

// run is what Sync resolved before the files: the naming, the keys, and
// the retention this run gives what it writes.
type run struct {
	Options
	naming     cipher.Naming
	recipients []age.Recipient
	keysID     string
	optional   *optional // the server's optional operations
	retention  *Retention
	// extendBefore: versions whose retention ends before it are extended.
	extendBefore time.Time
}

// retainedUntil is the retention, in unix seconds, of a version this run
// wrote (begun: not an upload resumed from an earlier run, whose version
// has that run's): 0 when there is none, so the extension pass gives it one.
func (o *run) retainedUntil(version string, begun bool) int64 {
	if o.retention == nil || version == "" || !begun {
		return 0
	}
	return o.retention.Until.Unix()
}

// Summary counts what a sync did.
type Summary struct {
	Files          int   // regular files in the source
	Uploaded       int   // files uploaded (with DryRun: files that would be)
	Copied         int   // new files made a server-side copy of an uploaded object with the same content
	Skipped        int   // files that needed nothing
	Recorded       int   // files whose row was refreshed, not uploaded: stat changed but not content, or the listed ETag moved
	Failed         int   // files that failed (see the fail events)
	Warnings       int   // paths passed over (symlinks, special files)
	Deleted        int   // files whose object was deleted (dry run: would be)
	BytesSent      int64 // ciphertext bytes of files the server confirmed in this run, finished or not
	PlainBytes     int64 // plaintext bytes of the uploaded files
	SavedBytes     int64 // plaintext bytes of the files not uploaded: unchanged, or copied
	Extended       int   // versions whose Object Lock retention was extended
	StaleUploads   int   // unknown multipart uploads found under the prefix
	AbortedUploads int   // of which were aborted
}

// task is one file that needs work beyond a stat comparison.
type task struct {
	entry  Entry
	row    *catalog.File
	key    string
	remote *Remote // what the listing says of the object at key; nil: none
	dec    Decision
}

// Sync backs opts.Source up to the bucket under opts.Prefix and records
// every confirmed upload in db. In order it creates the bucket (with
// CreateBucket), binds the catalog to the target and settles its naming,
// asks for the keys, scans the source while it lists the bucket, carries
// out each file's decision (see Decide), deletes what was deleted locally
// (with Delete) and pushes the catalog mirror. Per-file failures are
// reported and counted in the summary; the error is for failures of the run
// itself (source missing, bucket unreachable, interrupted). An interrupted
// run keeps what finished.
func Sync(ctx context.Context, db *catalog.DB, b Bucket, opts Options) (Summary, error) {
	if opts.Jobs <= 0 {
		opts.Jobs = defaultJobs
	}
	if opts.PartSize <= 0 {
		opts.PartSize = DefaultPartSize
	}
	if opts.FilesInFlight <= 0 {
		opts.FilesInFlight = DefaultFilesInFlight
	}
	r := &reporter{fn: opts.Report}
	var sum Summary
	count := func(e Event) {
		switch e.Kind {
		case EventProgress:
			// Counted as each object or part is confirmed, not when its
			// file is done: an interrupted run says what went.
			sum.BytesSent += e.Bytes
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

	o := &run{Options: opts}
	if opts.CreateBucket {
		cr.report(Event{Kind: EventPlan, Action: "create-bucket", Path: "s3://" + b.Name, Reason: "missing"})
		if !opts.DryRun {
			if err := b.CreateBucket(ctx); err != nil {
				return sum, err
			}
		}
	}
	if err := o.prepare(ctx, db, b, cr); err != nil {
		return sum, err
	}
	if err := o.prepareLock(ctx, db, b, time.Now()); err != nil {
		return sum, err
	}

	err := o.syncFiles(ctx, db, b, &sum, cr)
	// A refused deletion leaves the uploads recorded: mirror them.
	if err == nil || errors.Is(err, ErrTooManyDeletes) {
		if rerr := o.recordRun(db, &sum); rerr != nil {
			return sum, rerr
		}
		if merr := o.mirror(ctx, db, b, cr); merr != nil {
			return sum, merr
		}
	}
	return sum, err
}

// scanAhead is how many batches of entries (see scanBatch) the scan may
// run ahead of the decisions: what bounds the memory a run holds of the
// tree, whatever its size.
const scanAhead = 8

// syncFiles scans the source while it lists the bucket, carries out each
// file's decision, extends retention and deletes what was deleted locally.
// The scan hands its entries over in batches, at most scanAhead ahead of
// the decisions, and the listing is kept on disk: nothing here grows with
// the tree but, with Delete, 8 bytes a file (see pathSet).
func (o *run) syncFiles(ctx context.Context, db *catalog.DB, b Bucket, sum *Summary, r *reporter) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var reported []string // paths the scan failed on or passed over
	scanned := scanTotals{}
	if o.Delete {
		scanned.present = newPathSet()
	}
	batches := make(chan []Entry, scanAhead)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(batches)
		err := Scan(gctx, o.Source, o.skip(), func(e Event) {
			reported = append(reported, e.Path)
			r.report(e)
		}, func(batch []Entry) error {
			scanned.add(batch)
			select {
			case batches <- batch:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		})
		if err == nil {
			r.report(Event{Kind: EventScan, Count: scanned.files, Size: scanned.bytes})
		}
		return err
	})
	err := o.listAndExecute(gctx, db, b, batches, sum, r)
	if err != nil {
		cancel() // the scan may be waiting to hand over a batch
	}
	// The scan's own failure (a missing source) is what ended the run, not
	// the cancellation it caused here; a cancelled scan says nothing.
	if serr := g.Wait(); serr != nil && (err == nil || !errors.Is(serr, context.Canceled)) {
		err = serr
	}
	sum.Files = scanned.files
	if err == nil {
		err = o.extendRetention(ctx, db, b, sum, r)
	}
	if err == nil && o.Delete {
		err = o.deleteGone(ctx, db, b, scanned.present, reported, sum, r)
	}
	return err
}

// listAndExecute lists the bucket, settles the unfinished uploads and
// decides and carries out the scanned files as they come.
func (o *run) listAndExecute(ctx context.Context, db *catalog.DB, b Bucket, batches <-chan []Entry, sum *Summary, r *reporter) error {
	remote := &remoteIndex{}
	if !o.CreateBucket { // a new bucket holds nothing to list
		var err error
		if remote, err = listRemoteIndex(ctx, db, b, o.Prefix); err != nil {
			return err
		}
		defer remote.close()
		if err := settleUploads(ctx, db, b, o.Options, o.optional, sum, r); err != nil {
			return err
		}
	}
	return execute(ctx, db, b, o, batches, remote, sum, r)
}

// scanTotals counts what the scan found and, for a run that deletes, holds
// the paths it found; it is written by the scan alone.
type scanTotals struct {
	files   int
	bytes   int64
	present *pathSet // with Delete
}

func (t *scanTotals) add(batch []Entry) {
	t.files += len(batch)
	for _, e := range batch {
		t.bytes += e.Size
		if t.present != nil {
			t.present.add(e.Path)
		}
	}
}

// prepare binds db to the target and settles its naming, gets the keys,
// makes sure the catalog has a signing key, reporting a new one (an info
// event "signing-key" whose Path is its fingerprint), reads what the
// catalog records of the server's optional operations, and checks what the
// bucket keeps of the past (see checkHistory).
func (o *run) prepare(ctx context.Context, db *catalog.DB, b Bucket, r *reporter) error {
	var err error
	if o.naming, err = PrepareTarget(db, o.Target, o.Naming, o.DryRun); err != nil {
		return err
	}
	if o.Keys != nil {
		if o.recipients, o.keysID, err = o.Keys(ctx, db, b); err != nil {
			return err
		}
	}
	fp, created, err := EnsureSigningKey(db, o.DryRun)
	if err != nil {
		return err
	}
	if created {
		r.report(Event{Kind: EventInfo, Reason: "signing-key", Path: fp})
	}
	if o.optional, err = loadOptional(db, r, !o.DryRun); err != nil {
		return err
	}
	return o.checkHistory(ctx, db, b, r)
}

// deleteGone deletes the files deleted locally, unless a file failed.
func (o *run) deleteGone(ctx context.Context, db *catalog.DB, b Bucket, scanned *pathSet, reported []string, sum *Summary, r *reporter) error {
	if sum.Failed > 0 {
		r.report(Event{Kind: EventInfo, Reason: "delete-skipped",
			Err: fmt.Errorf("no object deleted: %d files failed in this run", sum.Failed)})
		return nil
	}
	return deleteGone(ctx, db, b, o.DryRun, o.MaxDelete, DeleteInput{Scanned: scanned.has, Reported: reported, Skip: o.skip()}, sum, r)
}

// recordRun adds a run to the catalog's history when this one changed the
// tree it holds (see catalog.Run); the mirror pushed next holds it.
func (o *run) recordRun(db *catalog.DB, sum *Summary) error {
	changed := sum.Uploaded + sum.Copied
	if o.DryRun || changed+sum.Deleted == 0 {
		return nil
	}
	files, err := db.Count()
	if err != nil {
		return err
	}
	_, err = db.AddRun(catalog.Run{FinishedAt: time.Now().UnixNano(), Files: files,
		Changed: changed, Deleted: sum.Deleted, Bytes: sum.PlainBytes})
	return err
}

// mirror pushes the catalog mirror when the run changed the catalog.
func (o *run) mirror(ctx context.Context, db *catalog.DB, b Bucket, r *reporter) error {
	if o.DryRun || o.NoMirror {
		return nil
	}
	pushed, err := updateMirror(ctx, db, b, o.Prefix, o.recipients, o.keysID, PutOptions{Retention: o.retention})
	if pushed && err == nil {
		r.report(Event{Kind: EventInfo, Action: "push-mirror", Reason: "mirror-pushed"})
	}
	return err
}

// skip combines the user's filter with the paths s3seal reserves.
func (o *run) skip() func(string, bool) bool { return reserved(o.naming, o.Skip) }

// reserved adds to skip the paths s3seal reserves under naming.
func reserved(naming cipher.Naming, skip func(string, bool) bool) func(string, bool) bool {
	return func(rel string, dir bool) bool {
		if !naming.Hidden && rel == ".s3seal" {
			return true // plain keys there would collide with internal objects
		}
		return skip != nil && skip(rel, dir)
	}
}

// listPrefix is the listing prefix for a key prefix: "p/" or "".
func listPrefix(prefix string) string {
	if prefix == "" {
		return ""
	}
	return prefix + "/"
}

// execute decides each file as its batch comes and runs the uploads on a fixed pool of workers.
func execute(ctx context.Context, db *catalog.DB, store Bucket, o *run, batches <-chan []Entry, remote *remoteIndex, sum *Summary, r *reporter) error {
	opts := o.Options
	u := &uploader{
		store: store, db: db, recipients: o.recipients,
		buffers:  newBufferPool(opts.Jobs, partSizeFor(0, opts.PartSize)),
		partSize: partSizeFor(0, opts.PartSize), putOpts: opts.PutOptions, report: r,
		inFlight: make(map[string]bool), optional: o.optional,
		multipart: make(chan struct{}, opts.Jobs*multipartPerJob),
	}
	ups, err := db.Uploads()
	if err != nil {
		return err
	}
	for _, up := range ups {
		u.inFlight[up.Path] = true
	}
	if u.etags, err = newETagNotice(db, r, opts.DryRun); err != nil {
		return err
	}
	batch := db.NewBatch(500)
	w := &worker{u: u, db: db, opts: o, remote: remote, batch: batch, sum: sum, report: r,
		attempted: make(map[string]bool)}
	tasks := make(chan task)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(tasks)
		return w.decideAll(gctx, batches, tasks)
	})
	for range filesInFlight(opts.FilesInFlight, opts.Jobs) {
		g.Go(func() error {
			for t := range tasks {
				if err := w.run(gctx, t); err != nil {
					return err
				}
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
func (o *run) objectKey(rel string) (string, error) {
	key := o.naming.ObjectKey(o.Prefix, rel)
	if o.naming.Hidden {
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
