package catalog

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReplaceFrom feeds arbitrary files to ReplaceFrom. Whatever the bytes,
// it must not panic; if it fails, the error must wrap ErrCorrupt and the
// catalog and the source file must be unchanged; if it succeeds, every row
// must read back cleanly. One catalog serves every input of a fuzz worker
// (inputs run one at a time) and is put back after each success.
func FuzzReplaceFrom(f *testing.F) {
	dir := f.TempDir()
	db := openAt(f, filepath.Join(dir, "catalog.db"))
	fillForSnapshot(f, db, 40)
	baseline := filepath.Join(dir, "baseline.db")
	if _, err := db.Snapshot(baseline); err != nil {
		f.Fatal(err)
	}
	if err := db.ReplaceFrom(baseline); err != nil { // drops the upload, as every success will
		f.Fatal(err)
	}
	want := dump(f, db)

	valid, err := os.ReadFile(baseline)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	f.Add(valid[:100])
	f.Add([]byte{})
	f.Add([]byte("SQLite format 3\x00"))
	f.Add(bytes.Repeat([]byte{0xff}, 4096))

	f.Fuzz(func(t *testing.T, data []byte) {
		src := filepath.Join(t.TempDir(), "src.db")
		if err := os.WriteFile(src, data, 0o600); err != nil {
			t.Fatal(err)
		}

		err := db.ReplaceFrom(src)
		checkFileUnchanged(t, src, data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("ReplaceFrom(%d bytes) = %v; want ErrCorrupt for a file that exists", len(data), err)
			}
			checkSameContents(t, dump(t, db), want)
			return
		}
		got := dump(t, db) // fails the test if a row does not scan back
		if n, err := db.Count(); err != nil || n != len(got.Files) {
			t.Fatalf("Count() = %d, %v; want %d", n, err, len(got.Files))
		}
		if err := db.ReplaceFrom(baseline); err != nil {
			t.Fatalf("ReplaceFrom(baseline) after a success = %v", err)
		}
	})
}
