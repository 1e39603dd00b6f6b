package sync_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/s3seal/s3seal/cipher"
	"github.com/s3seal/s3seal/sync"
	"github.com/s3seal/s3seal/sync/memstore"
)

// TestResumeInProcess interrupts a multipart upload when its third part
// is about to go (the hook cancels the run's context, as Ctrl-C does) and
// checks that the next sync continues the same upload, sends only the
// parts the server lacks, and leaves an object that decrypts to the file.
// Each run's summary counts the bytes the server took in that run: the
// interrupted one its parts and small objects, though the big file never
// finished.
func TestResumeInProcess(t *testing.T) {
	store, log := newMemBucket()
	fx := newFixture(t, store.Bucket())
	const rel, cut = "big", 3
	fx.write(rel, randomBytes(5, 3*partSize+partSize/2))
	fx.write("small/a", []byte("alpha\n"))
	fx.write("small/b", randomBytes(6, 10<<10))
	total := numParts(t, fx, rel)
	if total != 4 {
		t.Fatalf("the big file has %d parts; the test wants 4", total)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log.setFault(func(c call) error {
		if c.op == memstore.OpUploadPart && c.part == cut {
			cancel()
			return context.Canceled
		}
		return nil
	})
	cutSum, events, err := fx.sync(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Sync cancelled at part %d = %v; want context.Canceled", cut, err)
	}
	noFailures(t, "interrupted Sync", events) // an interruption is not a failed file
	log.setFault(nil)
	ups, err := fx.db.Uploads()
	if err != nil || len(ups) != 1 || ups[0].Path != rel {
		t.Fatalf("in-flight uploads after the interruption: %+v (%v); want one, of %s", ups, err, rel)
	}
	held, err := store.ListParts(context.Background(), ups[0].ObjectKey, ups[0].UploadID)
	if err != nil {
		t.Fatal(err)
	}
	// With two part buffers, part 3 was read only once part 1 or 2 was
	// stored and gave its buffer back; nothing after part 2 was stored.
	var have []int32
	for _, p := range held {
		have = append(have, p.Number)
	}
	t.Logf("the server holds parts %v after the cut at part %d", have, cut)
	if len(have) == 0 || have[len(have)-1] >= cut {
		t.Fatalf("the server holds parts %v after the cut at part %d; want part 1 or 2 or both", have, cut)
	}
	storedBefore := storedBytes(t, store)
	if want := partsSize(held) + storedBefore; cutSum.BytesSent != want {
		t.Errorf("interrupted Sync: summary says %d bytes sent; want the %d the server holds (%d in parts, %d in objects)",
			cutSum.BytesSent, want, partsSize(held), storedBefore)
	}

	log.take()
	sum, events, err := fx.sync(context.Background())
	if err != nil {
		t.Fatalf("resuming Sync = %v", err)
	}
	noFailures(t, "resuming Sync", events)
	calls := log.take()
	var sent []int32
	for _, c := range only(calls, memstore.OpUploadPart) {
		sent = append(sent, c.part)
	}
	slices.Sort(sent)
	var missing []int32
	for n := int32(1); n <= int32(total); n++ {
		if !slices.Contains(have, n) {
			missing = append(missing, n)
		}
	}
	if !slices.Equal(sent, missing) {
		t.Errorf("resuming Sync sent parts %v; want only the missing %v (the server held %v)", sent, missing, have)
	}
	if restarts := only(calls, memstore.OpCreateMultipart, memstore.OpAbortMultipart); len(restarts) != 0 {
		t.Errorf("resuming Sync started or aborted uploads: %v; want the upload continued", restarts)
	}
	if !resumed(events, rel, partsSize(held)) {
		t.Errorf("resuming Sync reported no resume of %s with %d bytes on the server", rel, partsSize(held))
	}
	if want := storedBytes(t, store) - storedBefore - partsSize(held); sum.BytesSent != want {
		t.Errorf("resuming Sync: summary says %d bytes sent; want the %d the server did not hold before", sum.BytesSent, want)
	}
	if sum.Failed != 0 || sum.Uploaded+sum.Skipped != 3 {
		t.Errorf("resuming Sync: %d uploaded, %d skipped, %d failed; want all 3 files uploaded or skipped", sum.Uploaded, sum.Skipped, sum.Failed)
	}
	if ups, err := fx.db.Uploads(); err != nil || len(ups) != 0 {
		t.Errorf("in-flight uploads after the resumed sync: %+v (%v); want none", ups, err)
	}
	if ups, err := store.Uploads(context.Background(), ""); err != nil || len(ups) != 0 {
		t.Errorf("server uploads after the resumed sync: %+v (%v); want none", ups, err)
	}
	fx.checkObjects()
}

// numParts returns the number of parts of rel's multipart upload.
func numParts(t *testing.T, fx *fixture, rel string) int {
	t.Helper()
	env, err := cipher.NewEnvelope(fx.id.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	size := int64(len(readTree(t, fx.src)[rel].content))
	return int((env.CiphertextSize(size) + partSize - 1) / partSize)
}

// resumed reports whether events say that rel's upload resumed with bytes
// on the server.
func resumed(events []sync.Event, rel string, bytes int64) bool {
	for _, e := range events {
		if e.Kind == sync.EventInfo && e.Reason == "resumed" && e.Path == rel && e.Bytes == bytes {
			return true
		}
	}
	return false
}

// storedBytes returns the size of all the objects in store.
func storedBytes(t *testing.T, store *memstore.Store) int64 {
	t.Helper()
	var n int64
	err := store.List(context.Background(), "", func(o sync.Object) error {
		n += o.Size
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func partsSize(parts []sync.Part) int64 {
	var n int64
	for _, p := range parts {
		n += p.Size
	}
	return n
}
