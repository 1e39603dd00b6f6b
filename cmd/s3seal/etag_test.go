package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/s3seal/s3seal/sync"
	"github.com/s3seal/s3seal/sync/s3store/s3test"
)

// writeETagTree writes small files and two multipart ones (at partSize).
func (e *env) writeETagTree() {
	e.t.Helper()
	writeFile(e.t, filepath.Join(e.src, "notes.txt"), []byte("notes\n"))
	writeFile(e.t, filepath.Join(e.src, "empty"), nil)
	writeRandom(e.t, filepath.Join(e.src, "dir", "photo.jpg"), 300<<10)
	writeRandom(e.t, filepath.Join(e.src, "dir", "video.bin"), 2*partSize+partSize/2)
	writeRandom(e.t, filepath.Join(e.src, "just-over"), partSize) // age's overhead makes two parts
}

// unstableETagEvents returns the info events that say the server lists
// other ETags than it answered.
func unstableETagEvents(t *testing.T, stdout string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, ev := range events(t, stdout, "info") {
		if ev["reason"] == sync.ReasonUnstableETags {
			out = append(out, ev)
		}
	}
	return out
}

// TestDataIntegrityETags syncs small and multipart files twice to a
// gateway whose ETags are derived from CRC64NVME checksums, not MD5s, as
// AWS gives SSE-KMS and SSE-C objects: the second run uploads nothing,
// nothing is said of the server, the catalog records what the bucket
// lists, audit (also --deep) is clean and restore verifies every file.
func TestDataIntegrityETags(t *testing.T) {
	e := newEnvOn(t, s3test.GetMode(t, s3test.DataIntegrityETags))
	e.writeETagTree()
	first, out := e.syncVia(e.srv.Endpoint, 0)
	if first.Uploaded != 5 || len(unstableETagEvents(t, out)) != 0 {
		t.Fatalf("first sync: %+v, %d unstable-etags events; want 5 uploads and none", first, len(unstableETagEvents(t, out)))
	}
	st := e.store()
	for _, rel := range []string{"notes.txt", "dir/photo.jpg"} {
		row := e.row(rel)
		if md5 := md5Hex(getObject(t, st, row.ObjectKey)); row.ETag == md5 {
			t.Fatalf("%s's object has ETag %s, its MD5: the gateway is not in its data-integrity mode", rel, row.ETag)
		}
	}
	second, out := e.syncVia(e.srv.Endpoint, 0)
	if second.Uploaded != 0 || second.BytesSent != 0 || second.Unchanged != 5 || len(unstableETagEvents(t, out)) != 0 {
		t.Errorf("second sync: %+v, %d unstable-etags events; want nothing sent, 5 unchanged, nothing said", second, len(unstableETagEvents(t, out)))
	}
	e.checkCatalogMatchesBucket()
	for _, extra := range [][]string{nil, {"--deep", "-i", e.keyFile}} {
		if found, sum := e.audit(e.srv.Endpoint, 0, extra...); len(found) != 0 || sum["consistent"] != true {
			t.Errorf("audit %v: findings %q; want none", extra, found)
		}
	}
	assertSameTree(t, e.src, e.restore())
}

// TestCompleteAnswerNotListed syncs through a proxy that answers every
// CompleteMultipartUpload with another ETag (MD5-shaped) than the server
// lists and HEADs, as some servers do: the first run records the listed
// ETags and warns once, the second uploads nothing and warns not again,
// audit is clean, and a later multipart upload, answered the same way,
// warns not again either: the catalog remembers the target's server.
func TestCompleteAnswerNotListed(t *testing.T) {
	e := newEnv(t)
	e.writeETagTree()
	proxy := s3test.StartProxy(t, e.srv.Endpoint)
	etag := regexp.MustCompile(`<ETag>[^<]*</ETag>`)
	var rewritten atomic.Int32
	proxy.SetFault(func(r *s3test.Request) s3test.Fault {
		if r.Op != s3test.OpCompleteUpload {
			return s3test.Fault{}
		}
		return s3test.Fault{Rewrite: func(body []byte) []byte {
			out := etag.ReplaceAll(body, []byte(`<ETag>&#34;0123456789abcdef0123456789abcdef&#34;</ETag>`))
			if string(out) != string(body) {
				rewritten.Add(1)
			}
			return out
		}}
	})

	res := e.run("sync", e.src, e.target, "-r", e.recipient, "--endpoint", proxy.URL, "--catalog", e.catalog, "--part-size", itoa(partSize))
	if res.code != 0 {
		t.Fatalf("first sync: exit %d\n%s", res.code, res.stderr)
	}
	if n := rewritten.Load(); n != 2 {
		t.Fatalf("the proxy rewrote %d CompleteMultipartUpload answers; want 2, one per multipart file", n)
	}
	warning := "s3seal: warning: the server lists other ETags than it answered"
	if n := strings.Count(res.stderr, warning); n != 1 || !strings.Contains(res.stderr, "5 uploaded") {
		t.Errorf("first sync said %d times %q; want once, and 5 files uploaded:\n%s", n, warning, res.stderr)
	}
	e.checkCatalogMatchesBucket()

	second, out := e.syncVia(proxy.URL, 0)
	if second.Uploaded != 0 || second.BytesSent != 0 || second.Unchanged != 5 || len(unstableETagEvents(t, out)) != 0 {
		t.Errorf("second sync: %+v, %d unstable-etags events; want nothing sent, 5 unchanged, nothing said", second, len(unstableETagEvents(t, out)))
	}
	if found, _ := e.audit(proxy.URL, 0); len(found) != 0 {
		t.Errorf("audit: findings %q; want none", found)
	}

	writeRandom(t, filepath.Join(e.src, "later.bin"), partSize+partSize/2)
	third, out := e.syncVia(proxy.URL, 0)
	if third.Uploaded != 1 || rewritten.Load() != 3 || len(unstableETagEvents(t, out)) != 0 {
		t.Errorf("sync of another multipart file: %+v, %d answers rewritten, %d unstable-etags events; want it uploaded through a third rewrite, nothing said", third, rewritten.Load(), len(unstableETagEvents(t, out)))
	}
	e.checkCatalogMatchesBucket()
	assertSameTree(t, e.src, e.restore())
}

// TestListedETagsMove: after a sync, the server lists every object with
// another ETag than it answered (a proxy rewrites the ListObjectsV2
// answers), though nobody wrote the objects since. The next sync uploads
// nothing: it records the listed ETags (skip reason etag-refreshed) and
// says so once; audit through the proxy is clean, and the sync after says
// nothing more.
func TestListedETagsMove(t *testing.T) {
	e := newEnv(t)
	files := []string{"a.txt", "dir/b.bin", "empty"}
	writeFile(t, filepath.Join(e.src, "a.txt"), []byte("alpha\n"))
	writeRandom(t, filepath.Join(e.src, "dir", "b.bin"), 100<<10)
	writeFile(t, filepath.Join(e.src, "empty"), nil)
	e.sync(0)
	proxy := s3test.StartProxy(t, e.srv.Endpoint)
	quote := regexp.MustCompile(`<ETag>(&#34;|&quot;|")`)
	proxy.SetFault(func(r *s3test.Request) s3test.Fault {
		if r.Op != s3test.OpListObjects {
			return s3test.Fault{}
		}
		return s3test.Fault{Rewrite: func(body []byte) []byte {
			return quote.ReplaceAll(body, []byte("<ETag>${1}relisted-"))
		}}
	})

	sum, out := e.syncVia(proxy.URL, 0)
	skipped := map[string]any{}
	for _, ev := range events(t, out, "skip") {
		skipped[ev["path"].(string)] = ev["reason"]
	}
	if sum.Uploaded != 0 || sum.BytesSent != 0 || len(unstableETagEvents(t, out)) != 1 {
		t.Errorf("sync while the listing shows other ETags: %+v, %d unstable-etags events; want nothing sent, said once\n%s", sum, len(unstableETagEvents(t, out)), out)
	}
	for _, rel := range files {
		if skipped[rel] != "etag-refreshed" {
			t.Errorf("skip reason of %s = %v; want etag-refreshed", rel, skipped[rel])
		}
		if row := e.row(rel); !strings.HasPrefix(row.ETag, "relisted-") {
			t.Errorf("row of %s has ETag %q; want the listed one", rel, row.ETag)
		}
	}
	if found, _ := e.audit(proxy.URL, 0); len(found) != 0 {
		t.Errorf("audit through the proxy: findings %q; want none", found)
	}
	again, out := e.syncVia(proxy.URL, 0)
	if again.Uploaded != 0 || again.Unchanged != 3 || len(unstableETagEvents(t, out)) != 0 {
		t.Errorf("next sync: %+v, %d unstable-etags events; want 3 unchanged, nothing said", again, len(unstableETagEvents(t, out)))
	}
}

// TestResumeDataIntegrityETags kills a sync of a multipart file once part
// of it reached a gateway whose part ETags are not MD5s, and checks that
// the next run resumes it: the parts the server lists are checked by size
// and by the hashes the catalog recorded before they were sent, and the
// upload is completed with the ETags the server gave them.
func TestResumeDataIntegrityETags(t *testing.T) {
	e := newEnvOn(t, s3test.GetMode(t, s3test.DataIntegrityETags))
	const size = 6 * partSize
	writeRandom(t, filepath.Join(e.src, "big.bin"), size)
	proxy := s3test.StartProxy(t, e.srv.Endpoint)
	c := e.startSync(proxy.URL, "-j", "2")
	signalAtPartBytes(proxy, c, syscall.SIGKILL, 3*partSize+partSize/3)
	mustBeKilled(t, c, syscall.SIGKILL)
	waitIdle(t, proxy)
	up := e.oneInflight("big.bin")
	kept := e.partsOnServer(up)
	if kept == 0 {
		t.Fatalf("the server kept no part of the killed upload")
	}

	proxy.ResetCounts()
	sum, stdout := e.syncVia(proxy.URL, 0, "-j", "2")
	row := e.row("big.bin")
	if ev := infoEvents(t, stdout, "big.bin", "resumed"); len(ev) != 1 || ev[0]["bytes"] != float64(kept) {
		t.Errorf("resumed events = %v; want one with bytes %d\n%s", ev, kept, stdout)
	}
	if ev := infoEvents(t, stdout, "big.bin", "restarted"); len(ev) != 0 {
		t.Errorf("restarted events = %v; want the upload continued", ev)
	}
	if sum.Uploaded != 1 || sum.BytesSent != row.CipherSize-kept {
		t.Errorf("resuming sync: %+v; want big.bin uploaded with the %d bytes the server lacked", sum, row.CipherSize-kept)
	}
	e.checkCatalogMatchesBucket()
	assertSameTree(t, e.src, e.restore())
}
