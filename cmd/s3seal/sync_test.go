package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/s3seal/s3seal/sync"
	"github.com/s3seal/s3seal/sync/s3store"
	"github.com/s3seal/s3seal/sync/s3store/s3test"
)

// TestSyncRoundTrip backs up a tree with the sizes and names that break
// naive tools, restores it and compares, and decrypts one object with the
// stock age CLI.
func TestSyncRoundTrip(t *testing.T) {
	e := newEnv(t)
	writeFile(t, filepath.Join(e.src, "empty"), nil)
	writeRandom(t, filepath.Join(e.src, "chunk", "exactly-65536"), 65536)
	writeRandom(t, filepath.Join(e.src, "big", "over 100 MiB.bin"), 100<<20+12345)
	writeFile(t, filepath.Join(e.src, "names with spaces", "naïve café – 日本語.txt"), []byte("héllo\n"))
	writeFile(t, filepath.Join(e.src, "mode", "script.sh"), []byte("#!/bin/sh\n"))
	if err := os.Chmod(filepath.Join(e.src, "mode", "script.sh"), 0o750); err != nil {
		t.Fatal(err)
	}

	s := e.sync(0)
	if s.Files != 5 || s.Uploaded != 5 || s.Failed != 0 {
		t.Fatalf("first sync: %+v; want 5 files uploaded", s)
	}
	assertSameTree(t, e.src, e.restore())

	if _, err := exec.LookPath("age"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the age CLI is missing: run scripts/install-deps.sh")
		}
		t.Skip("the age CLI is missing")
	}
	for _, rel := range []string{"big/over 100 MiB.bin", "empty", "chunk/exactly-65536"} {
		row := e.row(rel)
		body, _, err := e.store().Get(context.Background(), row.ObjectKey)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("age", "-d", "-i", e.keyFile)
		cmd.Stdin = body
		out, err := cmd.Output()
		body.Close()
		if err != nil {
			t.Fatalf("age -d %s: %v", rel, err)
		}
		want, _ := os.ReadFile(filepath.Join(e.src, rel))
		if !bytes.Equal(out, want) {
			t.Errorf("age -d of %s's object gave %d bytes that differ from the %d original ones", rel, len(out), len(want))
		}
	}
}

// TestSyncChangeDetection checks what a second sync uploads after each kind
// of change, local and remote.
func TestSyncChangeDetection(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"a", "b", "c", "d"} {
		writeRandom(t, filepath.Join(e.src, name), 1000)
	}
	if s := e.sync(0); s.Uploaded != 4 {
		t.Fatalf("first sync uploaded %d; want 4", s.Uploaded)
	}

	if s := e.sync(0); s.Uploaded != 0 || s.BytesSent != 0 || s.Unchanged != 4 {
		t.Errorf("sync with no change: %+v; want nothing uploaded", s)
	}

	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(e.src, "a"), later, later); err != nil {
		t.Fatal(err)
	}
	if s := e.sync(0); s.Uploaded != 0 || s.BytesSent != 0 {
		t.Errorf("sync after touch: %+v; want nothing uploaded", s)
	}

	path := filepath.Join(e.src, "b")
	data, _ := os.ReadFile(path)
	data[500] ^= 1
	fi, _ := os.Stat(path)
	writeFile(t, path, data)
	os.Chtimes(path, fi.ModTime(), fi.ModTime()) // same size, same mtime: only ctime tells
	if s := e.sync(0); s.Uploaded != 1 {
		t.Errorf("sync after a one-byte change: %+v; want 1 upload", s)
	}
	if got := e.row("b").PlainMD5; hex.EncodeToString(got[:]) != md5Hex(data) {
		t.Errorf("catalog md5 of b = %x; want %s", got, md5Hex(data))
	}

	st := e.store()
	ctx := context.Background()
	if err := st.Delete(ctx, e.row("c").ObjectKey); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(ctx, e.row("d").ObjectKey, []byte("not what s3seal wrote"), s3PutOptions()); err != nil {
		t.Fatal(err)
	}
	res := e.run("sync", e.src, e.target, "-r", e.recipient, "--endpoint", e.srv.Endpoint, "--json", "--catalog", e.catalog)
	if res.code != 0 {
		t.Fatalf("sync after remote damage: exit %d\n%s", res.code, res.stderr)
	}
	reasons := map[string]string{}
	for _, ev := range events(t, res.stdout, "done") {
		reasons[ev["path"].(string)] = ev["reason"].(string)
	}
	want := map[string]string{"c": "remote-missing", "d": "remote-changed"}
	if len(reasons) != 2 || reasons["c"] != want["c"] || reasons["d"] != want["d"] {
		t.Errorf("uploads after deleting c's object and overwriting d's = %v; want %v", reasons, want)
	}
	assertSameTree(t, e.src, e.restore())
}

// TestNoPlaintextMetadata checks that a HEAD of every object shows nothing
// derived from the plaintext.
func TestNoPlaintextMetadata(t *testing.T) {
	e := newEnv(t)
	writeFile(t, filepath.Join(e.src, "secret-name.txt"), []byte("content"))
	writeRandom(t, filepath.Join(e.src, "large"), 20<<20)
	e.sync(0, "--plain-names")
	st := e.store()
	for _, o := range e.objects() {
		head, err := st.Head(context.Background(), o.Key)
		if err != nil {
			t.Fatal(err)
		}
		if len(head.Metadata) != 0 {
			t.Errorf("HEAD %s: user metadata %v; want none", o.Key, head.Metadata)
		}
	}
	if len(e.objects()) != 2 {
		t.Errorf("found %d objects; want 2", len(e.objects()))
	}
}

// TestPassphraseNotInArgs runs a passphrase-mode sync and reads the
// process's command line while it holds the passphrase (the proxy holds its
// first upload): the passphrase is not there.
func TestPassphraseNotInArgs(t *testing.T) {
	e := newEnv(t)
	const passphrase = "correct horse battery staple 8Zq"
	passFile := filepath.Join(t.TempDir(), "pass")
	writeFile(t, passFile, []byte(passphrase+"\n"))
	writeRandom(t, filepath.Join(e.src, "f"), 1<<20)
	proxy := s3test.StartProxy(t, e.srv.Endpoint)
	arrived, release := make(chan struct{}), make(chan struct{})
	var once gosync.Once
	proxy.SetFault(func(r *s3test.Request) s3test.Fault {
		if r.Op == s3test.OpPutObject || r.Op == s3test.OpUploadPart {
			once.Do(func() { close(arrived) })
			return s3test.Fault{Hold: release}
		}
		return s3test.Fault{}
	})
	cmd := exec.Command(binary, "sync", e.src, e.target, "-S", "--passphrase-file", passFile,
		"--endpoint", proxy.URL, "--catalog", e.catalog)
	cmd.Env = e.environ()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-arrived:
	case err := <-done:
		t.Fatalf("sync -S ended before its first upload: %v\n%s", err, stderr.String())
	}
	cmdline, err := os.ReadFile("/proc/" + itoa(cmd.Process.Pid) + "/cmdline")
	close(release)
	if err != nil || len(cmdline) == 0 {
		t.Fatalf("read the command line of the running sync: %q, %v", cmdline, err)
	}
	if bytes.Contains(cmdline, []byte(passphrase)) || bytes.Contains(cmdline, []byte("horse")) {
		t.Fatalf("the passphrase is in the process arguments: %q", cmdline)
	}
	if err := <-done; err != nil {
		t.Fatalf("sync -S: %v\n%s", err, stderr.String())
	}
	// And restore with the passphrase from the environment alone.
	e.extraEnv = []string{"S3SEAL_PASSPHRASE=" + passphrase}
	dest := filepath.Join(t.TempDir(), "out")
	if res := e.run("restore", e.target, dest, "-S", "--endpoint", e.srv.Endpoint); res.code != 0 {
		t.Fatalf("restore -S: exit %d\n%s", res.code, res.stderr)
	}
	assertSameTree(t, e.src, dest)
}

// TestCatalogInsideSource backs up a folder that holds the catalog itself
// (a whole home folder, say): the catalog's files are left out, not failed.
func TestCatalogInsideSource(t *testing.T) {
	e := newEnv(t)
	writeFile(t, filepath.Join(e.src, "doc.txt"), []byte("text"))
	e.catalog = filepath.Join(e.src, ".local", "share", "catalog.db")
	for run := range 2 {
		if s := e.sync(0); s.Failed != 0 || s.Files != 1 {
			t.Fatalf("sync %d with the catalog inside the source: %+v; want 1 file, no failure", run+1, s)
		}
	}
	if objs := e.objects(); len(objs) != 1 {
		t.Errorf("bucket holds %d file objects; want 1 (the catalog's files left out)", len(objs))
	}
}

// TestDryRunCreateBucket: `sync -n -c` on a missing bucket exits 0 and
// prints the plan (the bucket's creation, then every upload) without
// creating anything: the bucket still does not exist, and no catalog
// setting binds the target.
func TestDryRunCreateBucket(t *testing.T) {
	e := newEnv(t)
	writeFile(t, filepath.Join(e.src, "a.txt"), []byte("a\n"))
	writeFile(t, filepath.Join(e.src, "dir", "b.txt"), []byte("bb\n"))
	bucket := e.bucket + "-new"
	target := "s3://" + bucket + "/backup"
	res := e.run("sync", "-n", "-c", e.src, target, "-r", e.recipient, "--endpoint", e.srv.Endpoint, "--catalog", e.catalog)
	if res.code != 0 {
		t.Fatalf("sync -n -c on a missing bucket: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	want := []string{"would create bucket s3://" + bucket, "would upload a.txt (new, 2 B)", "would upload dir/b.txt (new, 3 B)"}
	if len(lines) < len(want) || lines[0] != want[0] || !slices.Contains(lines, want[1]) || !slices.Contains(lines, want[2]) {
		t.Errorf("sync -n -c printed:\n%s\nwant the lines %q, the bucket's first", res.stdout, want)
	}
	st, err := s3store.New(context.Background(), e.srv.Config(bucket))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CheckBucket(context.Background()); !errors.Is(err, sync.ErrNoSuchBucket) {
		t.Errorf("after sync -n -c, checking the bucket gives %v; want it not to exist", err)
	}

	// The same run for real creates it and uploads both files.
	res = e.run("sync", "-c", e.src, target, "-r", e.recipient, "--endpoint", e.srv.Endpoint, "--catalog", e.catalog, "--json")
	if res.code != 0 {
		t.Fatalf("sync -c on a missing bucket: exit %d\n%s", res.code, res.stderr)
	}
	if sum := parseSummary(t, res.stdout); sum.Uploaded != 2 {
		t.Errorf("sync -c: uploaded %d; want 2", sum.Uploaded)
	}
	if plans := events(t, res.stdout, "plan"); len(plans) == 0 || plans[0]["action"] != "create-bucket" {
		t.Errorf("sync -c: the first plan event is not the bucket's creation: %v", plans)
	}
}
