package catalog

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// holderEnv, when set in the environment of the test binary, turns it into a
// process that opens the catalog named by the variable, records one row,
// prints "ready" and holds the catalog until its stdin closes or it is
// killed.
const holderEnv = "S3SEAL_CATALOG_TEST_HOLDER"

// holderRow is the path the holder process records before reporting ready.
const holderRow = "recorded/by/holder"

func TestMain(m *testing.M) {
	if path := os.Getenv(holderEnv); path != "" {
		os.Exit(runHolder(path))
	}
	os.Exit(m.Run())
}

func runHolder(path string) int {
	db, err := Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := db.Put(sampleFile(0, holderRow)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	if err := db.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// sampleFile returns a row for path whose every field depends on i, with
// unsigned fields near their limits for some i, so a column mix-up or a
// lost bit shows.
func sampleFile(i int, path string) File {
	f := File{
		Path:       path,
		Size:       int64(i) * 1000,
		Mode:       uint32(0o644 + i%8),
		ModTime:    1_700_000_000_000_000_000 + int64(i),
		ChangeTime: 1_700_000_000_000_000_500 + int64(i),
		Inode:      uint64(1000 + i),
		Device:     uint64(64769 + i%3),
		PlainMD5:   md5.Sum([]byte(fmt.Sprint("content", i))),
		ObjectKey:  fmt.Sprintf("prefix/obj-%d", i),
		ETag:       fmt.Sprintf("%032x", i),
		CipherSize: int64(i)*1000 + 200,
		UploadedAt: 1_750_000_000 + int64(i),
	}
	if i%2 == 0 {
		f.PlainSHA256, f.HasSHA256 = sha256.Sum256([]byte(fmt.Sprint("content", i))), true
	}
	if i%7 == 3 {
		f.Inode = ^uint64(0) - uint64(i)
		f.Device = 1<<63 + uint64(i)
		f.Mode = 0o7777
	}
	return f
}

// openTest opens a new catalog in a fresh temporary directory and closes it
// when the test ends.
func openTest(t testing.TB) *DB {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "catalog.db"))
}

// openAt opens the catalog at path and closes it when the test ends.
func openAt(t testing.TB, path string) *DB {
	t.Helper()
	db, err := Open(path)
	if err != nil {
		t.Fatalf("Open(%q) = %v", path, err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	return db
}

// putSamples records n sample rows named "dir/file-<i>".
func putSamples(t testing.TB, db *DB, n int) []File {
	t.Helper()
	files := make([]File, n)
	for i := range files {
		files[i] = sampleFile(i, fmt.Sprintf("dir/file-%05d", i))
	}
	if err := db.Put(files...); err != nil {
		t.Fatalf("Put(%d files) = %v", n, err)
	}
	return files
}

// contents is everything a catalog holds that survives a snapshot.
type contents struct {
	Files    []File
	Settings map[string]string
	Uploads  []Upload
}

// dump reads a catalog's files, settings and uploads through the public API
// (settings by the keys the tests use).
func dump(t testing.TB, db *DB) contents {
	t.Helper()
	var c contents
	if err := db.Files(func(f File) error {
		c.Files = append(c.Files, f)
		return nil
	}); err != nil {
		t.Fatalf("Files() = %v", err)
	}
	c.Settings = map[string]string{}
	for _, key := range []string{"naming", "name_key", "target", "sealed_identity"} {
		v, ok, err := db.Setting(key)
		if err != nil {
			t.Fatalf("Setting(%q) = %v", key, err)
		}
		if ok {
			c.Settings[key] = string(v)
		}
	}
	uploads, err := db.Uploads()
	if err != nil {
		t.Fatalf("Uploads() = %v", err)
	}
	c.Uploads = uploads
	return c
}

func checkSameContents(t testing.TB, got, want contents) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("catalog contents = %d files, settings %q, %d uploads; want %d files, settings %q, %d uploads",
			len(got.Files), got.Settings, len(got.Uploads), len(want.Files), want.Settings, len(want.Uploads))
	}
}

// rawDB opens a SQLite file directly, bypassing the catalog's lock and
// checks, to inspect or damage it.
func rawDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatalf("sql.Open(%q) = %v", path, err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

func rawExec(t testing.TB, db *sql.DB, query string, args ...any) {
	t.Helper()
	if _, err := db.Exec(query, args...); err != nil {
		t.Fatalf("Exec(%q) = %v", query, err)
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func checkFileUnchanged(t testing.TB, path string, want []byte) {
	t.Helper()
	if got := readFile(t, path); !bytes.Equal(got, want) {
		t.Fatalf("%s changed: now %d bytes, was %d", path, len(got), len(want))
	}
}
