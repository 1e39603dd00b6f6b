package catalog

import (
	"path/filepath"
	"testing"
)

// TestGeneration checks that the generation moves with every change a
// snapshot would carry, and with nothing else.
func TestGeneration(t *testing.T) {
	db := openTest(t)
	gen := func() int64 {
		t.Helper()
		g, err := db.Generation()
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	last := gen()
	step := func(name string, wantChange bool, do func() error) {
		t.Helper()
		if err := do(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		g := gen()
		if changed := g != last; changed != wantChange {
			t.Errorf("%s: generation %d -> %d; want a change: %v", name, last, g, wantChange)
		}
		last = g
	}

	step("Put", true, func() error { return db.Put(sampleFile(1, "a")) })
	step("Put of no rows", false, func() error { return db.Put() })
	step("Delete", true, func() error { return db.Delete("a") })
	step("SetSetting", true, func() error { return db.SetSetting("naming", []byte("plain")) })
	batch := db.NewBatch(10)
	step("Batch.Put, not yet flushed", false, func() error { return batch.Put(sampleFile(2, "b")) })
	step("Batch.Flush", true, batch.Flush)
	step("PutUpload", false, func() error { return db.PutUpload(Upload{Path: "c", ObjectKey: "k", UploadID: "u"}) })
	step("DeleteUpload", false, func() error { return db.DeleteUpload("c") })
	step("SetMirrored", false, func() error { return db.SetMirrored(Mirror{Generation: last, ETag: "etag-1", Keys: "k"}) })

	snap := filepath.Join(t.TempDir(), "snap.db")
	var snapGen int64
	step("Snapshot", false, func() (err error) { snapGen, err = db.Snapshot(snap); return err })
	if snapGen != last {
		t.Errorf("Snapshot returned generation %d; the catalog is at %d", snapGen, last)
	}
	step("ReplaceFrom", true, func() error { return db.ReplaceFrom(snap) })

	m, ok, err := db.Mirrored()
	if want := (Mirror{Generation: snapGen, ETag: "etag-1", Keys: "k"}); err != nil || !ok || m != want {
		t.Errorf("Mirrored() = %+v, %v, %v; want %+v, true, nil (ReplaceFrom keeps the local record)", m, ok, err, want)
	}
	other := openAt(t, filepath.Join(t.TempDir(), "other.db"))
	if err := other.ReplaceFrom(snap); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := other.Mirrored(); ok || err != nil {
		t.Errorf("a catalog filled from a snapshot has a mirror record (ok %v, err %v); the record must stay on its machine", ok, err)
	}
}
