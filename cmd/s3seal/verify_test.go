package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// md5Twins returns the classic published MD5 collision pair (Wang et al.),
// after checking that their MD5s agree and their SHA-256s differ.
func md5Twins(t *testing.T) (one, two []byte) {
	t.Helper()
	one, err1 := hex.DecodeString("d131dd02c5e6eec4693d9a0698aff95c2fcab58712467eab4004583eb8fb7f8955ad340609f4b30283e488832571415a085125e8f7cdc99fd91dbdf280373c5bd8823e3156348f5bae6dacd436c919c6dd53e2b487da03fd02396306d248cda0e99f33420f577ee8ce54b67080a80d1ec69821bcb6a8839396f9652b6ff72a70")
	two, err2 := hex.DecodeString("d131dd02c5e6eec4693d9a0698aff95c2fcab50712467eab4004583eb8fb7f8955ad340609f4b30283e4888325f1415a085125e8f7cdc99fd91dbd7280373c5bd8823e3156348f5bae6dacd436c919c6dd53e23487da03fd02396306d248cda0e99f33420f577ee8ce54b67080280d1ec69821bcb6a8839396f965ab6ff72a70")
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if md5Hex(one) != md5Hex(two) || md5Hex(one) != "79054025255fb1a26e4bc422aef54eb4" {
		t.Fatalf("md5 of the twins: %s and %s; want both 79054025255fb1a26e4bc422aef54eb4", md5Hex(one), md5Hex(two))
	}
	if sha256.Sum256(one) == sha256.Sum256(two) {
		t.Fatal("the twins have the same SHA-256")
	}
	return one, two
}

// ageEncrypt encrypts plain to recipient with the stock age CLI, as anyone
// who knows the public recipient can.
func ageEncrypt(t *testing.T, recipient string, plain []byte) []byte {
	t.Helper()
	if _, err := exec.LookPath("age"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the age CLI is missing: run scripts/install-deps.sh")
		}
		t.Skip("the age CLI is missing")
	}
	cmd := exec.Command("age", "-r", recipient)
	cmd.Stdin = bytes.NewReader(plain)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("age -r: %v", err)
	}
	return out
}

// TestRestoreCollisionTwin backs up one message of an MD5 collision pair,
// replaces its object with the other message encrypted to the public
// recipient (the mirror left genuine), and checks that restore fails that
// file (exit 3, nothing under its name, the other files restored) and that
// audit --deep reports it instead of verifying it.
func TestRestoreCollisionTwin(t *testing.T) {
	one, two := md5Twins(t)
	e := newEnv(t)
	writeFile(t, filepath.Join(e.src, "docs", "twin"), one)
	writeFile(t, filepath.Join(e.src, "docs", "letter"), []byte("dear reader\n"))
	writeRandom(t, filepath.Join(e.src, "photo"), 300<<10)
	e.sync(0)
	key := e.row("docs/twin").ObjectKey
	if _, err := e.store().Put(context.Background(), key, ageEncrypt(t, e.recipient, two), s3PutOptions()); err != nil {
		t.Fatal(err)
	}

	dest := filepath.Join(t.TempDir(), "out")
	res := e.restoreTo(e.srv.Endpoint, dest)
	if res.code != exitPartial {
		t.Errorf("restore: exit %d; want %d\n%s", res.code, exitPartial, res.stderr)
	}
	for _, want := range []string{"docs/twin: object is not the one the catalog recorded", "hint: the object in the bucket is not the one", "2 restored and verified", "1 failed"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("restore stderr lacks %q:\n%s", want, res.stderr)
		}
	}
	if strings.Contains(res.stderr, "MD5 only") {
		t.Errorf("restore from the pulled mirror verified files by MD5 only: the mirror lost their SHA-256\n%s", res.stderr)
	}
	if _, err := os.Lstat(filepath.Join(dest, "docs", "twin")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("restore wrote docs/twin under its final name (%v)", err)
	}
	if tmp := leftovers(t, dest); len(tmp) != 0 {
		t.Errorf("restore left temporary files: %v", tmp)
	}
	for _, rel := range []string{"docs/letter", "photo"} {
		if !sameContent(t, filepath.Join(e.src, rel), filepath.Join(dest, rel)) {
			t.Errorf("%s was not restored intact", rel)
		}
	}

	// The twin went in within a second or so of the upload. An object of
	// the recorded size written that close to it cannot be told, by the
	// whole seconds S3 lists, from one the server lists with another ETag
	// than it answered (docs/RELIABILITY.md): let the sync have run a minute
	// before the plant.
	e.sqlExec(t, "UPDATE files SET uploaded_at = uploaded_at - 60")
	found, _ := e.audit(e.srv.Endpoint, exitDiffers, "--deep", "-i", e.keyFile)
	if want := []string{"object-changed docs/twin", "content-mismatch docs/twin"}; !sameLines(found, want) {
		t.Errorf("audit --deep findings %q; want %q", found, want)
	}
	res = e.run("audit", e.src, e.target, "--endpoint", e.srv.Endpoint, "--catalog", e.catalog, "--json", "--deep", "-i", e.keyFile)
	for _, ev := range events(t, res.stdout, "done") {
		if ev["path"] == "docs/twin" {
			t.Errorf("audit --deep reported docs/twin %v", ev["reason"])
		}
	}
}

// TestRestoreForgedRowCollisionTwin goes one step further than
// TestRestoreCollisionTwin: the catalog row, as a forged mirror could make
// it, names the planted object's ETag and size, so only the SHA-256 tells
// the twins apart.
func TestRestoreForgedRowCollisionTwin(t *testing.T) {
	one, two := md5Twins(t)
	e := newEnv(t)
	writeFile(t, filepath.Join(e.src, "twin"), one)
	e.sync(0)
	key := e.row("twin").ObjectKey
	st := e.store()
	written, err := st.Put(context.Background(), key, ageEncrypt(t, e.recipient, two), s3PutOptions())
	etag := written.ETag
	if err != nil {
		t.Fatal(err)
	}
	e.sqlExec(t, "UPDATE files SET etag = ? WHERE path = ?", etag, []byte("twin"))

	res := e.restoreTo(e.srv.Endpoint, filepath.Join(t.TempDir(), "out"), "--catalog", e.catalog, "--json")
	fails := events(t, res.stdout, "fail")
	if res.code != exitPartial || len(fails) != 1 || fails[0]["reason"] != "verify" ||
		!strings.Contains(fails[0]["error"].(string), "SHA-256") {
		t.Errorf("restore: exit %d, fail events %v; want exit 3 and one verify failure naming SHA-256\n%s", res.code, fails, res.stderr)
	}
}

// sqlExec runs a statement on the env's catalog file directly, as another
// version of s3seal, or a forger, could have written it.
func (e *env) sqlExec(t *testing.T, query string, args ...any) {
	t.Helper()
	db, err := sql.Open("sqlite", e.catalog)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// TestSHA256FilledOnNextRead clears the SHA-256 of every row, as a catalog
// migrated from an older version has none: restore verifies those files by
// MD5 and says so; the no-change sync leaves them as they are; a file whose
// stat changed, every file under --checksum, and a renamed copy get their
// SHA-256; restore then verifies all of them by SHA-256.
func TestSHA256FilledOnNextRead(t *testing.T) {
	e := newEnv(t)
	writeFile(t, filepath.Join(e.src, "touched"), []byte("touched later\n"))
	writeFile(t, filepath.Join(e.src, "still"), []byte("never touched\n"))
	writeRandom(t, filepath.Join(e.src, "big"), 2<<20)
	e.sync(0)
	e.sqlExec(t, "UPDATE files SET plain_sha256 = NULL")

	res := e.restoreTo(e.srv.Endpoint, filepath.Join(t.TempDir(), "old"), "--catalog", e.catalog, "--json")
	if sum := events(t, res.stdout, "summary"); res.code != 0 || len(sum) != 1 || sum[0]["md5_only"] != 3.0 {
		t.Fatalf("restore of rows without SHA-256: exit %d, summary %v; want 0 and md5_only 3\n%s", res.code, sum, res.stderr)
	}
	res = e.restoreTo(e.srv.Endpoint, filepath.Join(t.TempDir(), "text"), "--catalog", e.catalog)
	if !strings.Contains(res.stderr, "3 of the restored files were verified by size and MD5 only") {
		t.Errorf("restore stderr does not say 3 files were verified by MD5 only:\n%s", res.stderr)
	}

	e.sync(0)
	if e.row("still").HasSHA256 {
		t.Error("the no-change sync read a file: it filled a SHA-256")
	}
	plain := []byte("touched later\n")
	writeFile(t, filepath.Join(e.src, "touched"), plain) // same content, new mtime
	if err := os.Link(filepath.Join(e.src, "big"), filepath.Join(e.src, "big copy")); err != nil {
		t.Fatal(err)
	}
	if s := e.sync(0); s.Uploaded != 0 {
		t.Errorf("sync after a touch and a copy uploaded %d files; want none", s.Uploaded)
	}
	if row := e.row("touched"); !row.HasSHA256 || row.PlainSHA256 != sha256.Sum256(plain) || row.PlainMD5 != md5.Sum(plain) {
		t.Errorf("touched file's row: SHA-256 %v %x; want the file's", row.HasSHA256, row.PlainSHA256)
	}
	if row := e.row("big copy"); !row.HasSHA256 {
		t.Error("the copied file's row has no SHA-256")
	}
	if e.row("still").HasSHA256 {
		t.Error("a file whose stat did not change was read")
	}
	e.sync(0, "--checksum")
	if !e.row("still").HasSHA256 || !e.row("big").HasSHA256 {
		t.Error("sync --checksum read every file but did not fill their SHA-256")
	}
	res = e.restoreTo(e.srv.Endpoint, filepath.Join(t.TempDir(), "new"), "--catalog", e.catalog, "--json")
	if sum := events(t, res.stdout, "summary"); res.code != 0 || len(sum) != 1 || sum[0]["md5_only"] != 0.0 || sum[0]["restored"] != 4.0 {
		t.Errorf("restore after the SHA-256 was filled: exit %d, summary %v; want 4 restored, md5_only 0\n%s", res.code, sum, res.stderr)
	}
}

// TestRestoreSpecialModesCLI records a setuid, setgid and sticky file:
// restore drops the bits, and restores them with --keep-special-modes
// (checked as root, who may set them all).
func TestRestoreSpecialModesCLI(t *testing.T) {
	e := newEnv(t)
	path := filepath.Join(e.src, "tool")
	writeFile(t, path, []byte("#!/bin/sh\necho hi\n"))
	special := fs.FileMode(0o750) | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky
	if err := os.Chmod(path, special); err != nil {
		t.Fatal(err)
	}
	e.sync(0)
	if got := fs.FileMode(e.row("tool").Mode); got != special {
		t.Fatalf("catalog mode %v; want %v (the test proves nothing)", got, special)
	}
	dest := e.restore()
	if fi, err := os.Stat(filepath.Join(dest, "tool")); err != nil || fi.Mode() != 0o750 {
		t.Errorf("restored mode %v, %v; want -rwxr-x--- with no special bit", fi.Mode(), err)
	}
	if os.Geteuid() != 0 {
		t.Skip("--keep-special-modes is checked as root")
	}
	dest = e.restore("--keep-special-modes")
	if fi, err := os.Stat(filepath.Join(dest, "tool")); err != nil || fi.Mode() != special {
		t.Errorf("restored mode with --keep-special-modes %v, %v; want %v", fi.Mode(), err, special)
	}
}
