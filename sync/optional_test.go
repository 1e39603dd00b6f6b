package sync_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/s3seal/s3seal/catalog"
	"github.com/s3seal/s3seal/sync"
	"github.com/s3seal/s3seal/sync/memstore"
)

// lacking fails every call of ops with sync.ErrNotImplemented, as a server
// without them answers.
func lacking(ops ...memstore.Op) func(call) error {
	return func(c call) error {
		if slices.Contains(ops, c.op) {
			return fmt.Errorf("%w: HTTP 501 NotImplemented", sync.ErrNotImplemented)
		}
		return nil
	}
}

// infos returns the info events with reason.
func infos(events []sync.Event, reason string) []sync.Event {
	var out []sync.Event
	for _, e := range events {
		if e.Kind == sync.EventInfo && e.Reason == reason {
			out = append(out, e)
		}
	}
	return out
}

// checkWarnedOnce fails the test unless events hold exactly one warning
// that the server lacks op, saying what is lost (want).
func checkWarnedOnce(t *testing.T, run string, events []sync.Event, op, want string) {
	t.Helper()
	warned := infos(events, sync.ReasonUnsupported)
	if len(warned) != 1 || warned[0].Path != op || !errors.Is(warned[0].Err, sync.ErrNotImplemented) ||
		!strings.Contains(warned[0].Err.Error(), want) {
		t.Errorf("%s warned %v; want one %q event for %s that says %q", run, warned, sync.ReasonUnsupported, op, want)
	}
}

// TestServerLacksUploadListing syncs to a server that answers
// ListMultipartUploads with NotImplemented: the first sync warns once
// what is lost, uploads every file and records that the server lacks it;
// the next one, with Delete, does not ask again, says so, and deletes the
// file gone from the source; an audit completes without asking either.
func TestServerLacksUploadListing(t *testing.T) {
	store, log := newMemBucket()
	fx := newFixture(t, store.Bucket())
	fx.write("a", []byte("alpha\n"))
	fx.write("gone", []byte("to be deleted\n"))
	fx.write("big", randomBytes(7, partSize+partSize/2))
	log.setFault(lacking(memstore.OpUploads))

	sum, events, err := fx.sync(context.Background())
	if err != nil || sum.Uploaded != 3 {
		t.Fatalf("Sync to a server lacking ListMultipartUploads: %v, %d uploaded; want nil, 3", err, sum.Uploaded)
	}
	noFailures(t, "first Sync", events)
	checkWarnedOnce(t, "first Sync", events, sync.OpListUploads, "lifecycle rule")
	if lacks, err := sync.ServerLacks(fx.db); err != nil || len(lacks) != 1 || lacks[0].Op != sync.OpListUploads {
		t.Errorf("ServerLacks after the first Sync = %+v, %v; want ListMultipartUploads", lacks, err)
	}

	goneKey := fx.object("gone")
	if err := os.Remove(filepath.Join(fx.src, "gone")); err != nil {
		t.Fatal(err)
	}
	fx.tune = func(o *sync.Options) { o.Delete, o.MaxDelete = true, -1 }
	log.take()
	sum, events, err = fx.sync(context.Background())
	calls := log.take()
	if err != nil || sum.Deleted != 1 || sum.Skipped != 2 {
		t.Fatalf("Sync with Delete: %v, %d deleted, %d skipped; want nil, 1, 2", err, sum.Deleted, sum.Skipped)
	}
	noFailures(t, "Sync with Delete", events)
	if n := len(only(calls, memstore.OpUploads)); n != 0 {
		t.Errorf("Sync with Delete sent %d ListMultipartUploads; want none, the catalog knows the server lacks it", n)
	}
	if warned, noted := infos(events, sync.ReasonUnsupported), infos(events, sync.ReasonUnsupportedKnown); len(warned) != 0 || len(noted) != 1 {
		t.Errorf("Sync with Delete reported %v and %v; want no warning and one %q note", warned, noted, sync.ReasonUnsupportedKnown)
	}
	if _, err := store.Head(context.Background(), goneKey); !errors.Is(err, sync.ErrNotFound) {
		t.Errorf("HEAD of the deleted file's object = %v; want ErrNotFound", err)
	}

	rep, events := fx.audit()
	if !rep.Consistent() || rep.Failed != 0 || rep.Files != 2 {
		t.Errorf("Audit: %+v; want 2 files and no finding", rep)
	}
	if n := len(only(log.take(), memstore.OpUploads)); n != 0 || len(infos(events, sync.ReasonUnsupportedKnown)) != 1 {
		t.Errorf("Audit sent %d ListMultipartUploads and reported %v; want none sent and one note", n, events)
	}
	fx.checkObjects()
}

// TestAuditLearnsUploadListingMissing: on a catalog that does not know the
// server lacks ListMultipartUploads, an audit and a dry run warn and
// complete, and record nothing, as they promise to change nothing.
func TestAuditLearnsUploadListingMissing(t *testing.T) {
	store, log := newMemBucket()
	fx := newFixture(t, store.Bucket())
	fx.write("a", []byte("alpha\n"))
	fx.mustSync()
	log.setFault(lacking(memstore.OpUploads))

	rep, events := fx.audit()
	if !rep.Consistent() || rep.Failed != 0 || rep.Files != 1 {
		t.Errorf("Audit on a server lacking ListMultipartUploads: %+v; want 1 file and no finding", rep)
	}
	checkWarnedOnce(t, "Audit", events, sync.OpListUploads, "neither reported nor aborted")

	fx.write("b", []byte("beta\n"))
	fx.tune = func(o *sync.Options) { o.DryRun = true }
	sum, events, err := fx.sync(context.Background())
	if err != nil || sum.Uploaded != 1 {
		t.Errorf("dry run: %v, %d would be uploaded; want nil, 1", err, sum.Uploaded)
	}
	checkWarnedOnce(t, "dry run", events, sync.OpListUploads, "neither reported nor aborted")
	if lacks, err := sync.ServerLacks(fx.db); err != nil || len(lacks) != 0 {
		t.Errorf("ServerLacks after an audit and a dry run = %+v, %v; want nothing recorded", lacks, err)
	}
}

// interrupt starts a sync and cancels it when part 3 of rel is about to
// go, as Ctrl-C would, and returns rel's in-flight upload.
func interrupt(t *testing.T, fx *fixture, log *opLog, rel string) catalog.Upload {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log.setFault(func(c call) error {
		if c.op == memstore.OpUploadPart && c.part == 3 {
			cancel()
			return context.Canceled
		}
		return nil
	})
	if _, _, err := fx.sync(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sync cancelled at part 3 = %v; want context.Canceled", err)
	}
	log.setFault(nil)
	ups, err := fx.db.Uploads()
	if err != nil || len(ups) != 1 || ups[0].Path != rel {
		t.Fatalf("in-flight uploads after the interruption: %+v (%v); want one, of %s", ups, err, rel)
	}
	return ups[0]
}

// TestServerLacksPartListing interrupts a multipart upload on a server
// that answers ListParts with NotImplemented. The next sync, with Delete,
// warns once, aborts the upload it cannot check and sends the file again
// from the start under a new upload, deletes the file gone from the
// source, and leaves an object that decrypts to the file. After a second
// interruption the next sync does not ask for the parts at all, and goes on
// when the server cannot abort the old upload either.
func TestServerLacksPartListing(t *testing.T) {
	store, log := newMemBucket()
	fx := newFixture(t, store.Bucket())
	const rel = "big"
	fx.write(rel, randomBytes(8, 3*partSize+partSize/2))
	fx.write("gone", []byte("to be deleted\n"))
	total := numParts(t, fx, rel)
	first := interrupt(t, fx, log, rel)

	goneKey := fx.object("gone")
	if err := os.Remove(filepath.Join(fx.src, "gone")); err != nil {
		t.Fatal(err)
	}
	fx.tune = func(o *sync.Options) { o.Delete, o.MaxDelete = true, -1 }
	log.setFault(lacking(memstore.OpListParts))
	log.take()
	sum, events, err := fx.sync(context.Background())
	calls := log.take()
	if err != nil || sum.Uploaded != 1 || sum.Deleted != 1 {
		t.Fatalf("Sync after the interruption: %v, %d uploaded, %d deleted; want nil, 1, 1", err, sum.Uploaded, sum.Deleted)
	}
	noFailures(t, "Sync after the interruption", events)
	checkWarnedOnce(t, "Sync after the interruption", events, sync.OpListParts, "sent again from the start")
	if r := infos(events, "restarted"); len(r) != 1 || r[0].Path != rel || !strings.Contains(r[0].Err.Error(), "lacks ListParts") {
		t.Errorf("restarted events %v; want one for %s naming ListParts", r, rel)
	}
	var sent []int32
	for _, c := range only(calls, memstore.OpUploadPart) {
		sent = append(sent, c.part)
	}
	slices.Sort(sent)
	if len(sent) != total || sent[0] != 1 || sent[len(sent)-1] != int32(total) {
		t.Errorf("Sync after the interruption sent parts %v; want all %d again", sent, total)
	}
	if n, m := len(only(calls, memstore.OpAbortMultipart)), len(only(calls, memstore.OpCreateMultipart)); n != 1 || m != 1 {
		t.Errorf("Sync after the interruption made %d aborts and %d new uploads; want 1 and 1", n, m)
	}
	if _, err := store.Head(context.Background(), goneKey); !errors.Is(err, sync.ErrNotFound) {
		t.Errorf("HEAD of the deleted file's object = %v; want ErrNotFound", err)
	}
	if ups, err := store.Uploads(context.Background(), ""); err != nil || len(ups) != 0 {
		t.Errorf("server uploads after the restarted upload: %+v (%v); want none (%s aborted)", ups, err, first.UploadID)
	}
	fx.checkObjects()

	// A second interruption, of a changed file (so that it is uploaded
	// again), on a server that cannot abort either.
	fx.write(rel, randomBytes(9, 3*partSize+partSize/2))
	second := interrupt(t, fx, log, rel)
	log.setFault(lacking(memstore.OpListParts, memstore.OpAbortMultipart))
	log.take()
	sum, events, err = fx.sync(context.Background())
	calls = log.take()
	if err != nil || sum.Uploaded != 1 {
		t.Fatalf("Sync after the second interruption: %v, %d uploaded; want nil, 1", err, sum.Uploaded)
	}
	noFailures(t, "Sync after the second interruption", events)
	if n := len(only(calls, memstore.OpListParts)); n != 0 || len(infos(events, sync.ReasonUnsupported)) != 0 {
		t.Errorf("Sync after the second interruption sent %d ListParts and warned %v; want none: the catalog knows", n, infos(events, sync.ReasonUnsupported))
	}
	if r := infos(events, "restarted"); len(r) != 1 || !strings.Contains(r[0].Err.Error(), "could not be aborted") {
		t.Errorf("restarted events %v; want one saying the old upload could not be aborted", r)
	}
	if ups, err := store.Uploads(context.Background(), ""); err != nil || len(ups) != 1 || ups[0].UploadID != second.UploadID {
		t.Errorf("server uploads: %+v (%v); want only the one that could not be aborted, %s", ups, err, second.UploadID)
	}
	if ups, err := fx.db.Uploads(); err != nil || len(ups) != 0 {
		t.Errorf("in-flight uploads in the catalog: %+v (%v); want none", ups, err)
	}
	fx.checkObjects()
}
