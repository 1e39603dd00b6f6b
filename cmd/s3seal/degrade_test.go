package main

import (
	"os"
	"path/filepath"
	"strings"
	gosync "sync"
	"syscall"
	"testing"

	"github.com/s3seal/s3seal/sync/s3store/s3test"
)

// linesWith returns the lines of text that start with prefix.
func linesWith(text, prefix string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, prefix) {
			out = append(out, line)
		}
	}
	return out
}

// TestServerLacksUploadListing syncs through a proxy that answers
// ListMultipartUploads with 501 NotImplemented, as some small servers do:
// the sync completes with one warning that says what is lost; the next
// sync, with --delete, does not ask again (-v says so) and deletes the file
// gone from the source; audit completes without asking; target info tells.
func TestServerLacksUploadListing(t *testing.T) {
	e := newEnv(t)
	writeFile(t, filepath.Join(e.src, "a"), []byte("alpha\n"))
	writeFile(t, filepath.Join(e.src, "gone"), []byte("to be deleted\n"))
	writeRandom(t, filepath.Join(e.src, "big"), 6<<20) // multipart at --part-size 5M
	proxy := s3test.StartProxy(t, e.srv.Endpoint)
	proxy.SetFault(s3test.Lacking(501, s3test.OpListUploads))
	args := []string{"sync", e.src, e.target, "-r", e.recipient, "--endpoint", proxy.URL, "--catalog", e.catalog, "--part-size", "5M"}

	res := e.run(args...)
	t.Logf("first sync: exit %d\n%s", res.code, res.stderr)
	if res.code != 0 || !strings.Contains(res.stderr, "3 files: 3 uploaded") {
		t.Fatalf("sync to a server lacking ListMultipartUploads: exit %d; want 0 and 3 uploaded\n%s", res.code, res.stderr)
	}
	warnings := linesWith(res.stderr, "s3seal: warning: the server lacks")
	if len(warnings) != 1 || !strings.Contains(warnings[0], "lacks ListMultipartUploads") ||
		!strings.Contains(warnings[0], "HTTP 501 NotImplemented") || !strings.Contains(warnings[0], "lifecycle rule") {
		t.Errorf("warnings %q; want one naming ListMultipartUploads, the 501 and what to do about orphaned uploads", warnings)
	}
	if n := proxy.Requests(s3test.OpListUploads); n != 1 {
		t.Errorf("%d ListMultipartUploads requests; want 1, not retried", n)
	}

	if err := os.Remove(filepath.Join(e.src, "gone")); err != nil {
		t.Fatal(err)
	}
	proxy.ResetCounts()
	res = e.run(append(args, "--delete", "-v")...)
	if res.code != 0 || !strings.Contains(res.stderr, "1 deleted") || len(e.objects()) != 2 {
		t.Fatalf("sync --delete: exit %d, %d objects left; want 0 and 2 objects\n%s", res.code, len(e.objects()), res.stderr)
	}
	if n := proxy.Requests(s3test.OpListUploads); n != 0 {
		t.Errorf("sync --delete sent %d ListMultipartUploads; want none: the catalog records the server lacks it", n)
	}
	if w := linesWith(res.stderr, "s3seal: warning: "); len(w) != 0 || !strings.Contains(res.stderr, "lacks ListMultipartUploads (found ") {
		t.Errorf("sync --delete -v: warnings %q; want none, and a note that the request is not sent:\n%s", w, res.stderr)
	}

	if found, sum := e.audit(proxy.URL, 0); len(found) != 0 || sum["uploads"] != float64(0) {
		t.Errorf("audit: findings %q, summary %v; want none", found, sum)
	}
	if n := proxy.Requests(s3test.OpListUploads); n != 0 {
		t.Errorf("audit sent %d ListMultipartUploads; want none", n)
	}
	if info := e.run("target", "info", e.src, e.target, "--catalog", e.catalog); info.code != 0 ||
		!strings.Contains(info.stdout, "server lacks:") || !strings.Contains(info.stdout, "ListMultipartUploads (found ") {
		t.Errorf("target info: exit %d\n%s\nwant a line saying the server lacks ListMultipartUploads", info.code, info.stdout)
	}
	assertSameTree(t, e.src, e.restore())
}

// TestListPartsRefusedAfterKill kills a sync mid-upload, then syncs with
// --delete through a proxy that answers ListParts with 405
// MethodNotAllowed: the run cannot check what the server holds, so it
// aborts the upload and sends the file again under a new one, says so once,
// deletes the file gone from the source, and exits 0; the stock age tool
// decrypts the object to the file.
func TestListPartsRefusedAfterKill(t *testing.T) {
	requireAge(t)
	e := newEnv(t)
	writeFile(t, filepath.Join(e.src, "gone"), []byte("to be deleted\n"))
	e.sync(0)
	const size = 40 << 20
	writeRandom(t, filepath.Join(e.src, "big.bin"), size)
	proxy := s3test.StartProxy(t, e.srv.Endpoint)
	c := e.startSync(proxy.URL, "-j", "2")
	signalAtPartBytes(proxy, c, syscall.SIGKILL, size*4/10)
	mustBeKilled(t, c, syscall.SIGKILL)
	waitIdle(t, proxy)
	up := e.oneInflight("big.bin")
	kept := e.partsOnServer(up)
	if kept == 0 {
		t.Fatalf("the killed run left no part on the server; the test would prove nothing")
	}

	if err := os.Remove(filepath.Join(e.src, "gone")); err != nil {
		t.Fatal(err)
	}
	proxy.ResetCounts()
	proxy.SetFault(s3test.Lacking(405, s3test.OpListParts))
	sum, stdout := e.syncVia(proxy.URL, 0, "--delete")
	row := e.row("big.bin")
	if sum.Uploaded != 1 || sum.Failed != 0 {
		t.Errorf("sync after the kill: %+v; want the file uploaded, none failed", sum)
	}
	if ev := infoEvents(t, stdout, "ListParts", "unsupported"); len(ev) != 1 || !strings.Contains(ev[0]["error"].(string), "405 MethodNotAllowed") {
		t.Errorf("unsupported events for ListParts: %v; want one naming the 405", ev)
	}
	if ev := infoEvents(t, stdout, "big.bin", "restarted"); len(ev) != 1 {
		t.Errorf("restarted events for big.bin: %v; want one", ev)
	}
	if lp, ab := proxy.Requests(s3test.OpListParts), proxy.Requests(s3test.OpAbortUpload); lp != 1 || ab != 1 {
		t.Errorf("%d ListParts and %d AbortMultipartUpload requests; want 1 each", lp, ab)
	}
	t.Logf("the killed run left %d bytes of parts; the next run sent %d of %d ciphertext bytes, %d ListParts, %d aborts",
		kept, sentFor(proxy, row.ObjectKey), row.CipherSize, proxy.Requests(s3test.OpListParts), proxy.Requests(s3test.OpAbortUpload))
	if sent := sentFor(proxy, row.ObjectKey); sent != row.CipherSize || sum.BytesSent != sent {
		t.Errorf("the run sent %d bytes (summary: %d); want the whole ciphertext again, %d", sent, sum.BytesSent, row.CipherSize)
	}
	if ups := e.serverUploads(e.prefix + "/"); len(ups) != 0 || len(e.inflight()) != 0 {
		t.Errorf("uploads left: on the server %v, in the catalog %v; want none (%s aborted)", ups, e.inflight(), up.UploadID)
	}
	if objs := e.objects(); len(objs) != 1 || objs[0].Key != row.ObjectKey {
		t.Errorf("objects after sync --delete: %v; want only big.bin's", objs)
	}
	e.assertAgeDecrypts(row.ObjectKey, "big.bin")
}

// TestStorageClassRefused syncs 41 files with --storage-class STANDARD_IA
// through a proxy that refuses that class with 400 InvalidStorageClass, as
// MinIO does: the run fails once, with one error line and hints naming the
// classes S3 defines and what to do, not one error per file, and records
// nothing. REDUCED_REDUNDANCY, which such servers accept, goes through
// without a warning, on every upload of a file object.
func TestStorageClassRefused(t *testing.T) {
	e := newEnv(t)
	const files = 41
	for i := range files - 1 {
		writeFile(t, filepath.Join(e.src, "small", itoa(i)), []byte("file "+itoa(i)))
	}
	writeRandom(t, filepath.Join(e.src, "big"), 6<<20) // multipart at --part-size 5M
	proxy := s3test.StartProxy(t, e.srv.Endpoint)
	refuse := s3test.RefuseStorageClass("STANDARD_IA")
	var mu gosync.Mutex
	classes := map[string]int{} // of the uploads of file objects
	proxy.SetFault(func(r *s3test.Request) s3test.Fault {
		if (r.Op == s3test.OpPutObject || r.Op == s3test.OpCreateUpload) && !strings.Contains(r.Key, "/.s3seal/") {
			mu.Lock()
			classes[r.StorageClass]++
			mu.Unlock()
		}
		return refuse(r)
	})
	args := []string{"sync", e.src, e.target, "-r", e.recipient, "--endpoint", proxy.URL, "--catalog", e.catalog, "--part-size", "5M"}

	res := e.run(append(args, "--storage-class", "STANDARD_IA")...)
	t.Logf("sync with a refused class: exit %d\n%s", res.code, res.stderr)
	if res.code != exitError {
		t.Fatalf("sync with a refused storage class: exit %d; want %d", res.code, exitError)
	}
	errs, hints := linesWith(res.stderr, "s3seal: error: "), strings.Join(linesWith(res.stderr, "s3seal: hint: "), "\n")
	if len(errs) != 1 || !strings.Contains(errs[0], "refuses storage class STANDARD_IA") || !strings.Contains(errs[0], "InvalidStorageClass") {
		t.Errorf("error lines %q; want one saying the server refuses STANDARD_IA", errs)
	}
	for _, want := range []string{"S3 defines the storage classes STANDARD, REDUCED_REDUNDANCY, STANDARD_IA", "this one refuses STANDARD_IA", "drop --storage-class"} {
		if !strings.Contains(hints, want) {
			t.Errorf("hints %q lack %q", hints, want)
		}
	}
	if strings.Contains(res.stderr, "files:") {
		t.Errorf("a summary line precedes the error:\n%s", res.stderr)
	}
	// Each of the 16 upload workers (-j 4) stops at its first refusal.
	t.Logf("%d files: %d uploads refused, %d requests in all", files, proxy.Faults()["InvalidStorageClass"], proxy.Requests(""))
	if n := proxy.Faults()["InvalidStorageClass"]; n == 0 || n > 16 {
		t.Errorf("%d uploads refused; want 1 to 16, one per worker at most", n)
	}
	if rows := e.checkCatalogMatchesBucket(); rows != 0 || len(e.objects()) != 0 {
		t.Errorf("after the refused run: %d catalog rows, %d objects; want none", rows, len(e.objects()))
	}

	res = e.run(append(args, "--storage-class", "REDUCED_REDUNDANCY")...)
	if res.code != 0 || strings.Contains(res.stderr, "warning") || !strings.Contains(res.stderr, itoa(files)+" uploaded") {
		t.Fatalf("sync with REDUCED_REDUNDANCY: exit %d; want 0, every file uploaded, no warning\n%s", res.code, res.stderr)
	}
	mu.Lock()
	defer mu.Unlock()
	if classes["REDUCED_REDUNDANCY"] != files || len(classes) != 2 {
		t.Errorf("uploads of file objects by storage class: %v; want the refused STANDARD_IA ones and %d REDUCED_REDUNDANCY", classes, files)
	}
}
