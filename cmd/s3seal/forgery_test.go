package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"database/sql"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/s3seal/s3seal/catalog"
	"github.com/s3seal/s3seal/cipher"
	"github.com/s3seal/s3seal/sync"
)

// readableNames are words of the source's file names: no object key may
// hold one.
var readableNames = []string{"secret-plans", "notes", "later"}

// forgeryFixture is a target backed up once from e's machine with the
// default catalog (so restore finds what this machine knows), and the
// fingerprint of its signing key as sync printed it.
func forgeryFixture(t *testing.T) (*env, string) {
	t.Helper()
	e := newEnv(t)
	writeFile(t, filepath.Join(e.src, "secret-plans.txt"), []byte("the plans\n"))
	writeFile(t, filepath.Join(e.src, "dir", "notes.txt"), []byte("notes\n"))
	res := e.run("sync", e.src, e.target, "-r", e.recipient, "--endpoint", e.srv.Endpoint)
	if res.code != 0 {
		t.Fatalf("first sync: exit %d\n%s", res.code, res.stderr)
	}
	printed := regexp.MustCompile(`new catalog signing key for \S+: (SHA256:\S+)`).FindStringSubmatch(res.stderr)
	if printed == nil {
		t.Fatalf("the first sync printed no signing key fingerprint:\n%s", res.stderr)
	}
	if info := targetInfo(t, e); info["signing key"] != printed[1] {
		t.Fatalf("target info shows signing key %q; sync printed %q", info["signing key"], printed[1])
	}
	return e, printed[1]
}

// targetInfo runs 's3seal target info' for e's default catalog and returns
// its "name: value" lines.
func targetInfo(t *testing.T, e *env) map[string]string {
	t.Helper()
	res := e.run("target", "info", e.src, e.target)
	if res.code != 0 {
		t.Fatalf("target info: exit %d\n%s", res.code, res.stderr)
	}
	info := make(map[string]string)
	for _, line := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
		name, value, _ := strings.Cut(line, ":")
		info[name] = strings.TrimSpace(value)
	}
	return info
}

// fingerprint returns the fingerprint of the signing key of e's catalog.
func (e *env) fingerprint() string {
	e.t.Helper()
	db, err := catalog.Open(e.catalog)
	if err != nil {
		e.t.Fatal(err)
	}
	defer db.Close()
	fp, err := sync.SigningFingerprint(db)
	if err != nil || fp == "" {
		e.t.Fatalf("signing key of %s: %q, %v", e.catalog, fp, err)
	}
	return fp
}

// forgeMirror replaces the target's catalog mirror with one made by someone
// who can write the bucket and knows only the public recipient, with
// s3seal's own code: the given naming (plain, or hidden under a name key of
// their own), their own signing key or none, and rows that point at an
// object of theirs: a setuid+setgid "evil" file and one that climbs out of
// DEST with "../".
func forgeMirror(t *testing.T, e *env, choice sync.NamingChoice, signed bool) {
	t.Helper()
	ctx := context.Background()
	st := e.store()
	payload := []byte("#!/bin/sh\necho planted\n")
	var obj bytes.Buffer
	w, err := age.Encrypt(&obj, e.identity.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	w.Write(payload)
	w.Close()
	objectKey := e.prefix + "/planted"
	written, err := st.Put(ctx, objectKey, obj.Bytes(), sync.PutOptions{})
	etag := written.ETag
	if err != nil {
		t.Fatal(err)
	}

	db, err := catalog.Open(filepath.Join(t.TempDir(), "forged.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := sync.PrepareTarget(db, e.target, choice, false); err != nil {
		t.Fatal(err)
	}
	if signed {
		if _, _, err := sync.EnsureSigningKey(db, false); err != nil {
			t.Fatal(err)
		}
	}
	for _, row := range []struct {
		path string
		mode fs.FileMode
	}{
		{"evil", 0o755 | fs.ModeSetuid | fs.ModeSetgid},
		{"../escape.txt", 0o644},
		{"dir/../../escape2.txt", 0o644},
	} {
		err := db.Put(catalog.File{Path: row.path, Size: int64(len(payload)), Mode: uint32(row.mode),
			PlainMD5: md5.Sum(payload), ObjectKey: objectKey, ETag: etag, CipherSize: int64(obj.Len()), UploadedAt: 1})
		if err != nil {
			t.Fatal(err)
		}
	}
	if signed {
		if err := sync.PushCatalog(ctx, db, engineBucket(st), e.prefix, []age.Recipient{e.identity.Recipient()}, "forged"); err != nil {
			t.Fatalf("push the forged mirror: %v", err)
		}
		return
	}
	putUnsignedMirror(t, e, db) // as s3seal wrote mirrors before signatures
}

// putUnsignedMirror uploads a snapshot of db, encrypted with age alone, as
// the target's mirror.
func putUnsignedMirror(t *testing.T, e *env, db *catalog.DB) {
	t.Helper()
	snap := filepath.Join(t.TempDir(), "snap.db")
	if _, err := db.Snapshot(snap); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, e.identity.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	w.Close()
	if _, err := e.store().Put(context.Background(), cipher.MetaKey(e.prefix, "catalog.age"), buf.Bytes(), sync.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

// assertNoReadableObjects fails if any object key under the prefix holds a
// readable file name.
func assertNoReadableObjects(t *testing.T, e *env) {
	t.Helper()
	for _, obj := range e.objects() {
		for _, word := range readableNames {
			if strings.Contains(obj.Key, word) {
				t.Errorf("object %q has a readable name", obj.Key)
			}
		}
	}
}

// assertNothingRestored fails unless dest's parent holds nothing but dest
// (absent or empty of files): no file escaped, none was written.
func assertNothingRestored(t *testing.T, dest string) {
	t.Helper()
	parent := filepath.Dir(dest)
	for rel := range treeFiles(t, parent) {
		t.Errorf("a refused restore left %q under %s", rel, parent)
	}
}

func refused(t *testing.T, what string, res result, want string) {
	t.Helper()
	if res.code != 1 || !strings.Contains(res.stderr, want) || !strings.Contains(res.stderr, "s3seal: hint:") {
		t.Errorf("%s: exit %d\n%s\nwant exit 1, %q and a hint", what, res.code, res.stderr, want)
	}
}

// TestForgedMirrorKnownMachine: on the machine that
// backs up, a forged mirror (plain names, or another name key, signed by the
// forger's key) is refused by catalog pull and restore; the catalog keeps its
// naming, nothing is restored, and the next sync creates no object with a
// readable name.
func TestForgedMirrorKnownMachine(t *testing.T) {
	e, fp := forgeryFixture(t)
	for _, choice := range []sync.NamingChoice{sync.NamingPlain, sync.NamingHidden} {
		forgeMirror(t, e, choice, true)
		refused(t, "catalog pull of a forged mirror", e.run("catalog", "pull", e.src, e.target, "-i", e.keyFile,
			"--endpoint", e.srv.Endpoint, "--allow-plain-names"), "signed by another key")
		dest := filepath.Join(t.TempDir(), "restored")
		refused(t, "restore of a forged mirror", e.run("restore", e.target, dest, "-i", e.keyFile,
			"--endpoint", e.srv.Endpoint, "--allow-plain-names"), "signed by another key")
		assertNothingRestored(t, dest)
	}
	forgeMirror(t, e, sync.NamingPlain, false)
	refused(t, "catalog pull of an unsigned mirror", e.run("catalog", "pull", e.src, e.target, "-i", e.keyFile,
		"--endpoint", e.srv.Endpoint, "--allow-unsigned", "--allow-plain-names"), "not signed")

	if info := targetInfo(t, e); info["naming"] != "hidden" || info["signing key"] != fp || info["files"] != "2" {
		t.Errorf("after the refused pulls target info says %q; want hidden names, key %s, 2 files", info, fp)
	}
	writeFile(t, filepath.Join(e.src, "later.txt"), []byte("written after the forgery\n"))
	if res := e.run("sync", e.src, e.target, "-r", e.recipient, "--endpoint", e.srv.Endpoint); res.code != 0 {
		t.Fatalf("sync after the refused pulls: exit %d\n%s", res.code, res.stderr)
	}
	assertNoReadableObjects(t, e)
}

// TestForgedMirrorFreshMachine: a machine that never
// saw the target refuses a forged plain-names mirror without the user's
// explicit word, refuses any forged mirror with --fingerprint of the genuine
// key, and refuses an unsigned one; nothing is restored, and no object with
// a readable name appears.
func TestForgedMirrorFreshMachine(t *testing.T) {
	e, fp := forgeryFixture(t)
	m := e.withHome()
	mSrc := filepath.Join(t.TempDir(), "src")
	copyTree(t, e.src, mSrc)
	pull := func(extra ...string) result {
		return m.run(append([]string{"catalog", "pull", mSrc, m.target, "-i", m.keyFile, "--endpoint", m.srv.Endpoint}, extra...)...)
	}
	restore := func(extra ...string) (result, string) {
		dest := filepath.Join(t.TempDir(), "restored")
		return m.run(append([]string{"restore", m.target, dest, "-i", m.keyFile, "--endpoint", m.srv.Endpoint}, extra...)...), dest
	}

	forgeMirror(t, e, sync.NamingPlain, true)
	refused(t, "first pull of a forged plain-names mirror", pull(), "plain object names")
	refused(t, "first pull with the genuine --fingerprint", pull("--fingerprint", fp), "as --fingerprint requires")
	res, dest := restore()
	refused(t, "first restore of a forged plain-names mirror", res, "plain object names")
	assertNothingRestored(t, dest)
	res, dest = restore("--fingerprint", fp, "--allow-plain-names")
	refused(t, "first restore with the genuine --fingerprint", res, "as --fingerprint requires")
	assertNothingRestored(t, dest)

	forgeMirror(t, e, sync.NamingHidden, true)
	refused(t, "first pull of a forged hidden mirror with --fingerprint", pull("--fingerprint", fp), "as --fingerprint requires")
	forgeMirror(t, e, sync.NamingPlain, false)
	refused(t, "first pull of an unsigned mirror", pull("--allow-plain-names"), "not signed")
	if !strings.Contains(pull().stderr, "--allow-unsigned") {
		t.Errorf("the refusal of an unsigned mirror does not say how to take it on trust")
	}

	if res := m.run("sync", mSrc, m.target, "-r", m.recipient, "--endpoint", m.srv.Endpoint); res.code != 1 {
		t.Errorf("sync from the fresh machine after the refused pulls: exit %d; want the refusal of a fresh catalog\n%s", res.code, res.stderr)
	}
	assertNoReadableObjects(t, e)
}

// TestForgedHiddenMirrorTakenOnTrust: what a fresh
// machine without --fingerprint cannot tell apart, a forged mirror with hidden
// names under the forger's key, is shown as taken on trust with the key to
// check, and still restores nothing outside DEST and no setuid file.
func TestForgedHiddenMirrorTakenOnTrust(t *testing.T) {
	e, fp := forgeryFixture(t)
	forgeMirror(t, e, sync.NamingHidden, true)
	m := e.withHome()
	dest := filepath.Join(t.TempDir(), "restored")
	res := m.run("restore", m.target, dest, "-i", m.keyFile, "--endpoint", m.srv.Endpoint)
	if !strings.Contains(res.stderr, "a key this machine had not seen") || !strings.Contains(res.stderr, "--fingerprint SHA256:") ||
		strings.Contains(res.stderr, fp) {
		t.Errorf("restore of a mirror signed by an unknown key does not show the key to check:\n%s", res.stderr)
	}
	if res.code != exitPartial {
		t.Errorf("restore with unsafe rows: exit %d; want %d (the ../ rows fail)\n%s", res.code, exitPartial, res.stderr)
	}
	for rel := range treeFiles(t, filepath.Dir(dest)) {
		if !strings.HasPrefix(rel, "restored/") {
			t.Errorf("restore wrote %q outside DEST", rel)
		}
	}
	fi, err := os.Lstat(filepath.Join(dest, "evil"))
	if err != nil {
		t.Fatalf("the forged row was not restored at all: %v", err)
	}
	if fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
		t.Errorf("restore created %v from a forged row", fi.Mode())
	}
}

// TestGenuineMirrorFreshMachine: the genuine mirror
// pulls and restores on a fresh machine with --fingerprint, the machine then
// knows the key, a replayed older generation is refused, and the stock age
// tool still decrypts the signed mirror.
func TestGenuineMirrorFreshMachine(t *testing.T) {
	e, fp := forgeryFixture(t)
	writeFile(t, filepath.Join(e.src, "later.txt"), []byte("second generation\n"))
	if res := e.run("sync", e.src, e.target, "-r", e.recipient, "--endpoint", e.srv.Endpoint); res.code != 0 {
		t.Fatalf("second sync: exit %d\n%s", res.code, res.stderr)
	}
	m := e.withHome()
	mSrc := filepath.Join(t.TempDir(), "src")
	copyTree(t, e.src, mSrc)
	pull := []string{"catalog", "pull", mSrc, m.target, "-i", m.keyFile, "--endpoint", m.srv.Endpoint}
	res := m.run(append(pull, "--fingerprint", fp)...)
	if res.code != 0 || !strings.Contains(res.stderr, fp+", as --fingerprint requires") || !strings.Contains(res.stderr, "(3 files)") {
		t.Fatalf("pull of the genuine mirror with --fingerprint: exit %d\n%s", res.code, res.stderr)
	}
	dest := filepath.Join(t.TempDir(), "restored")
	res = m.run("restore", m.target, dest, "-i", m.keyFile, "--endpoint", m.srv.Endpoint, "--fingerprint", fp)
	if res.code != 0 {
		t.Fatalf("restore of the genuine mirror with --fingerprint: exit %d\n%s", res.code, res.stderr)
	}
	assertSameTree(t, e.src, dest)

	if res := m.run(pull...); res.code != 0 || !strings.Contains(res.stderr, "the key this machine knows") {
		t.Errorf("second pull without --fingerprint: exit %d\n%s\nwant it accepted by the remembered key", res.code, res.stderr)
	}
	ctx := context.Background()
	st := e.store()
	mirrorKey := cipher.MetaKey(e.prefix, "catalog.age")
	mirror := getObject(t, st, mirrorKey)
	previous := getObject(t, st, cipher.MetaKey(e.prefix, "catalog.prev.age"))
	if _, err := st.Put(ctx, mirrorKey, previous, sync.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	refused(t, "pull of the replayed previous generation", m.run(pull...), "older than one this machine has seen")
	res = m.run("restore", m.target, filepath.Join(t.TempDir(), "old"), "-i", m.keyFile, "--endpoint", m.srv.Endpoint)
	refused(t, "restore of the replayed previous generation", res, "older than one this machine has seen")

	if !bytes.Contains(mirror[:bytes.Index(mirror, []byte("\n---"))], []byte("\n-> s3seal-signature ed25519 ")) {
		t.Fatalf("the mirror's age header has no signature stanza")
	}
	if _, err := exec.LookPath("age"); err != nil {
		t.Skip("the age CLI is missing")
	}
	cmd := exec.Command("age", "-d", "-i", e.keyFile)
	cmd.Stdin = bytes.NewReader(mirror)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || !bytes.HasPrefix(out, []byte("SQLite format 3\x00")) {
		t.Fatalf("age -d of the signed mirror: %v\n%s", err, stderr.String())
	}
}

// TestPassphraseMirrorProvenOnFreshMachine: in passphrase mode a fresh
// machine with the passphrase alone proves the mirror (the signing key is
// derived from the target identity), and refuses one that someone who
// knows the target's recipient signed with another key, even plain-named
// with --allow-plain-names.
func TestPassphraseMirrorProvenOnFreshMachine(t *testing.T) {
	e := newEnv(t)
	const passphrase = "correct horse battery staple"
	e.extraEnv = []string{"S3SEAL_PASSPHRASE=" + passphrase}
	writeFile(t, filepath.Join(e.src, "secret-plans.txt"), []byte("the plans\n"))
	if res := e.run("sync", e.src, e.target, "-S", "--scrypt-work-factor", "10", "--endpoint", e.srv.Endpoint); res.code != 0 {
		t.Fatalf("sync -S: exit %d\n%s", res.code, res.stderr)
	}
	m := e.withHome()
	pull := []string{"catalog", "pull", e.src, m.target, "-S", "--endpoint", m.srv.Endpoint}
	if res := m.run(pull...); res.code != 0 || !strings.Contains(res.stderr, "signed by the passphrase's key") {
		t.Fatalf("first pull -S of the genuine mirror: exit %d\n%s\nwant it proven by the passphrase", res.code, res.stderr)
	}

	sealed := getObject(t, e.store(), cipher.MetaKey(e.prefix, "key.age"))
	id, err := cipher.OpenSealedIdentity(sealed, passphrase)
	if err != nil {
		t.Fatal(err)
	}
	e.identity = id // the forger knows the target's recipient
	forgeMirror(t, e, sync.NamingPlain, true)
	fresh := e.withHome()
	refused(t, "first pull -S of a mirror signed by another key", fresh.run(append(pull, "--allow-plain-names")...), "not the key of the passphrase")
}

// TestOlderUnsignedMirrorSignedOnNextSync: a target last synced by an
// s3seal without signatures has an unsigned mirror and a catalog without a
// signing key. A fresh machine refuses that mirror and says how to get a
// signed one; the next sync on the machine that backs up creates the key,
// prints it and pushes a signed mirror, which the fresh machine then pulls
// with --fingerprint.
func TestOlderUnsignedMirrorSignedOnNextSync(t *testing.T) {
	e := newEnv(t)
	writeFile(t, filepath.Join(e.src, "secret-plans.txt"), []byte("the plans\n"))
	e.sync(0)
	downgradeCatalog(t, e.catalog)
	db, err := catalog.Open(e.catalog)
	if err != nil {
		t.Fatal(err)
	}
	putUnsignedMirror(t, e, db)
	db.Close()

	m := e.withHome()
	pull := []string{"catalog", "pull", e.src, m.target, "-i", m.keyFile, "--endpoint", m.srv.Endpoint}
	res := m.run(pull...)
	refused(t, "pull of a mirror pushed before signatures", res, "not signed")
	if !strings.Contains(res.stderr, "sync once from the machine that backs up") {
		t.Errorf("the refusal does not say how to get a signed mirror:\n%s", res.stderr)
	}

	res = e.run("sync", e.src, e.target, "-r", e.recipient, "--endpoint", e.srv.Endpoint, "--catalog", e.catalog)
	printed := regexp.MustCompile(`new catalog signing key for \S+: (SHA256:\S+)`).FindStringSubmatch(res.stderr)
	if res.code != 0 || printed == nil {
		t.Fatalf("first sync of the upgraded catalog: exit %d, want 0 and the new key printed\n%s", res.code, res.stderr)
	}
	if res := m.run(append(pull, "--fingerprint", printed[1])...); res.code != 0 {
		t.Fatalf("pull of the mirror the upgraded sync pushed: exit %d\n%s", res.code, res.stderr)
	}
}

// downgradeCatalog makes a catalog look like one an s3seal without
// signatures wrote: no signing key, no pinned signer.
func downgradeCatalog(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		"DELETE FROM settings WHERE key = 'signing_key'",
		"DELETE FROM local WHERE key IN ('signer', 'signed_generation')",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}
