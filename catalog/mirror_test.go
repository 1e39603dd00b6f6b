package catalog

import (
	"errors"
	"os"
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

// TestSignerStaysLocal: the pinned signer reads back, survives ReplaceFrom,
// does not move the generation and never travels in a snapshot, so a pulled
// catalog cannot change which key this machine trusts.
func TestSignerStaysLocal(t *testing.T) {
	db := openTest(t)
	if _, ok, err := db.Signer(); ok || err != nil {
		t.Fatalf("Signer() of a new catalog: ok %v, err %v; want none", ok, err)
	}
	before, _ := db.Generation()
	want := Signer{Key: []byte("0123456789abcdef0123456789abcdef"), Generation: 42}
	if err := db.SetSigner(want); err != nil {
		t.Fatal(err)
	}
	if after, _ := db.Generation(); after != before {
		t.Errorf("SetSigner moved the generation %d -> %d", before, after)
	}
	snap := filepath.Join(t.TempDir(), "snap.db")
	if _, err := db.Snapshot(snap); err != nil {
		t.Fatal(err)
	}
	if err := db.ReplaceFrom(snap); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := db.Signer(); err != nil || !ok || string(got.Key) != string(want.Key) || got.Generation != 42 {
		t.Errorf("Signer() after ReplaceFrom = %+v, %v, %v; want %+v", got, ok, err, want)
	}
	other := openAt(t, filepath.Join(t.TempDir(), "other.db"))
	if err := other.ReplaceFrom(snap); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := other.Signer(); ok || err != nil {
		t.Errorf("a catalog filled from a snapshot has a signer (ok %v, err %v); it must stay on its machine", ok, err)
	}
}

// TestAdvanceGeneration raises the generation and never lowers it.
func TestAdvanceGeneration(t *testing.T) {
	db := openTest(t)
	for _, step := range []struct{ to, want int64 }{{10, 10}, {3, 10}, {11, 11}} {
		if err := db.AdvanceGeneration(step.to); err != nil {
			t.Fatal(err)
		}
		if g, _ := db.Generation(); g != step.want {
			t.Errorf("AdvanceGeneration(%d): generation %d; want %d", step.to, g, step.want)
		}
	}
}

// TestSnapshotSettings reads a snapshot's settings without touching the
// catalog, and refuses a file that is not a catalog.
func TestSnapshotSettings(t *testing.T) {
	src := openTest(t)
	if err := src.SetSetting("naming", []byte("plain")); err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(t.TempDir(), "snap.db")
	if _, err := src.Snapshot(snap); err != nil {
		t.Fatal(err)
	}
	db := openAt(t, filepath.Join(t.TempDir(), "other.db"))
	if err := db.SetSetting("naming", []byte("hidden")); err != nil {
		t.Fatal(err)
	}
	settings, err := db.SnapshotSettings(snap)
	if err != nil || string(settings["naming"]) != "plain" {
		t.Fatalf("SnapshotSettings = %q, %v; want naming plain", settings, err)
	}
	if v, _, _ := db.Setting("naming"); string(v) != "hidden" {
		t.Errorf("SnapshotSettings changed the catalog's naming to %q", v)
	}
	junk := filepath.Join(t.TempDir(), "junk.db")
	if err := os.WriteFile(junk, []byte("not a database at all, not even close"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SnapshotSettings(junk); !errors.Is(err, ErrCorrupt) {
		t.Errorf("SnapshotSettings of junk = %v; want ErrCorrupt", err)
	}
}
