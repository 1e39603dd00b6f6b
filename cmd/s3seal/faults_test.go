package main

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	gosync "sync"
	"testing"

	"github.com/s3seal/s3seal/catalog"
	"github.com/s3seal/s3seal/sync"
	"github.com/s3seal/s3seal/sync/s3store/s3test"
)

// writeMixedTree fills the env's source with large files (multipart at
// partSize) and small files of random sizes, some empty, in sub-folders,
// and returns the number of files.
func (e *env) writeMixedTree(large []int64, small int) int {
	e.t.Helper()
	for i, n := range large {
		writeRandom(e.t, filepath.Join(e.src, "large", fmt.Sprintf("big%d.bin", i)), n)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range small {
		size := rng.Int64N(300 << 10)
		if i%10 == 0 {
			size = 0
		}
		writeRandom(e.t, filepath.Join(e.src, fmt.Sprintf("dir%d", i%4), fmt.Sprintf("small%02d", i)), size)
	}
	return len(large) + small
}

// faultFigures formats what a proxy did, for the log and the docs.
func faultFigures(proxy *s3test.Proxy) string {
	f := proxy.Faults()
	return fmt.Sprintf("%d requests, %d faulted (%d InternalError, %d SlowDown, %d resets, %d truncated)",
		proxy.Requests(""), f["InternalError"]+f["SlowDown"]+f["reset"]+f["truncate"],
		f["InternalError"], f["SlowDown"], f["reset"], f["truncate"])
}

// checkCatalogMatchesBucket fails unless every catalog row points at an
// object the bucket has, with the row's ETag and size, and returns the
// number of rows.
func (e *env) checkCatalogMatchesBucket() int {
	e.t.Helper()
	remote := make(map[string]sync.Object)
	for _, o := range e.objects() {
		remote[o.Key] = o
	}
	db, err := catalog.Open(e.catalog)
	if err != nil {
		e.t.Fatal(err)
	}
	defer db.Close()
	rows := 0
	err = db.Files(func(f catalog.File) error {
		rows++
		o, ok := remote[f.ObjectKey]
		if !ok || o.ETag != f.ETag || o.Size != f.CipherSize {
			e.t.Errorf("catalog row %s -> %s (ETag %s, %d bytes); the bucket has %+v (present: %v)", f.Path, f.ObjectKey, f.ETag, f.CipherSize, o, ok)
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return rows
}

// TestSyncUnderRandomFaults syncs a mixed tree through a proxy that answers
// 5% of requests with 500 InternalError, 2% with 503 SlowDown, resets 2% of
// connections halfway through the request body and cuts 1% of response
// bodies short. The sync must finish with every file uploaded, and a deep
// audit and a restore must find every file intact.
func TestSyncUnderRandomFaults(t *testing.T) {
	e := newEnv(t)
	files := e.writeMixedTree([]int64{30 << 20, 13<<20 + 12345}, 200)
	proxy := s3test.StartProxy(t, e.srv.Endpoint)
	proxy.SetFault(s3test.RandomFaults(42, s3test.Rates{InternalError: 0.05, SlowDown: 0.02, Reset: 0.02, Truncate: 0.01}))

	sum, _ := e.syncVia(proxy.URL, 0)
	if sum.Files != files || sum.Uploaded != files || sum.Failed != 0 {
		t.Errorf("sync under faults: %+v; want %d files uploaded, none failed", sum, files)
	}
	faults := proxy.Faults()
	if faults["InternalError"] == 0 || faults["SlowDown"] == 0 || faults["reset"] == 0 {
		t.Errorf("the proxy faulted %v; want some of each kind (the test would prove nothing)", faults)
	}
	t.Logf("sync of %d files: %s", files, faultFigures(proxy))
	proxy.SetFault(nil)

	if rows := e.checkCatalogMatchesBucket(); rows != files {
		t.Errorf("catalog has %d rows; want %d", rows, files)
	}
	if found, s := e.audit(e.srv.Endpoint, 0, "--deep", "-i", e.keyFile); len(found) != 0 || s["checked"] != float64(files) {
		t.Errorf("deep audit after the faulted sync: findings %q, summary %v; want none and %d checked", found, s, files)
	}
	assertSameTree(t, e.src, e.restore())
	if ups := e.serverUploads(e.prefix + "/"); len(ups) != 0 {
		t.Errorf("%d multipart uploads left on the server", len(ups))
	}
}

// TestPartRetriedAfterSDKGivesUp gives each request a single attempt
// (--max-attempts 1), so that the SDK does not retry, and fails the first
// attempt of two parts (a 500, a reset mid-body): s3seal's own per-part
// retry must send them again, and the object must decrypt to the file.
func TestPartRetriedAfterSDKGivesUp(t *testing.T) {
	e := newEnv(t)
	writeRandom(t, filepath.Join(e.src, "big"), 4*partSize+100)
	proxy := s3test.StartProxy(t, e.srv.Endpoint)
	var mu gosync.Mutex
	failed := map[int]bool{}
	proxy.SetFault(func(r *s3test.Request) s3test.Fault {
		mu.Lock()
		defer mu.Unlock()
		if r.Op != s3test.OpUploadPart || (r.Part != 2 && r.Part != 4) || failed[r.Part] {
			return s3test.Fault{}
		}
		failed[r.Part] = true
		if r.Part == 2 {
			return s3test.Fault{Status: 500}
		}
		return s3test.Fault{Reset: true, ResetAfter: r.Length / 2}
	})
	sum, _ := e.syncVia(proxy.URL, 0, "--max-attempts", "1", "-j", "2")
	if sum.Uploaded != 1 || sum.Failed != 0 {
		t.Errorf("sync: %+v; want the file uploaded", sum)
	}
	if got, want := proxy.Requests(s3test.OpUploadPart), 5+2; got != want {
		t.Errorf("%d UploadPart requests; want %d (5 parts, 2 of them sent twice)", got, want)
	}
	t.Logf("one 4-part file: %s", faultFigures(proxy))
	assertSameTree(t, e.src, e.restore())
}

// TestServerGoneMidSync stops the proxy (connections refused and reset)
// while a large file is being uploaded: the run must fail with an error
// naming the unreachable endpoint, the catalog must hold only rows whose
// objects exist, and once the server is back the next run must finish and
// restore to an identical tree.
func TestServerGoneMidSync(t *testing.T) {
	e := newEnv(t)
	files := e.writeMixedTree([]int64{5 * partSize}, 12)
	proxy := s3test.StartProxy(t, e.srv.Endpoint)
	var once gosync.Once
	proxy.OnBody(func(r *s3test.Request, _ int64) {
		if r.Op == s3test.OpUploadPart && proxy.BytesOf(s3test.OpUploadPart, "") >= 2*partSize {
			// At once, in this hook: the rest of the file must not
			// reach the server before the proxy goes down.
			once.Do(func() { proxy.SetDown(true) })
		}
	})
	c := e.startSync(proxy.URL, "--max-attempts", "2", "-j", "2")
	code, _ := c.wait()
	stderr := c.stderr.String()
	t.Logf("run with the server gone: exit %d\n%s", code, stderr)
	if code != exitError {
		t.Errorf("sync with the server gone: exit %d; want 1", code)
	}
	if !strings.Contains(stderr, "s3seal: error: ") || !strings.Contains(stderr, "endpoint unreachable") ||
		!strings.Contains(stderr, "s3seal: hint: check --endpoint") {
		t.Errorf("sync with the server gone: stderr does not say the endpoint is unreachable with a hint:\n%s", stderr)
	}
	failedLarge := false
	for _, ev := range events(t, c.stdout.String(), "fail") {
		failedLarge = failedLarge || ev["path"] == "large/big0.bin"
	}
	if !failedLarge {
		t.Errorf("no fail event for the large file being uploaded when the server went:\n%s", c.stdout.String())
	}
	rows := e.checkCatalogMatchesBucket()
	if rows >= files {
		t.Errorf("catalog has %d rows of %d files after a failed run; the test did not cut the run short", rows, files)
	}

	proxy.OnBody(nil)
	if err := proxy.SetDown(false); err != nil {
		t.Fatal(err)
	}
	proxy.ResetCounts()
	sum, _ := e.syncVia(proxy.URL, 0)
	if sum.Failed != 0 || sum.Uploaded != files-rows {
		t.Errorf("sync after the server is back: %+v; want the %d missing files uploaded", sum, files-rows)
	}
	t.Logf("rows after the failed run: %d of %d; next run sent %d bytes, uploaded %d", rows, files, sum.BytesSent, sum.Uploaded)
	if n := e.checkCatalogMatchesBucket(); n != files {
		t.Errorf("catalog has %d rows; want %d", n, files)
	}
	assertSameTree(t, e.src, e.restore())
	if ups := e.serverUploads(e.prefix + "/"); len(ups) != 0 {
		t.Errorf("%d multipart uploads left on the server", len(ups))
	}
}
