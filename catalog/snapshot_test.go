package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// fillForSnapshot gives db rows, settings and one in-flight upload, and
// returns the upload's file key.
func fillForSnapshot(t testing.TB, db *DB, rows int) (fileKey []byte) {
	t.Helper()
	putSamples(t, db, rows)
	settings := map[string][]byte{
		"naming":   []byte("hidden"),
		"name_key": bytes.Repeat([]byte("NK"), 16),
		"target":   []byte("s3://bucket/prefix"),
	}
	for k, v := range settings {
		if err := db.SetSetting(k, v); err != nil {
			t.Fatal(err)
		}
	}
	fileKey = []byte("\x01FILEKEY-secret\xfe")
	err := db.PutUpload(Upload{Path: "big.iso", ObjectKey: "obj", UploadID: "id",
		PartSize: 8 << 20, FileKey: fileKey, Nonce: []byte("nonce-0123456789"), Header: []byte("hdr")})
	if err != nil {
		t.Fatal(err)
	}
	return fileKey
}

func TestSnapshotHasRowsButNoUploads(t *testing.T) {
	db := openTest(t)
	fileKey := fillForSnapshot(t, db, 300)
	want := dump(t, db)
	snap := filepath.Join(t.TempDir(), "snap.db")
	if _, err := db.Snapshot(snap); err != nil {
		t.Fatalf("Snapshot() = %v", err)
	}

	raw := readFile(t, snap)
	if !bytes.Contains(raw, []byte(want.Settings["name_key"])) {
		t.Fatal("snapshot bytes do not contain the name_key setting; the key search below proves nothing")
	}
	if bytes.Contains(raw, fileKey) {
		t.Error("snapshot bytes contain the in-flight upload's file key")
	}
	if info, err := os.Stat(snap); err != nil || info.Mode() != 0o600 {
		t.Errorf("snapshot mode = %v, %v; want -rw-------", info.Mode(), err)
	}

	plain := rawDB(t, snap)
	counts := []struct {
		query string
		want  int
	}{
		{"SELECT count(*) FROM files", 300},
		{"SELECT count(*) FROM settings", 3},
		{"SELECT count(*) FROM uploads", 0},
	}
	for _, c := range counts {
		var got int
		if err := plain.QueryRow(c.query).Scan(&got); err != nil || got != c.want {
			t.Errorf("snapshot %s = %d, %v; want %d", c.query, got, err, c.want)
		}
	}
	var mode string
	if err := plain.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "delete" {
		t.Errorf("snapshot journal_mode = %q, %v; want delete (a single self-contained file)", mode, err)
	}
	if _, err := os.Stat(snap + "-journal"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat(snapshot journal) = %v; want it gone", err)
	}
	// The catalog itself still has its upload.
	if got := dump(t, db); len(got.Uploads) != 1 {
		t.Errorf("catalog has %d uploads after Snapshot; want 1", len(got.Uploads))
	}
}

func TestSnapshotRefusesExistingFile(t *testing.T) {
	db := openTest(t)
	putSamples(t, db, 3)
	snap := filepath.Join(t.TempDir(), "snap.db")
	old := write(t, snap, []byte("precious"))
	if _, err := db.Snapshot(snap); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Snapshot(existing) = %v; want fs.ErrExist", err)
	}
	checkFileUnchanged(t, snap, old)
}

func TestReplaceFromRoundTrip(t *testing.T) {
	src := openTest(t)
	fillForSnapshot(t, src, 120)
	snap := filepath.Join(t.TempDir(), "snap.db")
	if _, err := src.Snapshot(snap); err != nil {
		t.Fatal(err)
	}
	want := dump(t, src)
	want.Uploads = nil // never carried over

	dst := openTest(t)
	if err := dst.Put(sampleFile(999, "only/in/dst")); err != nil {
		t.Fatal(err)
	}
	if err := dst.SetSetting("sealed_identity", []byte("old")); err != nil {
		t.Fatal(err)
	}
	if err := dst.PutUpload(Upload{Path: "stale", FileKey: []byte("k")}); err != nil {
		t.Fatal(err)
	}
	snapBytes := readFile(t, snap)

	if err := dst.ReplaceFrom(snap); err != nil {
		t.Fatalf("ReplaceFrom() = %v", err)
	}
	checkSameContents(t, dump(t, dst), want)
	checkFileUnchanged(t, snap, snapBytes)

	// The replaced catalog keeps working and snapshots again.
	if err := dst.Put(sampleFile(1000, "after")); err != nil {
		t.Fatal(err)
	}
	if _, err := dst.Snapshot(filepath.Join(t.TempDir(), "again.db")); err != nil {
		t.Fatalf("Snapshot after ReplaceFrom = %v", err)
	}
}

func TestReplaceFromRejectsNonCatalogs(t *testing.T) {
	valid := func(t *testing.T, path string) {
		db, err := Open(filepath.Join(t.TempDir(), "c.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		putSamples(t, db, 200)
		if _, err := db.Snapshot(path); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		make func(t *testing.T, path string)
	}{
		{"random bytes", func(t *testing.T, path string) {
			write(t, path, bytes.Repeat([]byte("not a database "), 500))
		}},
		{"empty file", func(t *testing.T, path string) { write(t, path, nil) }},
		{"truncated snapshot", func(t *testing.T, path string) {
			valid(t, path)
			b := readFile(t, path)
			write(t, path, b[:len(b)/2])
		}},
		{"another application's database", func(t *testing.T, path string) {
			raw := rawDB(t, path)
			rawExec(t, raw, "CREATE TABLE files (path BLOB)")
			raw.Close()
		}},
		{"newer schema version", func(t *testing.T, path string) {
			valid(t, path)
			raw := rawDB(t, path)
			rawExec(t, raw, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion+1))
			raw.Close()
		}},
		{"missing table", func(t *testing.T, path string) {
			valid(t, path)
			raw := rawDB(t, path)
			rawExec(t, raw, "DROP TABLE settings")
			raw.Close()
		}},
		{"malformed schema text", func(t *testing.T, path string) {
			valid(t, path)
			raw := rawDB(t, path)
			rawExec(t, raw, "PRAGMA writable_schema = ON")
			rawExec(t, raw, "UPDATE sqlite_schema SET sql = 'CREATE TABLE settings (key' WHERE name = 'settings'")
			raw.Close()
		}},
		{"view instead of a table", func(t *testing.T, path string) {
			raw := rawDB(t, path)
			rawExec(t, raw, `CREATE VIEW files AS SELECT x'70' AS path, 1 AS size, 420 AS mode,
				0 AS mtime_ns, 0 AS ctime_ns, 1 AS inode, 1 AS dev, zeroblob(16) AS plain_md5,
				'k' AS object_key, 'e' AS etag, 1 AS cipher_size, 1 AS uploaded_at`)
			rawExec(t, raw, "CREATE TABLE settings (key, value)")
			rawExec(t, raw, fmt.Sprintf("PRAGMA application_id = %d", applicationID))
			rawExec(t, raw, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion))
			raw.Close()
		}},
		{"rows that break the schema", func(t *testing.T, path string) {
			raw := rawDB(t, path)
			rawExec(t, raw, `CREATE TABLE files (path, size, mode, mtime_ns, ctime_ns, inode, dev,
				plain_md5, object_key, etag, cipher_size, uploaded_at)`)
			rawExec(t, raw, "CREATE TABLE settings (key, value)")
			rawExec(t, raw, "INSERT INTO files VALUES ('p', 1, 420, 0, 0, 1, 1, x'0102', 'k', 'e', 1, 1)")
			rawExec(t, raw, fmt.Sprintf("PRAGMA application_id = %d", applicationID))
			rawExec(t, raw, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion))
			raw.Close()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTest(t)
			fillForSnapshot(t, db, 10)
			before := dump(t, db)
			src := filepath.Join(t.TempDir(), "src.db")
			tt.make(t, src)
			srcBytes := readFile(t, src)

			if err := db.ReplaceFrom(src); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("ReplaceFrom() = %v; want ErrCorrupt", err)
			}
			checkSameContents(t, dump(t, db), before)
			checkFileUnchanged(t, src, srcBytes)
		})
	}
}

func TestReplaceFromCopiedCatalogFile(t *testing.T) {
	// A closed catalog is in WAL format; copied as is, it must import and
	// leave nothing beside it.
	dir := t.TempDir()
	srcPath := filepath.Join(t.TempDir(), "catalog.db")
	src, err := Open(srcPath)
	if err != nil {
		t.Fatal(err)
	}
	fillForSnapshot(t, src, 30)
	want := dump(t, src)
	want.Uploads = nil
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	copied := write(t, filepath.Join(dir, "copy.db"), readFile(t, srcPath))

	db := openTest(t)
	if err := db.ReplaceFrom(filepath.Join(dir, "copy.db")); err != nil {
		t.Fatalf("ReplaceFrom(copied catalog) = %v", err)
	}
	checkSameContents(t, dump(t, db), want)
	checkFileUnchanged(t, filepath.Join(dir, "copy.db"), copied)
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 1 {
		t.Errorf("directory of the source holds %d entries after ReplaceFrom (%v); want only the source", len(entries), err)
	}
}

func TestReplaceFromMissingFile(t *testing.T) {
	db := openTest(t)
	putSamples(t, db, 4)
	before := dump(t, db)
	missing := filepath.Join(t.TempDir(), "missing.db")
	err := db.ReplaceFrom(missing)
	if !errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrCorrupt) {
		t.Fatalf("ReplaceFrom(missing) = %v; want fs.ErrNotExist, not ErrCorrupt", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReplaceFrom created %s", missing)
	}
	checkSameContents(t, dump(t, db), before)
}

func TestReplaceFromRefusesItself(t *testing.T) {
	db := openTest(t)
	putSamples(t, db, 4)
	before := dump(t, db)
	if err := db.ReplaceFrom(db.Path()); err == nil {
		t.Fatal("ReplaceFrom(own path) = nil; want an error")
	}
	checkSameContents(t, dump(t, db), before)
}
