package sync_test

import (
	"context"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/s3seal/s3seal/sync"
	"github.com/s3seal/s3seal/sync/memstore"
)

// relisting is a memory bucket that answers uploads with other ETags than
// it lists, as some servers do: with answerPut, a PutObject answers
// "answered-" and the ETag; with answerComplete, a CompleteMultipart does.
// List, Head and Get report the object's own ETag, and List reports the keys marked
// rewritten as written an hour after they were.
type relisting struct {
	*memstore.Store
	answerPut, answerComplete bool

	mu      gosync.Mutex
	rewrite map[string]bool
}

func (r *relisting) bucket() sync.Bucket {
	return sync.Bucket{Name: "mem", Objects: r, Multipart: r, Copier: r.Store, UploadLister: r.Store, BucketCreator: r.Store}
}

func (r *relisting) Put(ctx context.Context, key string, body []byte, opts sync.PutOptions) (sync.Object, error) {
	obj, err := r.Store.Put(ctx, key, body, opts)
	if err == nil && r.answerPut {
		obj.ETag = "answered-" + obj.ETag
	}
	return obj, err
}

func (r *relisting) CompleteMultipart(ctx context.Context, key, uploadID string, parts []sync.Part) (sync.Object, error) {
	obj, err := r.Store.CompleteMultipart(ctx, key, uploadID, parts)
	switch {
	case err != nil:
	case r.answerComplete:
		obj.ETag = "answered-" + obj.ETag
	}
	return obj, err
}

func (r *relisting) List(ctx context.Context, prefix string, fn func(sync.Object) error) error {
	return r.Store.List(ctx, prefix, func(o sync.Object) error {
		r.mu.Lock()
		later := r.rewrite[o.Key]
		r.mu.Unlock()
		if later {
			o.LastModified = o.LastModified.Add(time.Hour)
		}
		return fn(o)
	})
}

func (r *relisting) markRewritten(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rewrite == nil {
		r.rewrite = make(map[string]bool)
	}
	r.rewrite[key] = true
}

// reasons returns the reasons of the events of kind, by path.
func reasons(events []sync.Event, kind sync.EventKind) map[string]string {
	out := make(map[string]string)
	for _, e := range events {
		if e.Kind == kind {
			out[e.Path] = e.Reason
		}
	}
	return out
}

// unstable returns the events that say the server's ETags do not stay put.
func unstable(events []sync.Event) []sync.Event {
	var out []sync.Event
	for _, e := range events {
		if e.Kind == sync.EventInfo && e.Reason == sync.ReasonUnstableETags {
			out = append(out, e)
		}
	}
	return out
}

// audit runs a listing audit of the fixture and returns it and its events.
func (fx *fixture) audit() (sync.AuditReport, []sync.Event) {
	fx.t.Helper()
	var events []sync.Event
	rep, err := sync.Audit(context.Background(), fx.db, fx.bucket, sync.AuditOptions{
		Source: fx.src, Prefix: prefix, Target: "s3://" + fx.bucket.Name + "/" + prefix, Jobs: jobs,
		Identities: []age.Identity{fx.id}, Report: func(e sync.Event) { events = append(events, e) },
	})
	if err != nil {
		fx.t.Fatalf("Audit = %v", err)
	}
	return rep, events
}

// TestSyncRefreshesRelistedETags: a server answers every PutObject with
// another ETag than it lists. The second sync finds every object listed
// with another ETag, but of the recorded size and not written since: it
// uploads nothing, records the listed ETags and says so once; the third
// run and the audits after it say nothing. An object written after its
// upload is still uploaded again.
func TestSyncRefreshesRelistedETags(t *testing.T) {
	store, log := newMemBucket()
	r := &relisting{Store: store, answerPut: true}
	fx := newFixture(t, r.bucket())
	files := []string{"a.txt", "b.txt", "dir/c.bin"}
	fx.write("a.txt", []byte("alpha\n"))
	fx.write("b.txt", []byte("beta\n"))
	fx.write("dir/c.bin", randomBytes(1, 100<<10))

	if sum, events, err := fx.sync(context.Background()); err != nil || sum.Uploaded != 3 || len(unstable(events)) != 0 {
		t.Fatalf("first Sync = %+v, %v, %d unstable-etags events; want 3 uploads and none (the answers are not checked)", sum, err, len(unstable(events)))
	}
	rep, events := fx.audit()
	if !rep.Consistent() || len(unstable(events)) != 1 {
		t.Errorf("Audit before the catalog took the listed ETags: findings %v, %d unstable-etags events; want none and one", rep.Findings, len(unstable(events)))
	}

	log.take()
	sum, events, err := fx.sync(context.Background())
	if err != nil || sum.Uploaded != 0 || sum.Recorded != 3 {
		t.Fatalf("second Sync = %+v, %v; want nothing uploaded, 3 rows refreshed", sum, err)
	}
	noFailures(t, "second Sync", events)
	for _, rel := range files {
		if got := reasons(events, sync.EventSkip)[rel]; got != "etag-refreshed" {
			t.Errorf("second Sync skipped %s for %q; want etag-refreshed", rel, got)
		}
	}
	if u := unstable(events); len(u) != 1 || !strings.Contains(u[0].Err.Error(), "lists other ETags than it answered") {
		t.Errorf("second Sync said %v of the server's ETags; want it said once", u)
	}
	if w := writes(log.take()); len(w) != 0 {
		t.Errorf("second Sync wrote to the bucket: %v", w)
	}
	for _, rel := range files {
		row, _, _ := fx.db.Lookup(rel)
		if obj, err := store.Head(context.Background(), row.ObjectKey); err != nil || obj.ETag != row.ETag {
			t.Errorf("row of %s has ETag %q; the bucket lists %q (%v)", rel, row.ETag, obj.ETag, err)
		}
	}

	sum, events, err = fx.sync(context.Background())
	if err != nil || sum.Uploaded != 0 || sum.Skipped != 3 || len(unstable(events)) != 0 {
		t.Errorf("third Sync = %+v, %v, %d unstable-etags events; want 3 unchanged and nothing said", sum, err, len(unstable(events)))
	}
	if rep, events := fx.audit(); !rep.Consistent() || len(unstable(events)) != 0 {
		t.Errorf("Audit after the refresh: findings %v, %d unstable-etags events; want none", rep.Findings, len(unstable(events)))
	}
	fx.restore()

	// Written again with as many bytes, an hour after the upload as the
	// listing says: that is another object.
	key := fx.object("b.txt")
	obj, _ := store.Head(context.Background(), key)
	if _, err := store.Put(context.Background(), key, make([]byte, obj.Size), sync.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	r.markRewritten(key)
	sum, events, err = fx.sync(context.Background())
	if err != nil || sum.Uploaded != 1 || reasons(events, sync.EventDone)["b.txt"] != "remote-changed" {
		t.Errorf("Sync after b.txt's object was written again = %+v, %v, done %v; want b.txt uploaded, remote-changed", sum, err, reasons(events, sync.EventDone))
	}
}

// TestSyncRecordsListedETagAfterComplete: a server answers every
// CompleteMultipartUpload with another ETag than it lists. The upload
// records the listed one (a HEAD tells it) and says once what the server
// does; the next runs upload nothing, and a later upload, though the
// server answers the same, says nothing more: the catalog remembers.
func TestSyncRecordsListedETagAfterComplete(t *testing.T) {
	store, log := newMemBucket()
	r := &relisting{Store: store, answerComplete: true}
	fx := newFixture(t, r.bucket())
	fx.write("big", randomBytes(2, 2*partSize+partSize/2))
	fx.write("small", []byte("small\n"))

	sum, events, err := fx.sync(context.Background())
	if err != nil || sum.Uploaded != 2 {
		t.Fatalf("first Sync = %+v, %v; want 2 uploads", sum, err)
	}
	noFailures(t, "first Sync", events)
	if u := unstable(events); len(u) != 1 || u[0].Path != "big" {
		t.Errorf("first Sync said %v of the server's ETags; want it said once, of big", u)
	}
	if n := len(only(log.take(), memstore.OpHead)); n != 1 {
		t.Errorf("first Sync made %d HEADs; want 1, after the CompleteMultipart", n)
	}
	row, _, _ := fx.db.Lookup("big")
	if obj, err := store.Head(context.Background(), row.ObjectKey); err != nil || obj.ETag != row.ETag || strings.HasPrefix(row.ETag, "answered-") {
		t.Errorf("row of big has ETag %q; want the listed %q (%v)", row.ETag, obj.ETag, err)
	}

	sum, events, err = fx.sync(context.Background())
	if err != nil || sum.Uploaded != 0 || sum.Skipped != 2 || len(unstable(events)) != 0 {
		t.Errorf("second Sync = %+v, %v, %d unstable-etags events; want 2 unchanged and nothing said", sum, err, len(unstable(events)))
	}
	if rep, events := fx.audit(); !rep.Consistent() || len(unstable(events)) != 0 {
		t.Errorf("Audit: findings %v, %d unstable-etags events; want none", rep.Findings, len(unstable(events)))
	}

	fx.write("big2", randomBytes(3, partSize+partSize/2))
	sum, events, err = fx.sync(context.Background())
	if err != nil || sum.Uploaded != 1 || len(unstable(events)) != 0 {
		t.Errorf("Sync of another multipart file = %+v, %v, %d unstable-etags events; want it uploaded, nothing said again", sum, err, len(unstable(events)))
	}
	fx.restore()
}
