package catalog

import (
	"crypto/sha256"
	"reflect"
	"strings"
	"testing"
)

// TestUploadParts checks the part hashes of in-flight uploads: recorded
// once, never replaced, forgotten with their upload or when a new upload
// replaces it, and never part of a snapshot.
func TestUploadParts(t *testing.T) {
	db := openTest(t)
	up := Upload{Path: "big.iso", ObjectKey: "k", UploadID: "u1", PartsRecorded: true}
	if err := db.PutUpload(up); err != nil {
		t.Fatal(err)
	}
	one, two := sha256.Sum256([]byte("part 1")), sha256.Sum256([]byte("part 2"))
	for number, sum := range map[int32][32]byte{1: one, 2: two} {
		if err := db.PutUploadPart(up.Path, number, sum); err != nil {
			t.Fatalf("PutUploadPart(%d) = %v", number, err)
		}
	}
	if err := db.PutUploadPart(up.Path, 1, two); err == nil || !strings.Contains(err.Error(), "already has a hash") {
		t.Errorf("PutUploadPart of part 1 again = %v; want an error (a sent part's hash never changes)", err)
	}
	got, err := db.UploadParts(up.Path)
	if want := map[int32][32]byte{1: one, 2: two}; err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("UploadParts = %v, %v; want %v", got, err, want)
	}
	if u, ok, err := db.Upload(up.Path); !ok || err != nil || !u.PartsRecorded {
		t.Errorf("Upload = %+v, %v, %v; want PartsRecorded", u, ok, err)
	}

	snap := t.TempDir() + "/snap.db"
	if _, err := db.Snapshot(snap); err != nil {
		t.Fatal(err)
	}
	copyDB, err := Open(snap)
	if err != nil {
		t.Fatal(err)
	}
	if parts, err := copyDB.UploadParts(up.Path); err != nil || len(parts) != 0 {
		t.Errorf("snapshot holds part hashes %v, %v; want none", parts, err)
	}
	copyDB.Close()

	up.UploadID = "u2" // a new envelope: the old upload's hashes say nothing of it
	if err := db.PutUpload(up); err != nil {
		t.Fatal(err)
	}
	if parts, err := db.UploadParts(up.Path); err != nil || len(parts) != 0 {
		t.Errorf("after a new upload replaced the old: parts %v, %v; want none", parts, err)
	}
	if err := db.PutUploadPart(up.Path, 1, one); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteUpload(up.Path); err != nil {
		t.Fatal(err)
	}
	if parts, err := db.UploadParts(up.Path); err != nil || len(parts) != 0 {
		t.Errorf("after DeleteUpload: parts %v, %v; want none", parts, err)
	}
}
