package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	_ "modernc.org/sqlite" // the "sqlite" driver, as any SQLite tool would open the file

	"github.com/s3seal/s3seal/catalog"
	"github.com/s3seal/s3seal/sync"
)

// movingFixture writes a small tree, syncs it and returns the env.
func movingFixture(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	writeRandom(t, filepath.Join(e.src, "photos", "a.jpg"), 300<<10)
	writeRandom(t, filepath.Join(e.src, "photos", "b.jpg"), 1000)
	writeRandom(t, filepath.Join(e.src, "big.bin"), 17<<20) // a multipart object
	writeFile(t, filepath.Join(e.src, "notes.txt"), []byte("hello\n"))
	writeFile(t, filepath.Join(e.src, "empty"), nil)
	if s := e.sync(0); s.Uploaded != 5 {
		t.Fatalf("first sync: %+v; want 5 uploads", s)
	}
	return e
}

// newCopy copies the env's source to a new folder with later mtimes.
func newCopy(t *testing.T, e *env) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "moved")
	copyTree(t, e.src, src)
	later := time.Now().Add(2 * time.Hour)
	for rel := range treeFiles(t, src) {
		if err := os.Chtimes(filepath.Join(src, filepath.FromSlash(rel)), later, later); err != nil {
			t.Fatal(err)
		}
	}
	return src
}

// TestMoveMachinesPull continues a backup from a copy of the source on a
// "new machine" (new inodes, new mtimes, an empty data directory): sync
// refuses to start from an empty catalog, and after catalog pull nothing is
// uploaded again.
func TestMoveMachinesPull(t *testing.T) {
	e := movingFixture(t)
	m := e.withHome()
	src := newCopy(t, e)
	syncArgs := []string{"sync", src, m.target, "-r", m.recipient, "--endpoint", m.srv.Endpoint, "--json"}

	res := m.run(syncArgs...)
	if res.code != 1 || !strings.Contains(res.stderr, "already holds a backup") ||
		!strings.Contains(res.stderr, "hint: run 's3seal catalog pull") {
		t.Fatalf("sync with an empty catalog into a filled target: exit %d\n%s\nwant exit 1, a refusal and a pull hint", res.code, res.stderr)
	}
	if n := len(e.objects()); n != 5 {
		t.Fatalf("after the refused sync the bucket has %d file objects; want the 5 of the first sync", n)
	}
	if dbs, _ := filepath.Glob(filepath.Join(m.home, "data", "s3seal", "catalogs", "*.db")); len(dbs) != 0 {
		t.Errorf("the refused sync created a catalog: %v", dbs)
	}

	res = m.run("catalog", "pull", src, m.target, "-i", m.keyFile, "--endpoint", m.srv.Endpoint)
	if res.code != 0 || !strings.Contains(res.stderr, "(5 files)") {
		t.Fatalf("catalog pull: exit %d\n%s", res.code, res.stderr)
	}
	res = m.run(syncArgs...)
	if res.code != 0 {
		t.Fatalf("sync after pull: exit %d\n%s", res.code, res.stderr)
	}
	if s := parseSummary(t, res.stdout); s.Files != 5 || s.Uploaded != 0 || s.BytesSent != 0 || s.Unchanged != 5 {
		t.Errorf("sync of the moved copy after catalog pull: %+v; want 5 unchanged, 0 uploaded, 0 bytes sent", s)
	}
}

// TestMoveMachinesExportImport is the same move through an exported file.
func TestMoveMachinesExportImport(t *testing.T) {
	e := movingFixture(t)
	exported := filepath.Join(t.TempDir(), "catalog.age")
	res := e.run("catalog", "export", e.src, e.target, exported, "-r", e.recipient, "--catalog", e.catalog)
	if res.code != 0 {
		t.Fatalf("catalog export: exit %d\n%s", res.code, res.stderr)
	}
	src := newCopy(t, e)
	moved := filepath.Join(t.TempDir(), "moved.db")
	res = e.run("catalog", "import", src, e.target, exported, "-i", e.keyFile, "--catalog", moved)
	if res.code != 0 {
		t.Fatalf("catalog import: exit %d\n%s", res.code, res.stderr)
	}
	res = e.run("sync", src, e.target, "-r", e.recipient, "--endpoint", e.srv.Endpoint, "--json", "--catalog", moved)
	if res.code != 0 {
		t.Fatalf("sync after import: exit %d\n%s", res.code, res.stderr)
	}
	if s := parseSummary(t, res.stdout); s.Files != 5 || s.Uploaded != 0 || s.BytesSent != 0 {
		t.Errorf("sync of the moved copy after catalog import: %+v; want 0 uploaded, 0 bytes sent", s)
	}
}

// TestMirrorIsAgeAndSQLite decrypts the catalog mirror with the stock age
// CLI and reads the result as a plain SQLite database.
func TestMirrorIsAgeAndSQLite(t *testing.T) {
	if _, err := exec.LookPath("age"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the age CLI is missing: run scripts/install-deps.sh")
		}
		t.Skip("the age CLI is missing")
	}
	e := movingFixture(t)
	body, _, err := e.store().Get(context.Background(), e.prefix+"/.s3seal/catalog.age")
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	dbPath := filepath.Join(t.TempDir(), "mirror.db")
	cmd := exec.Command("age", "-d", "-i", e.keyFile, "-o", dbPath)
	cmd.Stdin = body
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("age -d of the catalog mirror: %v\n%s", err, stderr.String())
	}

	db, err := sql.Open("sqlite", "file:"+dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var check string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check of the decrypted mirror = %q, %v; want ok", check, err)
	}
	rows, err := db.Query("SELECT CAST(path AS TEXT), size, hex(plain_md5) FROM files ORDER BY path")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]bool{}
	for rows.Next() {
		var path, sum string
		var size int64
		if err := rows.Scan(&path, &size, &sum); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(e.src, filepath.FromSlash(path)))
		if err != nil {
			t.Errorf("mirror row %q: %v", path, err)
			continue
		}
		if int64(len(data)) != size || !strings.EqualFold(sum, md5Hex(data)) {
			t.Errorf("mirror row %q: %d bytes, md5 %s; the file has %d bytes, md5 %s", path, size, sum, len(data), md5Hex(data))
		}
		got[path] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 {
		t.Errorf("the mirror lists %d files; want 5", len(got))
	}
}

// TestPullWrongIdentity pulls with a key that is not the target's: the
// command fails with a clear error and the local catalog keeps its rows.
func TestPullWrongIdentity(t *testing.T) {
	e := movingFixture(t)
	// A file the mirror does not know yet: a pull would drop its row.
	writeFile(t, filepath.Join(e.src, "later.txt"), []byte("after the mirror\n"))
	if s := e.sync(0, "--no-mirror"); s.Uploaded != 1 {
		t.Fatalf("second sync: %+v; want 1 upload", s)
	}
	before := catalogRows(t, e.catalog)
	beforeBytes, err := os.ReadFile(e.catalog)
	if err != nil {
		t.Fatal(err)
	}

	stranger, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	wrongKey := filepath.Join(t.TempDir(), "wrong.txt")
	writeFile(t, wrongKey, []byte(stranger.String()+"\n"))
	res := e.run("catalog", "pull", e.src, e.target, "-i", wrongKey, "--endpoint", e.srv.Endpoint, "--catalog", e.catalog)
	if res.code != 1 || !strings.Contains(res.stderr, "s3seal: error: pull catalog: decrypt: no identity matches") ||
		!strings.Contains(res.stderr, "s3seal: hint: pass the identity file (-i)") {
		t.Fatalf("catalog pull with a wrong identity: exit %d\n%s\nwant exit 1 with a no-identity error and a hint", res.code, res.stderr)
	}
	if after := catalogRows(t, e.catalog); after != before || !strings.Contains(after, "later.txt") {
		t.Errorf("the catalog after a failed pull has rows:\n%s\nwant the rows it had:\n%s", after, before)
	}
	if afterBytes, _ := os.ReadFile(e.catalog); !bytes.Equal(afterBytes, beforeBytes) {
		t.Errorf("the catalog file changed (%d bytes, was %d) after a failed pull", len(afterBytes), len(beforeBytes))
	}

	// The right key does replace it, so the check above can tell.
	res = e.run("catalog", "pull", e.src, e.target, "-i", e.keyFile, "--endpoint", e.srv.Endpoint, "--catalog", e.catalog)
	if res.code != 0 {
		t.Fatalf("catalog pull with the right identity: exit %d\n%s", res.code, res.stderr)
	}
	if after := catalogRows(t, e.catalog); strings.Contains(after, "later.txt") {
		t.Errorf("after a pull of the older mirror the catalog still lists later.txt:\n%s", after)
	}
}

// catalogRows lists a catalog's rows as "path md5 etag" lines.
func catalogRows(t *testing.T, path string) string {
	t.Helper()
	db, err := catalog.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var b strings.Builder
	err = db.Files(func(f catalog.File) error {
		b.WriteString(f.Path + " " + hex.EncodeToString(f.PlainMD5[:]) + " " + f.ETag + "\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestMirrorPushedOnlyWhenChanged: a sync that changes nothing leaves the
// mirror alone (its ETag, random per push, stays), one that changes the
// catalog replaces it, and a mirror deleted or replaced behind our back is
// pushed again even when nothing changed.
func TestMirrorPushedOnlyWhenChanged(t *testing.T) {
	e := movingFixture(t)
	ctx := context.Background()
	mirrorKey := e.prefix + "/.s3seal/catalog.age"
	etag := func() string {
		t.Helper()
		obj, err := e.store().Head(ctx, mirrorKey)
		if err != nil {
			t.Fatalf("HEAD of the mirror: %v", err)
		}
		return obj.ETag
	}
	first := etag()

	if s := e.sync(0); s.Uploaded != 0 {
		t.Fatalf("second sync: %+v; want nothing uploaded", s)
	}
	if got := etag(); got != first {
		t.Errorf("a sync that changed nothing pushed the mirror again (ETag %s -> %s)", first, got)
	}

	// A new recipient: nothing to upload, but the mirror must be encrypted
	// to it too, or a machine holding only that key could not pull.
	second, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	e.sync(0, "-r", second.Recipient().String())
	withSecond := etag()
	if withSecond == first {
		t.Errorf("adding a recipient left the mirror encrypted to the old one only")
	}
	m := e.withHome()
	secondKey := filepath.Join(t.TempDir(), "second.txt")
	writeFile(t, secondKey, []byte(second.String()+"\n"))
	if res := m.run("catalog", "pull", e.src, e.target, "-i", secondKey, "--endpoint", e.srv.Endpoint,
		"--catalog", filepath.Join(t.TempDir(), "pulled.db")); res.code != 0 {
		t.Errorf("catalog pull with the added recipient's key: exit %d\n%s", res.code, res.stderr)
	}
	e.sync(0, "-r", second.Recipient().String()) // the same two recipients
	if got := etag(); got != withSecond {
		t.Errorf("the same recipients and no change pushed the mirror again")
	}

	writeFile(t, filepath.Join(e.src, "notes.txt"), []byte("changed\n"))
	if s := e.sync(0); s.Uploaded != 1 {
		t.Fatalf("sync after a change: %+v; want 1 upload", s)
	}
	if etag() == withSecond {
		t.Errorf("a sync that uploaded a file did not push the mirror")
	}

	if err := e.store().Delete(ctx, mirrorKey); err != nil {
		t.Fatal(err)
	}
	e.sync(0)
	third := etag() // fails the test if the mirror is still missing

	if _, err := e.store().Put(ctx, mirrorKey, []byte("not a catalog"), sync.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	e.sync(0)
	if got := etag(); got == third || got == md5Hex([]byte("not a catalog")) {
		t.Errorf("a mirror replaced by someone else was left in place (ETag %s)", got)
	}
}

func TestKeysID(t *testing.T) {
	a, b := "age1aaa", "age1bbb"
	if keysID([]string{a, b}, nil) != keysID([]string{b, a}, nil) {
		t.Error("the order of -r values changes the keys ID")
	}
	ids := map[string]string{
		"one":        keysID([]string{a}, nil),
		"two":        keysID([]string{a, b}, nil),
		"file":       keysID([]string{a}, [][]byte{[]byte(b)}),
		"other file": keysID([]string{a}, [][]byte{[]byte(a)}),
		"split":      keysID([]string{a + "\n" + b}, nil),
	}
	seen := map[string]string{}
	for name, id := range ids {
		if other, dup := seen[id]; dup {
			t.Errorf("recipient sets %q and %q have the same keys ID", name, other)
		}
		seen[id] = name
	}
}
