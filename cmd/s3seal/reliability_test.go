package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	gosync "sync"
	"syscall"
	"testing"

	"github.com/s3seal/s3seal/catalog"
	"github.com/s3seal/s3seal/sync/s3store/s3test"
)

// lookup returns the catalog row of rel, if there is one.
func (e *env) lookup(rel string) (catalog.File, bool) {
	e.t.Helper()
	db, err := catalog.Open(e.catalog)
	if err != nil {
		e.t.Fatal(err)
	}
	defer db.Close()
	f, ok, err := db.Lookup(rel)
	if err != nil {
		e.t.Fatal(err)
	}
	return f, ok
}

// failEvent returns the --json fail event of path, or nil.
func failEvent(t *testing.T, stdout, path string) map[string]any {
	t.Helper()
	for _, ev := range events(t, stdout, "fail") {
		if ev["path"] == path {
			return ev
		}
	}
	return nil
}

// TestConcurrentRunsOnOneCatalog holds a sync in the middle of its uploads
// (the proxy holds its PutObjects) and starts a second sync on the same
// catalog: the second must refuse before it lists or uploads anything,
// naming the first's pid, with a hint. Once the first is killed with
// SIGKILL, its lock file still names it, and a new run must proceed all
// the same.
func TestConcurrentRunsOnOneCatalog(t *testing.T) {
	e := newEnv(t)
	for i := range 5 {
		writeFile(t, filepath.Join(e.src, fmt.Sprint("f", i)), []byte(strings.Repeat("x", i*100)))
	}
	proxy := s3test.StartProxy(t, e.srv.Endpoint)
	arrived, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	var once gosync.Once
	proxy.SetFault(func(r *s3test.Request) s3test.Fault {
		if r.Op == s3test.OpPutObject {
			once.Do(func() { close(arrived) })
			return s3test.Fault{Hold: release}
		}
		return s3test.Fault{}
	})
	first := e.startSync(proxy.URL)
	select {
	case <-arrived:
	case <-first.done:
		t.Fatalf("the first sync ended before it sent a PutObject\nstderr:\n%s", first.stderr.String())
	}

	counter := s3test.StartProxy(t, e.srv.Endpoint)
	res := e.run("sync", e.src, e.target, "-r", e.recipient, "--endpoint", counter.URL, "--catalog", e.catalog)
	wantError(t, "second sync on a busy catalog", res, exitError, fmt.Sprintf("is in use by pid %d on ", first.cmd.Process.Pid))
	if !strings.Contains(res.stderr, "another s3seal run uses this catalog") {
		t.Errorf("second sync: the hint does not say another run holds the catalog:\n%s", res.stderr)
	}
	for _, op := range []s3test.Op{s3test.OpListObjects, s3test.OpListUploads, s3test.OpPutObject, s3test.OpCreateUpload} {
		if n := counter.Requests(op); n != 0 {
			t.Errorf("second sync on a busy catalog sent %d %s requests; want it to refuse before any", n, op)
		}
	}

	first.cmd.Process.Kill()
	mustBeKilled(t, first, syscall.SIGKILL)
	if b, err := os.ReadFile(e.catalog + ".lock"); err != nil || !bytes.Contains(b, []byte(fmt.Sprintf("pid %d ", first.cmd.Process.Pid))) {
		t.Fatalf("lock file after the kill: %q, %v; want it to still name the dead run", b, err)
	}
	proxy.SetFault(nil)
	sum := e.sync(0)
	if sum.Uploaded != 5 || sum.Failed != 0 {
		t.Errorf("sync after the holder was killed: %+v; want 5 files uploaded", sum)
	}
}

// TestFileChangedWhileRead changes a large file (synced once before) while
// its new content is being uploaded, once its first part reached the
// server: appended to, truncated, or replaced by a rename. The run must
// report the file as changed while read and exit 3; the catalog must keep
// the file's old row (whose object is untouched), with no in-flight upload
// and no multipart upload left on the server; the next run must upload it
// and a restore must give the new bytes.
func TestFileChangedWhileRead(t *testing.T) {
	changes := []struct {
		name   string
		change func(path string) error
	}{
		{"appended", func(path string) error {
			f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			_, err = f.Write(bytes.Repeat([]byte("appended"), 1<<17))
			return errors.Join(err, f.Close())
		}},
		{"truncated", func(path string) error { return os.Truncate(path, 1<<20) }},
		{"replaced", func(path string) error {
			tmp := path + ".new"
			if err := os.WriteFile(tmp, bytes.Repeat([]byte("new"), 1<<20), 0o600); err != nil {
				return err
			}
			return os.Rename(tmp, path)
		}},
	}
	for _, c := range changes {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			big := filepath.Join(e.src, "big")
			writeRandom(t, big, 3*partSize)
			writeFile(t, filepath.Join(e.src, "other"), []byte("other"))
			e.syncVia(e.srv.Endpoint, 0)
			old := e.row("big")
			writeRandom(t, big, 3*partSize+1000) // the new content to upload

			proxy := s3test.StartProxy(t, e.srv.Endpoint)
			var once gosync.Once
			changed := false
			var changeErr error
			proxy.OnBody(func(r *s3test.Request, _ int64) {
				if r.Op == s3test.OpUploadPart && proxy.BytesOf(s3test.OpUploadPart, "") >= partSize/2 {
					once.Do(func() { changed, changeErr = true, c.change(big) })
				}
			})
			_, stdout := e.syncVia(proxy.URL, exitPartial)
			// The sync can see the change and exit before the proxy's
			// goroutine has stored changeErr: Do returns only once a
			// change under way is done, and stops any later one.
			once.Do(func() {})
			if !changed {
				t.Fatal("the file was not changed during its upload")
			}
			if changeErr != nil {
				t.Fatal(changeErr)
			}
			ev := failEvent(t, stdout, "big")
			if ev == nil || !strings.Contains(fmt.Sprint(ev["error"]), "changed while it was read") {
				t.Errorf("fail event for big: %v; want one saying it changed while it was read\n%s", ev, stdout)
			}
			if row, ok := e.lookup("big"); !ok || row.ETag != old.ETag || row.PlainMD5 != old.PlainMD5 {
				t.Errorf("catalog row of big after the failed upload: %+v (present %v); want the old row %+v", row, ok, old)
			}
			if ups := e.inflight(); len(ups) != 0 {
				t.Errorf("catalog keeps %d in-flight uploads; want none", len(ups))
			}
			if ups := e.serverUploads(e.prefix + "/"); len(ups) != 0 {
				t.Errorf("%d multipart uploads left on the server; want none", len(ups))
			}
			if n := e.checkCatalogMatchesBucket(); n != 2 {
				t.Errorf("catalog has %d rows; want 2", n)
			}

			sum, _ := e.syncVia(e.srv.Endpoint, 0)
			if sum.Uploaded != 1 || sum.Failed != 0 {
				t.Errorf("next sync: %+v; want big uploaded", sum)
			}
			if row := e.row("big"); row.PlainMD5 != fileMD5(t, big) {
				t.Errorf("catalog row of big after the next sync has MD5 %x; want the file's", row.PlainMD5)
			}
			assertSameTree(t, e.src, e.restore())
		})
	}
}

// TestCorruptCatalog damages the catalog file (truncated, overwritten with
// garbage): sync, audit and restore --catalog must fail with an error that
// says the catalog is damaged and a hint naming 'catalog pull', and leave
// the file byte for byte as it was. Moving it aside and pulling the mirror
// must give a catalog the next sync accepts with nothing to upload.
func TestCorruptCatalog(t *testing.T) {
	e := newEnv(t)
	for i := range 20 {
		writeFile(t, filepath.Join(e.src, fmt.Sprint("f", i)), bytes.Repeat([]byte{byte(i)}, 5000))
	}
	e.sync(0)
	good, err := os.ReadFile(e.catalog)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(e.catalog + "-wal")
	os.Remove(e.catalog + "-shm")
	damages := map[string][]byte{
		"truncated": good[:len(good)/2],
		"garbage":   bytes.Repeat([]byte("not a catalog\n"), 300),
		"zeroed":    append(append([]byte{}, good[:100]...), make([]byte, len(good)-100)...),
	}
	ep := e.srv.Endpoint
	for name, bad := range damages {
		t.Run(name, func(t *testing.T) {
			writeFile(t, e.catalog, bad)
			for _, args := range [][]string{
				{"sync", e.src, e.target, "-r", e.recipient, "--endpoint", ep, "--catalog", e.catalog},
				{"audit", e.src, e.target, "--endpoint", ep, "--catalog", e.catalog},
				{"restore", e.target, filepath.Join(t.TempDir(), "out"), "-i", e.keyFile, "--endpoint", ep, "--catalog", e.catalog},
			} {
				res := e.run(args...)
				wantError(t, args[0]+" with a "+name+" catalog", res, exitError, "catalog is damaged")
				if !strings.Contains(res.stderr, "catalog pull") {
					t.Errorf("%s with a %s catalog: no hint naming 'catalog pull':\n%s", args[0], name, res.stderr)
				}
				if now, err := os.ReadFile(e.catalog); err != nil || !bytes.Equal(now, bad) {
					t.Errorf("%s changed the %s catalog file (%d bytes, was %d; %v)", args[0], name, len(now), len(bad), err)
				}
			}
		})
	}

	if err := os.Rename(e.catalog, e.catalog+".damaged"); err != nil {
		t.Fatal(err)
	}
	res := e.run("catalog", "pull", e.src, e.target, "-i", e.keyFile, "--endpoint", ep, "--catalog", e.catalog)
	if res.code != 0 {
		t.Fatalf("catalog pull: exit %d\n%s", res.code, res.stderr)
	}
	if sum := e.sync(0); sum.Uploaded != 0 || sum.Failed != 0 || sum.Files != 20 {
		t.Errorf("sync with the pulled catalog: %+v; want nothing uploaded", sum)
	}
}
