package sync_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/s3seal/s3seal/sync"
	"github.com/s3seal/s3seal/sync/memstore"
	"github.com/s3seal/s3seal/sync/s3store"
	"github.com/s3seal/s3seal/sync/s3store/s3test"
)

// largeFile is a plaintext over two ranges long (the engine reads an
// object in ranges of 8 MiB): its object is fetched as three ranges.
const largeFile = 17 << 20

// barrier holds every caller until n of them wait at once. A restore that
// never has n requests in flight would wait forever; the deadline only
// turns that into a failure that says so.
type barrier struct {
	n       int
	mu      gosync.Mutex
	arrived int
	all     chan struct{}
}

func newBarrier(n int) *barrier { return &barrier{n: n, all: make(chan struct{})} }

func (b *barrier) wait(ctx context.Context) error {
	b.mu.Lock()
	b.arrived++
	if b.arrived == b.n {
		close(b.all)
	}
	arrived := b.arrived
	b.mu.Unlock()
	select {
	case <-b.all:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%d of the %d requests expected in flight at once arrived", arrived, b.n)
	}
}

// before makes store call fn before every operation, after log records
// it; unlike the log's fault, fn runs without the log's lock, so it may
// block, or call the store.
func before(store *memstore.Store, log *opLog, fn func(call) error) {
	store.Hook = func(op memstore.Op, key string, part int32) error {
		if err := log.hook(op, key, part); err != nil {
			return err
		}
		return fn(call{op, key, part})
	}
}

// restoreInto restores fx's catalog from bucket into a fresh folder with
// the default options and returns the folder, the summary and the fail
// events by path.
func restoreInto(t *testing.T, ctx context.Context, fx *fixture, bucket sync.Bucket) (string, sync.RestoreSummary, map[string]sync.Event) {
	t.Helper()
	dest := filepath.Join(t.TempDir(), "restored")
	fails := map[string]sync.Event{}
	sum, err := sync.Restore(ctx, fx.db, bucket, sync.RestoreOptions{
		Dest: dest, Identities: []age.Identity{fx.id},
		Report: func(e sync.Event) {
			if e.Kind == sync.EventFail {
				fails[e.Path] = e
			}
		},
	})
	if err != nil {
		t.Fatalf("Restore = %v", err)
	}
	return dest, sum, fails
}

// TestRestoreManySmallFilesInFlight holds every GET until 32 are in flight
// at once: a restore of small files over a distant link waits for round
// trips side by side, not 4 at a time.
func TestRestoreManySmallFilesInFlight(t *testing.T) {
	store, log := newMemBucket()
	fx := newFixture(t, store.Bucket())
	for i := range 40 {
		fx.write(fmt.Sprintf("f%02d", i), randomBytes(byte(i), 1000+i))
	}
	fx.mustSync()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	gets := newBarrier(32)
	before(store, log, func(c call) error {
		if c.op == memstore.OpGet {
			return gets.wait(ctx)
		}
		return nil
	})
	dest, sum, fails := restoreInto(t, ctx, fx, store.Bucket())
	if sum.Restored != 40 || len(fails) != 0 {
		t.Fatalf("Restore: %d restored, fails %v; want 40 restored with 32 GETs in flight at once", sum.Restored, fails)
	}
	sameTree(t, fx.src, dest)
}

// TestRestoreLargeObjectInRanges restores a file whose object is three
// ranges long: all three are fetched at once, there is no whole-object
// GET, and the file comes back byte for byte; a deep audit reads it the
// same way.
func TestRestoreLargeObjectInRanges(t *testing.T) {
	store, log := newMemBucket()
	fx := newFixture(t, store.Bucket())
	fx.write("large", randomBytes(1, largeFile))
	fx.write("small", []byte("small\n"))
	fx.mustSync()
	log.take()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, run := range []string{"restore", "audit"} {
		ranges := newBarrier(3)
		before(store, log, func(c call) error {
			if c.op == memstore.OpGetRange {
				return ranges.wait(ctx)
			}
			return nil
		})
		if run == "restore" {
			dest, sum, fails := restoreInto(t, ctx, fx, store.Bucket())
			if sum.Restored != 2 || len(fails) != 0 {
				t.Fatalf("Restore: %d restored, fails %v; want 2", sum.Restored, fails)
			}
			sameTree(t, fx.src, dest)
		} else {
			rep, err := sync.Audit(ctx, fx.db, store.Bucket(), sync.AuditOptions{
				Source: fx.src, Prefix: prefix, Deep: true, Identities: []age.Identity{fx.id}})
			if err != nil || !rep.Consistent() || rep.Checked != 2 {
				t.Fatalf("deep Audit = %+v, %v; want 2 objects checked, no findings", rep, err)
			}
		}
		calls := log.take()
		if n := len(only(calls, memstore.OpGetRange)); n != 4 {
			t.Errorf("%s: %d ranged GETs; want 4: three ranges and the final chunk", run, n)
		}
		if gets := only(calls, memstore.OpGet); len(gets) != 1 || gets[0].key == fx.object("large") {
			t.Errorf("%s: GETs %v; want one, of the small file's object", run, gets)
		}
	}
}

// TestRestoreRangeOfReplacedObject replaces a large file's object while
// its ranges are read: the file fails verification and nothing is left
// in DEST, rather than a file spliced from two objects.
func TestRestoreRangeOfReplacedObject(t *testing.T) {
	store, log := newMemBucket()
	fx := newFixture(t, store.Bucket())
	fx.write("large", randomBytes(1, largeFile))
	fx.mustSync()
	key := fx.object("large")
	// Another encryption of the same file: same size, other bytes.
	other := encryptFor(t, fx.id.Recipient(), randomBytes(1, largeFile))

	var ranges atomic.Int32
	before(store, log, func(c call) error {
		if c.op == memstore.OpGetRange && ranges.Add(1) == 2 {
			_, err := store.Put(context.Background(), key, other, sync.PutOptions{})
			return err
		}
		return nil
	})
	dest, sum, fails := restoreInto(t, context.Background(), fx, store.Bucket())
	if e, ok := fails["large"]; sum.Failed != 1 || !ok || e.Reason != "verify" || !errors.Is(e.Err, sync.ErrObjectChanged) {
		t.Errorf("Restore: %d failed, fail event %+v; want large failed for verify, wrapping ErrObjectChanged", sum.Failed, e)
	}
	checkEmpty(t, dest)
}

// TestRestoreDamagedRange serves one range of a large object cut short,
// then one with a byte changed, both for a range of the payload and for
// the final chunk, which is fetched on its own: each fails the file,
// which is not left in DEST.
func TestRestoreDamagedRange(t *testing.T) {
	store, _ := newMemBucket()
	fx := newFixture(t, store.Bucket())
	fx.write("large", randomBytes(1, largeFile))
	fx.mustSync()

	for _, damage := range []struct {
		name   string
		reason string
		edit   func([]byte) int // returns the bytes served
	}{
		{"truncated", "verify", func(b []byte) int { return len(b) - 1 }},
		{"tampered", "", func(b []byte) int { b[len(b)/2] ^= 1; return len(b) }},
	} {
		for _, tail := range []bool{false, true} {
			bucket := store.Bucket()
			bucket.Ranges = &damagingRanges{RangeCopier: bucket.Ranges, edit: damage.edit, tail: tail}
			dest, sum, fails := restoreInto(t, context.Background(), fx, bucket)
			if e, ok := fails["large"]; sum.Failed != 1 || !ok || e.Reason != damage.reason || e.Err == nil {
				t.Errorf("%s range (final chunk %v): %d failed, fail event %+v; want large failed, reason %q", damage.name, tail, sum.Failed, e, damage.reason)
			}
			checkEmpty(t, dest)
		}
	}
}

// damagingRanges edits the second of the ranges (8 MiB each) it serves,
// or with tail set the final chunk's, the one range that is not at a
// multiple of 8 MiB.
type damagingRanges struct {
	sync.RangeCopier
	edit func([]byte) int
	tail bool
}

func (d *damagingRanges) GetRange(ctx context.Context, obj sync.Object, off int64, buf []byte) (int, error) {
	got, err := d.RangeCopier.GetRange(ctx, obj, off, buf)
	if err == nil && (off == 8<<20 && !d.tail || off%(8<<20) != 0 && d.tail) {
		got = d.edit(buf[:got])
	}
	return got, err
}

// checkEmpty fails the test unless dest holds no file, not even a
// temporary one.
func checkEmpty(t *testing.T, dest string) {
	t.Helper()
	entries, err := os.ReadDir(dest)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("DEST holds %s after the file failed", e.Name())
	}
}

// encryptFor returns plain encrypted to r.
func encryptFor(t *testing.T, r age.Recipient, plain []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := age.Encrypt(&out, r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestRestoreInRangesOnGateway restores and deep-audits a file of three
// ranges from the real S3 gateway, on a versioned bucket so that the ranges
// are pinned to the recorded version as well as its ETag, and counts the
// ranged GETs the gateway served: with MD5 ETags, and with ETags that are
// not.
func TestRestoreInRangesOnGateway(t *testing.T) {
	for _, mode := range []s3test.Mode{s3test.Default, s3test.DataIntegrityETags} {
		t.Run(mode.String(), func(t *testing.T) { restoreInRangesOnGateway(t, s3test.GetMode(t, mode)) })
	}
}

func restoreInRangesOnGateway(t *testing.T, srv *s3test.Server) {
	proxy := s3test.StartProxy(t, srv.Endpoint)
	cfg := srv.Config(srv.NewLockedBucket(t))
	cfg.Endpoint = proxy.URL
	st, err := s3store.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	bucket := sync.Bucket{Name: st.Bucket(), Objects: st, Multipart: st, Copier: st, UploadLister: st, History: st, Ranges: st}
	fx := newFixture(t, bucket)
	fx.write("large", randomBytes(3, largeFile))
	fx.write("small", []byte("small\n"))
	fx.mustSync()
	gets := proxy.Requests(s3test.OpGetObject)

	if sum := fx.restore(); sum.Restored != 2 {
		t.Errorf("Restore: %d restored; want 2", sum.Restored)
	}
	if n := proxy.Requests(s3test.OpGetObject) - gets; n != 5 {
		t.Errorf("Restore sent %d GETs; want 5: three ranges, the final chunk and the small file", n)
	}
	rep, err := sync.Audit(context.Background(), fx.db, bucket, sync.AuditOptions{
		Source: fx.src, Prefix: prefix, Deep: true, Identities: []age.Identity{fx.id}})
	if err != nil || !rep.Consistent() || rep.Checked != 2 {
		t.Errorf("deep Audit = %+v, %v; want 2 objects checked, no findings", rep, err)
	}
}
