package catalog

import (
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"testing"
)

// writeVersion2 creates at path a catalog of schema version 2, the last one
// without plain_sha256, holding rows (whose SHA-256 it cannot store).
func writeVersion2(t *testing.T, path string, rows ...File) {
	t.Helper()
	raw := rawDB(t, path)
	for _, m := range migrations[:2] {
		rawExec(t, raw, m)
	}
	rawExec(t, raw, fmt.Sprintf("PRAGMA user_version = 2; PRAGMA application_id = %d", applicationID))
	const v2Columns = "path, size, mode, mtime_ns, ctime_ns, inode, dev, plain_md5, object_key, etag, cipher_size, uploaded_at"
	for _, f := range rows {
		rawExec(t, raw, "INSERT INTO files ("+v2Columns+") VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", fileArgs(f)[:12]...)
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}
}

// withoutSHA256 returns f as a catalog of version 2 holds it.
func withoutSHA256(f File) File {
	f.PlainSHA256, f.HasSHA256 = [32]byte{}, false
	return f
}

func TestMigratedCatalogRowsHaveNoSHA256UntilPut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.db")
	old := sampleFile(2, "old/row") // has a SHA-256 the old schema drops
	writeVersion2(t, path, old)
	db := openAt(t, path)
	got, ok, err := db.Lookup(old.Path)
	if want := withoutSHA256(old); err != nil || !ok || got != want {
		t.Fatalf("Lookup(%q) after migration = %+v, %v, %v; want %+v", old.Path, got, ok, err, want)
	}
	if err := db.Put(old); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := db.Lookup(old.Path); err != nil || !ok || got != old {
		t.Fatalf("Lookup(%q) after Put = %+v, %v, %v; want %+v with its SHA-256", old.Path, got, ok, err, old)
	}
}

func TestSnapshotCarriesSHA256(t *testing.T) {
	src := openTest(t)
	f := sampleFile(4, "with/sha")
	if !f.HasSHA256 || f.PlainSHA256 != sha256.Sum256([]byte("content4")) {
		t.Fatal("sample row has no SHA-256; the test proves nothing")
	}
	if err := src.Put(f, sampleFile(5, "without/sha")); err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(t.TempDir(), "snap.db")
	if _, err := src.Snapshot(snap); err != nil {
		t.Fatal(err)
	}
	dst := openTest(t)
	if err := dst.ReplaceFrom(snap); err != nil {
		t.Fatalf("ReplaceFrom() = %v", err)
	}
	checkSameContents(t, dump(t, dst), dump(t, src))
}

func TestReplaceFromVersion2Snapshot(t *testing.T) {
	snap := filepath.Join(t.TempDir(), "old.db")
	rows := []File{sampleFile(0, "a"), sampleFile(1, "b")}
	writeVersion2(t, snap, rows...)
	db := openTest(t)
	if err := db.Put(sampleFile(9, "replaced")); err != nil {
		t.Fatal(err)
	}
	if err := db.ReplaceFrom(snap); err != nil {
		t.Fatalf("ReplaceFrom(version 2 snapshot) = %v", err)
	}
	got := dump(t, db).Files
	if len(got) != 2 || got[0] != withoutSHA256(rows[0]) || got[1] != withoutSHA256(rows[1]) {
		t.Fatalf("rows after ReplaceFrom = %+v; want %+v without SHA-256", got, rows)
	}
}
