package sync

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	gosync "sync"
	"time"

	"filippo.io/age"
	"golang.org/x/sync/errgroup"

	"github.com/s3seal/s3seal/catalog"
	"github.com/s3seal/s3seal/cipher"
)

// The categories of an audit Finding. Their string values are part of the
// --json schema and of docs/audit.md.
const (
	HistoryChanged   = "history-changed"   // the bucket keeps less history than the catalog last saw
	LocalNew         = "local-new"         // a source file the catalog does not know
	LocalChanged     = "local-changed"     // a source file whose content is not the catalog's
	LocalMissing     = "local-missing"     // a catalog row whose source file is gone
	ObjectMissing    = "object-missing"    // a catalog row whose object is not in the bucket
	ObjectChanged    = "object-changed"    // an object whose ETag or size is not the recorded one
	RetentionLapsed  = "retention-lapsed"  // a version the catalog points to whose Object Lock retention has ended
	ObjectUnknown    = "object-unknown"    // an object under the prefix the catalog does not know
	UploadUnfinished = "upload-unfinished" // an unfinished multipart upload under the prefix
	DecryptFailed    = "decrypt-failed"    // deep: the object does not decrypt to a whole age payload
	ContentMismatch  = "content-mismatch"  // deep: the plaintext's size or SHA-256 (MD5 for old rows) is not the catalog's
)

// Categories lists the finding categories in report order.
var Categories = []string{HistoryChanged, LocalNew, LocalChanged, LocalMissing, ObjectMissing, ObjectChanged,
	RetentionLapsed, ObjectUnknown, UploadUnfinished, DecryptFailed, ContentMismatch}

// ErrNotSynced is returned by Audit for a catalog that was never bound to a
// target: there is nothing to compare with.
var ErrNotSynced = errors.New("the catalog has no sync to compare with")

// AuditOptions configure an audit.
type AuditOptions struct {
	Source string // absolute path of the backed-up folder
	Prefix string // key prefix in the bucket, without leading or trailing "/"
	// Target is "s3://bucket/prefix"; when set, a catalog bound to another
	// target is refused with ErrOtherTarget.
	Target string
	// Deep downloads and decrypts the objects and checks their plaintext.
	Deep       bool
	Identities []age.Identity // for Deep
	// Sample is the percentage (0, 100] of the catalog rows whose object
	// Deep checks, chosen at random, at least one; 0 means all of them.
	Sample float64
	Jobs   int // files hashed at once, and 16 times as many objects checked; 0 = 4
	Report Reporter
}

// Finding is one disagreement between the source, the catalog and the bucket.
type Finding struct {
	Category string // one of the category constants
	Path     string // source-relative path; empty for objects and uploads the catalog does not know
	Key      string // object key, when there is one
	Detail   string // what differs, for a human
}

// AuditReport is what an audit found.
type AuditReport struct {
	Files    int       // regular files in the source
	Rows     int       // catalog rows
	Objects  int       // file objects under the prefix (internal ones not counted)
	Uploads  int       // unfinished multipart uploads under the prefix
	Checked  int       // deep: objects downloaded, decrypted and compared
	MD5Only  int       // deep: of the verified objects, those whose row has no SHA-256, checked by MD5 alone
	Failed   int       // files or objects that could not be examined (see the fail events)
	Findings []Finding // sorted by category (in Categories order), then path and key
}

// Consistent reports whether the audit found no difference.
func (r AuditReport) Consistent() bool { return len(r.Findings) == 0 }

// auditState is what the audit steps share.
type auditState struct {
	db      *catalog.DB
	store   Bucket
	opts    AuditOptions
	naming  cipher.Naming
	report  *reporter
	rows    map[string]catalog.File
	entries []Entry
	remote  *listing
	uploads []MultipartUpload

	etags *etagNotice // audit writes nothing: it tells, but does not remember

	mu  gosync.Mutex // guards out
	out AuditReport
}

// Audit compares the source folder, the catalog and the bucket and returns
// every disagreement. It only reads: the bucket with ListObjectsV2 and
// ListMultipartUploads (unless the server lacks it: then unfinished uploads
// go unreported, and an info event says so), its history settings when a
// sync saw it versioned (see HistoryChanged), and with opts.Deep GetObject;
// the source with stat and, for a file whose stat is not the recorded one,
// a hash of its content, so a touched but unchanged file is not reported.
// Audit writes
// nothing to the catalog, the source or the bucket. Files that cannot be
// read are reported as fail events and counted in Failed; the error is for
// failures of the run itself. A deep audit in which not one object decrypts
// with opts.Identities stops with an error wrapping cipher.ErrWrongIdentity.
func Audit(ctx context.Context, db *catalog.DB, store Bucket, opts AuditOptions) (AuditReport, error) {
	if opts.Jobs <= 0 {
		opts.Jobs = 4
	}
	a := &auditState{db: db, store: store, opts: opts, report: &reporter{}}
	a.report.fn = a.countFails(opts.Report)
	if err := a.load(ctx); err != nil {
		return a.out, err
	}
	a.compareLocal(ctx)
	if err := a.compareRemote(); err != nil {
		return a.out, err
	}
	if err := ctx.Err(); err != nil {
		return a.out, err
	}
	if opts.Deep {
		if err := a.deep(ctx); err != nil {
			return a.out, err
		}
	}
	sortFindings(a.out.Findings)
	return a.out, ctx.Err()
}

// countFails passes events on and counts the fail events.
func (a *auditState) countFails(fn Reporter) Reporter {
	return func(e Event) {
		if e.Kind == EventFail {
			a.out.Failed++ // reporter calls are serialized
		}
		if fn != nil {
			fn(e)
		}
	}
}

// load reads the catalog, scans the source and lists the bucket.
func (a *auditState) load(ctx context.Context) error {
	if err := a.loadCatalog(); err != nil {
		return err
	}
	opt, err := loadOptional(a.db, a.report, false)
	if err != nil {
		return err
	}
	skip := reserved(a.naming, nil)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		a.entries, err = scanAll(gctx, a.opts.Source, skip, a.report.report)
		return err
	})
	g.Go(func() (err error) {
		a.remote, err = listRemote(gctx, a.store, a.opts.Prefix)
		return err
	})
	g.Go(func() (err error) {
		a.uploads, err = listUploads(gctx, a.store, listPrefix(a.opts.Prefix), opt)
		return err
	})
	g.Go(func() error { return a.compareHistory(gctx) })
	if err := g.Wait(); err != nil {
		return err
	}
	a.out.Files = len(a.entries)
	a.out.Uploads = len(a.uploads)
	meta := cipher.MetaKey(a.opts.Prefix, "")
	a.remote.Each(func(key string, _ Remote) bool {
		if !strings.HasPrefix(key, meta) {
			a.out.Objects++
		}
		return true
	})
	return nil
}

// loadCatalog checks the catalog's target and reads its rows.
func (a *auditState) loadCatalog() error {
	if a.opts.Target != "" {
		bound, ok, err := a.db.Setting(settingTarget)
		if err != nil {
			return err
		}
		if ok && string(bound) != a.opts.Target {
			return fmt.Errorf("%w: %s belongs to %s, not %s", ErrOtherTarget, a.db.Path(), bound, a.opts.Target)
		}
	}
	naming, known, err := TargetNaming(a.db)
	if err != nil {
		return err
	}
	if !known {
		return fmt.Errorf("audit: catalog %s: %w", a.db.Path(), ErrNotSynced)
	}
	a.naming = naming
	if a.etags, err = newETagNotice(a.db, a.report, true); err != nil {
		return err
	}
	a.rows = make(map[string]catalog.File)
	err = a.db.Files(func(f catalog.File) error { a.rows[f.Path] = f; return nil })
	if err != nil {
		return fmt.Errorf("audit: read catalog: %w", err)
	}
	a.out.Rows = len(a.rows)
	return nil
}

func (a *auditState) add(f Finding) {
	a.mu.Lock()
	a.out.Findings = append(a.out.Findings, f)
	a.mu.Unlock()
}

// compareHistory reports a bucket that keeps less history than a sync
// last saw: versioning or Object Lock gone. It asks only when there was
// something to lose, and a failure to read the settings is a fail event.
func (a *auditState) compareHistory(ctx context.Context) error {
	seen, known, err := RecordedHistory(a.db)
	if err != nil || !known || !seen.Versioned() && !seen.ObjectLock {
		return err
	}
	now, err := readHistory(ctx, a.store, a.opts.Prefix)
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, ErrUnreachable) || errors.Is(err, ErrBadCredentials) {
			return err
		}
		a.report.report(Event{Kind: EventFail, Path: a.store.url(a.opts.Prefix), Reason: "history", Err: err})
		return nil
	}
	if f, lost := historyLost(seen, now); lost {
		a.add(f)
	}
	return nil
}

// compareLocal judges every source file against its catalog row with
// Decide, as a sync would, but with the row's own object taken as intact:
// only the content counts here. Files whose stat changed are hashed on a
// pool of opts.Jobs workers.
func (a *auditState) compareLocal(ctx context.Context) {
	var toHash []Entry
	for _, e := range a.entries {
		row, ok := a.rows[e.Path]
		if !ok {
			a.add(Finding{Category: LocalNew, Path: e.Path, Detail: fmt.Sprintf("%s, not in the catalog", plural(e.Size, "byte"))})
			continue
		}
		switch d := Decide(localInput(e, &row, nil)); d.Action {
		case Hash:
			toHash = append(toHash, e)
		case Upload:
			a.add(changedFinding(e, row))
		}
	}
	forEach(ctx, a.opts.Jobs, toHash, func(e Entry) {
		row := a.rows[e.Path]
		sums, err := hashFile(ctx, a.opts.Source, e)
		if err != nil {
			if ctx.Err() == nil {
				a.report.report(Event{Kind: EventFail, Path: e.Path, Reason: "hash", Size: e.Size, Err: err})
			}
			return
		}
		if Decide(localInput(e, &row, &sums)).Action == Upload {
			a.add(changedFinding(e, row))
		}
	})
	local := make(map[string]bool, len(a.entries))
	for _, e := range a.entries {
		local[e.Path] = true
	}
	for path, row := range a.rows {
		if !local[path] {
			a.add(Finding{Category: LocalMissing, Path: path, Key: row.ObjectKey, Detail: "in the catalog, not in the source"})
		}
	}
}

// localInput is the Decide input that compares a file with its row only.
func localInput(e Entry, row *catalog.File, sums *plainSums) Input {
	in := Input{Local: e, Row: row, ObjectKey: row.ObjectKey, Remote: &Remote{ETag: row.ETag, Size: row.CipherSize}}
	if sums != nil {
		in.PlainMD5, in.PlainSHA256 = &sums.md5, &sums.sha256
	}
	return in
}

func changedFinding(e Entry, row catalog.File) Finding {
	detail := "content differs from the last sync"
	if e.Size != row.Size {
		detail = fmt.Sprintf("%s, the catalog says %s", plural(e.Size, "byte"), plural(row.Size, "byte"))
	}
	return Finding{Category: LocalChanged, Path: e.Path, Key: row.ObjectKey, Detail: detail}
}

// compareRemote judges the catalog rows against the listing and reports
// the objects and uploads under the prefix that the catalog does not know.
func (a *auditState) compareRemote() error {
	byKey := make(map[string]string, len(a.rows))
	var relisted []string
	now := time.Now().Unix()
	for path, row := range a.rows {
		byKey[row.ObjectKey] = path
		if row.RetainUntil > 0 && row.RetainUntil < now {
			a.add(Finding{Category: RetentionLapsed, Path: path, Key: row.ObjectKey,
				Detail: fmt.Sprintf("version %s was retained until %s; a sync with --lock-days locks it again", row.VersionID,
					time.Unix(row.RetainUntil, 0).UTC().Format(time.RFC3339))})
		}
		obj, ok := a.remote.Get(row.ObjectKey)
		switch {
		case !ok:
			a.add(Finding{Category: ObjectMissing, Path: path, Key: row.ObjectKey, Detail: "the object is not in the bucket"})
		case judgeObject(&row, obj) == objectChanged:
			a.add(Finding{Category: ObjectChanged, Path: path, Key: row.ObjectKey,
				Detail: fmt.Sprintf("ETag %s (%s), the catalog says %s (%s)", obj.ETag, plural(obj.Size, "byte"), row.ETag, plural(row.CipherSize, "byte"))})
		case obj.ETag != row.ETag:
			relisted = append(relisted, path)
		}
	}
	if len(relisted) > 0 {
		// Not a finding, as a sync would not upload it again; but said, as
		// sync says it, unless the catalog knows it of this target already.
		sort.Strings(relisted)
		a.etags.seen(relisted[0])
	}
	meta := cipher.MetaKey(a.opts.Prefix, "")
	a.remote.Each(func(key string, obj Remote) bool {
		if _, known := byKey[key]; !known && !strings.HasPrefix(key, meta) {
			a.add(Finding{Category: ObjectUnknown, Key: key, Detail: fmt.Sprintf("%s, not in the catalog", plural(obj.Size, "byte"))})
		}
		return true
	})
	return a.compareUploads()
}

// compareUploads reports every unfinished multipart upload under the
// prefix, those the catalog knows (left by an interrupted sync) with their
// path.
func (a *auditState) compareUploads() error {
	known, err := a.db.Uploads()
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	paths := make(map[string]string, len(known))
	for _, u := range known {
		paths[u.UploadID] = u.Path
	}
	for _, up := range a.uploads {
		started := up.Initiated.UTC().Format(time.RFC3339)
		f := Finding{Category: UploadUnfinished, Key: up.Key}
		if path, ok := paths[up.UploadID]; ok {
			f.Path = path
			f.Detail = fmt.Sprintf("upload %s started %s is recorded in the catalog; the next sync resumes or aborts it", up.UploadID, started)
		} else {
			f.Detail = fmt.Sprintf("upload %s started %s is not in the catalog; sync aborts it once older than --abort-uploads-after", up.UploadID, started)
		}
		a.add(f)
	}
	return nil
}

// sortFindings orders findings by category, then path, then key.
func sortFindings(findings []Finding) {
	rank := make(map[string]int, len(Categories))
	for i, c := range Categories {
		rank[c] = i
	}
	sort.Slice(findings, func(i, j int) bool {
		fi, fj := findings[i], findings[j]
		if fi.Category != fj.Category {
			return rank[fi.Category] < rank[fj.Category]
		}
		if fi.Path != fj.Path {
			return fi.Path < fj.Path
		}
		return fi.Key < fj.Key
	})
}

// sampleSize is how many of n items a sample of percent takes: all for 0 or
// 100 and above, else the percentage rounded up, and at least one.
func sampleSize(n int, percent float64) int {
	if percent <= 0 || percent >= 100 || n == 0 {
		return n
	}
	k := int(float64(n)*percent/100 + 0.999999)
	return min(max(k, 1), n)
}

// sample returns a random subset of rows of sampleSize(len(rows), percent).
func sample(rows []catalog.File, percent float64) []catalog.File {
	k := sampleSize(len(rows), percent)
	if k == len(rows) {
		return rows
	}
	picked := append([]catalog.File(nil), rows...)
	rand.Shuffle(len(picked), func(i, j int) { picked[i], picked[j] = picked[j], picked[i] })
	picked = picked[:k]
	sort.Slice(picked, func(i, j int) bool { return picked[i].Path < picked[j].Path })
	return picked
}

func plural(n int64, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
