package sync_test

import (
	"context"
	"errors"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/s3seal/s3seal/catalog"
	"github.com/s3seal/s3seal/cipher"

	"github.com/s3seal/s3seal/sync"
	"github.com/s3seal/s3seal/sync/memstore"
)

// TestEngineInProcess runs a backup's life in this process, where the race
// detector sees the engine's workers, part uploads and reporters: a first
// sync of small and multipart files, a sync with nothing to do, a sync of a
// changed file and a duplicated one, audits, and a restore into a fresh
// folder.
func TestEngineInProcess(t *testing.T) {
	store, log := newMemBucket()
	fx := newFixture(t, store.Bucket())
	fx.write("a.txt", []byte("alpha\n"))
	fx.write("empty", nil)
	fx.write("dir/b.bin", randomBytes(1, 100<<10))
	fx.write("dir/sub/c.txt", []byte("gamma\n"))
	fx.write("big/three-parts", randomBytes(2, 2*partSize+partSize/2))
	fx.write("big/just-over", randomBytes(3, partSize)) // age's overhead makes it two parts

	sum := fx.mustSync()
	calls := log.take()
	if sum.Files != 6 || sum.Uploaded != 6 || sum.Skipped != 0 {
		t.Errorf("first Sync: %d files, %d uploaded, %d skipped; want 6, 6, 0", sum.Files, sum.Uploaded, sum.Skipped)
	}
	if n := len(only(calls, memstore.OpPut)); n != 4 {
		t.Errorf("first Sync made %d PutObjects; want 4, one per small file", n)
	}
	for rel, want := range map[string]int{"big/three-parts": 3, "big/just-over": 2} {
		var parts []int32
		for _, c := range only(calls, memstore.OpUploadPart) {
			if c.key == fx.object(rel) {
				parts = append(parts, c.part)
			}
		}
		slices.Sort(parts)
		if len(parts) != want || parts[0] != 1 || parts[len(parts)-1] != int32(want) {
			t.Errorf("first Sync sent parts %v of %s; want 1 to %d", parts, rel, want)
		}
	}
	if n := len(only(calls, memstore.OpCompleteMultipart, memstore.OpCreateMultipart)); n != 4 {
		t.Errorf("first Sync made %d CreateMultipart and CompleteMultipart calls; want 2 of each", n)
	}
	for rel := range readTree(t, fx.src) {
		if key := fx.object(rel); !strings.HasPrefix(key, prefix+"/") || strings.Contains(key, path.Base(rel)) {
			t.Errorf("object key of %s is %q; want a hidden name under %s/", rel, key, prefix)
		}
	}
	fx.checkObjects()
	fx.mirror()

	log.take()
	sum = fx.mustSync()
	calls = log.take()
	if sum.Uploaded != 0 || sum.Skipped != 6 {
		t.Errorf("Sync with no change: %d uploaded, %d skipped; want 0, 6", sum.Uploaded, sum.Skipped)
	}
	if w := writes(calls); len(w) != 0 {
		t.Errorf("Sync with no change wrote to the bucket: %v", w)
	}
	if n, reads := len(only(calls, memstore.OpList)), only(calls, memstore.OpGet, memstore.OpHead); n != 1 || len(reads) != 0 {
		t.Errorf("Sync with no change made %d LISTs and read %v; want one LIST and nothing else read", n, reads)
	}

	fx.write("dir/b.bin", randomBytes(4, 50<<10))
	justOver := readTree(t, fx.src)["big/just-over"].content
	fx.write("big/copy", justOver)
	sum = fx.mustSync()
	calls = log.take()
	if sum.Uploaded != 1 || sum.Copied != 1 || sum.Skipped != 5 {
		t.Errorf("Sync of a changed and a duplicated file: %d uploaded, %d copied, %d skipped; want 1, 1, 5", sum.Uploaded, sum.Copied, sum.Skipped)
	}
	want := []call{{op: memstore.OpPut, key: fx.object("dir/b.bin")}, {op: memstore.OpCopy, key: fx.object("big/copy")}}
	if w := writes(calls); len(w) != 2 || !slices.Contains(w, want[0]) || !slices.Contains(w, want[1]) {
		t.Errorf("Sync of a changed and a duplicated file wrote %v; want only %v", w, want)
	}
	fx.checkObjects()
	fx.mirror()

	log.take()
	for _, deep := range []bool{false, true} {
		rep, err := sync.Audit(context.Background(), fx.db, fx.bucket, sync.AuditOptions{
			Source: fx.src, Prefix: prefix, Target: "s3://mem/" + prefix,
			Deep: deep, Identities: []age.Identity{fx.id}, Jobs: jobs,
		})
		if err != nil {
			t.Fatalf("Audit(deep %v) = %v", deep, err)
		}
		if !rep.Consistent() || rep.Failed != 0 || rep.Files != 7 || rep.Rows != 7 || rep.Objects != 7 {
			t.Errorf("Audit(deep %v) after a sync: %+v; want 7 files, rows and objects, no findings", deep, rep)
		}
		if deep && rep.Checked != 7 {
			t.Errorf("deep Audit checked %d objects; want 7", rep.Checked)
		}
	}
	if w := writes(log.take()); len(w) != 0 {
		t.Errorf("Audit wrote to the bucket: %v", w)
	}

	if rsum := fx.restore(); rsum.Restored != 7 || rsum.Failed != 0 {
		t.Errorf("Restore: %d restored, %d failed; want 7, 0", rsum.Restored, rsum.Failed)
	}
	if w := writes(log.take()); len(w) != 0 {
		t.Errorf("Restore wrote to the bucket: %v", w)
	}
}

// TestSyncMissingBucket checks that a sync into a bucket that does not
// exist fails as a whole, with ErrNoSuchBucket, and records nothing.
func TestSyncMissingBucket(t *testing.T) {
	store, _ := newMemBucket()
	fx := newFixture(t, store.Bucket())
	fx.write("a.txt", []byte("alpha\n"))
	store.Drop()
	_, _, err := fx.sync(context.Background())
	if !errors.Is(err, sync.ErrNoSuchBucket) {
		t.Errorf("Sync into a missing bucket = %v; want ErrNoSuchBucket", err)
	}
	if n, err := fx.db.Count(); err != nil || n != 0 {
		t.Errorf("catalog has %d rows (%v) after a sync into a missing bucket; want 0", n, err)
	}
}

// TestSyncCreatesBucket: with CreateBucket, a dry run reports the bucket's
// creation first and every upload, and leaves the bucket missing and the
// catalog empty; the run for real creates it and uploads.
func TestSyncCreatesBucket(t *testing.T) {
	store, log := newMemBucket()
	fx := newFixture(t, store.Bucket())
	fx.write("a.txt", []byte("alpha\n"))
	fx.write("dir/b.txt", []byte("beta\n"))
	store.Drop()
	log.take()

	var plan []sync.Event
	sum, err := sync.Sync(context.Background(), fx.db, fx.bucket, sync.Options{
		Source: fx.src, Target: "s3://mem/" + prefix, Prefix: prefix, CreateBucket: true, DryRun: true,
		Report: func(e sync.Event) {
			if e.Kind == sync.EventPlan {
				plan = append(plan, e)
			}
		},
	})
	if err != nil || sum.Uploaded != 2 {
		t.Fatalf("dry run with CreateBucket: %v, %d would be uploaded; want nil, 2", err, sum.Uploaded)
	}
	if len(plan) != 3 || plan[0].Action != "create-bucket" || plan[0].Path != "s3://mem" ||
		plan[1].Action != "upload" || plan[2].Action != "upload" {
		t.Errorf("dry run with CreateBucket planned %+v; want the bucket's creation, then two uploads", plan)
	}
	if calls := log.take(); store.Exists() || len(calls) != 0 {
		t.Errorf("dry run with CreateBucket: bucket exists %v, requests %v; want no bucket and no request", store.Exists(), calls)
	}
	if n, err := fx.db.Count(); err != nil || n != 0 {
		t.Errorf("dry run left %d catalog rows (%v); want 0", n, err)
	}

	fx.mirrored = true
	sum, err = sync.Sync(context.Background(), fx.db, fx.bucket, sync.Options{
		Source: fx.src, Target: "s3://mem/" + prefix, Prefix: prefix, CreateBucket: true,
		Keys: func(context.Context, *catalog.DB, sync.Bucket) ([]age.Recipient, string, error) {
			return []age.Recipient{fx.id.Recipient()}, "test", nil
		},
	})
	if err != nil || sum.Uploaded != 2 || !store.Exists() {
		t.Fatalf("Sync with CreateBucket: %v, %d uploaded, bucket exists %v; want nil, 2, true", err, sum.Uploaded, store.Exists())
	}
	fx.checkObjects()
}

// TestSyncPushesMirror: a sync that changed the catalog pushes its mirror
// (signed, so that a new machine can pull it); one that changed nothing
// only checks, with one HEAD, that the mirror is still the one it pushed.
func TestSyncPushesMirror(t *testing.T) {
	store, log := newMemBucket()
	fx := newFixture(t, store.Bucket())
	fx.mirrored = true
	fx.write("a.txt", []byte("alpha\n"))
	fx.mustSync()
	mirror := cipher.MetaKey(prefix, "catalog.age")
	if w := writes(log.take()); !slices.Contains(w, call{op: memstore.OpPut, key: mirror}) {
		t.Errorf("first Sync wrote %v; want the mirror %s among them", w, mirror)
	}
	fx.mustSync()
	calls := log.take()
	if w := writes(calls); len(w) != 0 {
		t.Errorf("Sync with no change wrote %v; want nothing", w)
	}
	if heads := only(calls, memstore.OpHead); len(heads) != 1 || heads[0].key != mirror {
		t.Errorf("Sync with no change made HEADs %v; want one, of the mirror", heads)
	}

	// A new machine pulls it with the signing key's fingerprint.
	fp, _, err := sync.EnsureSigningKey(fx.db, true)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := catalog.Open(filepath.Join(t.TempDir(), "fresh.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if _, err := sync.PullCatalog(context.Background(), fresh, fx.bucket, prefix, []age.Identity{fx.id},
		sync.Trust{Target: "s3://mem/" + prefix, Fingerprint: fp}); err != nil {
		t.Fatalf("PullCatalog of the pushed mirror = %v", err)
	}
	if n, err := fresh.Count(); err != nil || n != 1 {
		t.Errorf("pulled catalog has %d rows (%v); want 1", n, err)
	}
}
