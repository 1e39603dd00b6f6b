package catalog

import (
	"path/filepath"
	"testing"
)

// TestRunsTravelWithSnapshots: runs are numbered from 1, a run advances the
// generation (it is what a mirror holds) but noting its mirror version does
// not, and a snapshot carries the runs and the rows' version IDs and
// retention to the catalog that replaces itself from it.
func TestRunsTravelWithSnapshots(t *testing.T) {
	db := openTest(t)
	if _, ok, err := db.LastRun(); err != nil || ok {
		t.Fatalf("LastRun of a new catalog = %v, %v; want none", ok, err)
	}
	f := sampleFile(1, "a")
	f.VersionID, f.RetainUntil = "v-1", 1_900_000_000
	if err := db.Put(f); err != nil {
		t.Fatal(err)
	}
	g0, _ := db.Generation()
	id, err := db.AddRun(Run{FinishedAt: 123, Files: 1, Changed: 1, Bytes: 5})
	if err != nil || id != 1 {
		t.Fatalf("AddRun = %d, %v; want 1", id, err)
	}
	g1, _ := db.Generation()
	if g1 != g0+1 {
		t.Errorf("AddRun moved the generation from %d to %d; want one step", g0, g1)
	}
	if err := db.SetRunMirror(id, "mirror-v1"); err != nil {
		t.Fatal(err)
	}
	if g, _ := db.Generation(); g != g1 {
		t.Errorf("SetRunMirror moved the generation to %d; want it left at %d", g, g1)
	}
	if id, err := db.AddRun(Run{FinishedAt: 456, Files: 1}); err != nil || id != 2 {
		t.Fatalf("second AddRun = %d, %v; want 2", id, err)
	}
	if err := db.SetRunMirror(7, "x"); err == nil {
		t.Errorf("SetRunMirror of a run that does not exist succeeded")
	}

	snap := filepath.Join(t.TempDir(), "snap.db")
	if _, err := db.Snapshot(snap); err != nil {
		t.Fatal(err)
	}
	other := openTest(t)
	if _, err := other.AddRun(Run{FinishedAt: 1}); err != nil {
		t.Fatal(err)
	}
	if err := other.ReplaceFrom(snap); err != nil {
		t.Fatal(err)
	}
	runs, err := other.Runs()
	want := []Run{{ID: 1, FinishedAt: 123, Files: 1, Changed: 1, Bytes: 5, MirrorVersion: "mirror-v1"}, {ID: 2, FinishedAt: 456, Files: 1}}
	if err != nil || len(runs) != 2 || runs[0] != want[0] || runs[1] != want[1] {
		t.Errorf("runs after ReplaceFrom = %+v, %v; want %+v", runs, err, want)
	}
	got, ok, err := other.Lookup("a")
	if err != nil || !ok || got.VersionID != "v-1" || got.RetainUntil != 1_900_000_000 {
		t.Errorf("row after ReplaceFrom = %+v, %v, %v; want version v-1, retention kept", got, ok, err)
	}
}
