package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/s3seal/s3seal/catalog"
	"github.com/s3seal/s3seal/sync/s3store/s3test"
)

// audit runs s3seal audit --json against the env's target through endpoint
// and returns the findings as sorted "category path-or-key" lines and the
// summary; it fails the test unless the exit code is want.
func (e *env) audit(endpoint string, want int, extra ...string) ([]string, map[string]any) {
	e.t.Helper()
	args := append([]string{"audit", e.src, e.target, "--endpoint", endpoint, "--catalog", e.catalog, "--json"}, extra...)
	res := e.run(args...)
	if res.code != want {
		e.t.Fatalf("s3seal audit: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", res.code, want, res.stdout, res.stderr)
	}
	var found []string
	for _, f := range events(e.t, res.stdout, "finding") {
		name, _ := f["path"].(string)
		if name == "" {
			name, _ = f["key"].(string)
		}
		found = append(found, f["category"].(string)+" "+name)
	}
	sort.Strings(found)
	sums := events(e.t, res.stdout, "summary")
	if len(sums) != 1 {
		e.t.Fatalf("audit --json printed %d summaries; want 1:\n%s", len(sums), res.stdout)
	}
	return found, sums[0]
}

func sameLines(got, want []string) bool {
	sort.Strings(want)
	return strings.Join(got, "\n") == strings.Join(want, "\n")
}

// TestAuditCategories damages a synced target in every way audit knows,
// one per category, and checks that each shows up under its category with
// its path, and nothing else; and that the audit only listed the bucket.
func TestAuditCategories(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"edited", "object-deleted", "object-overwritten", "deleted", "touched", "in-flight", "intact"} {
		writeRandom(t, filepath.Join(e.src, "dir", name), 2000)
	}
	e.sync(0)
	proxy := s3test.StartProxy(t, e.srv.Endpoint)
	if found, sum := e.audit(proxy.URL, 0); len(found) != 0 || sum["consistent"] != true || sum["files"] != 7.0 {
		t.Fatalf("audit right after a sync: findings %q, summary %v; want none, consistent, 7 files", found, sum)
	}

	ctx := context.Background()
	st := e.store()
	// Same size and mtime, one byte different: only ctime and the hash tell.
	edited := filepath.Join(e.src, "dir", "edited")
	fi, _ := os.Stat(edited)
	data, _ := os.ReadFile(edited)
	data[1000] ^= 1
	writeFile(t, edited, data)
	if err := os.Chtimes(edited, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(e.src, "dir", "touched"), later, later); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(e.src, "dir", "new"), []byte("never synced"))
	if err := os.Remove(filepath.Join(e.src, "dir", "deleted")); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx, e.row("dir/object-deleted").ObjectKey); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(ctx, e.row("dir/object-overwritten").ObjectKey, []byte("tampered"), s3PutOptions()); err != nil {
		t.Fatal(err)
	}
	stray := e.prefix + "/stray-object"
	if _, err := st.Put(ctx, stray, []byte("put by another tool"), s3PutOptions()); err != nil {
		t.Fatal(err)
	}
	abandoned := e.prefix + "/abandoned-upload"
	uploadID, err := st.CreateMultipart(ctx, abandoned, s3PutOptions())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.UploadPart(ctx, abandoned, uploadID, 1, bytes.Repeat([]byte("p"), 1000), sha256.Sum256(bytes.Repeat([]byte("p"), 1000))); err != nil {
		t.Fatal(err)
	}
	// An upload the catalog knows, as a killed sync leaves it.
	inFlight := e.row("dir/in-flight")
	knownID, err := st.CreateMultipart(ctx, inFlight.ObjectKey, s3PutOptions())
	if err != nil {
		t.Fatal(err)
	}
	recordUpload(t, e.catalog, catalog.Upload{Path: inFlight.Path, ObjectKey: inFlight.ObjectKey, UploadID: knownID,
		PartSize: 16 << 20, Size: inFlight.Size, StartedAt: time.Now().Unix()})

	proxy.ResetCounts()
	found, sum := e.audit(proxy.URL, exitDiffers)
	want := []string{
		"local-new dir/new",
		"local-changed dir/edited",
		"local-missing dir/deleted",
		"object-missing dir/object-deleted",
		"object-changed dir/object-overwritten",
		"object-unknown " + stray,
		"upload-unfinished " + abandoned,
		"upload-unfinished dir/in-flight",
	}
	if !sameLines(found, want) {
		t.Errorf("audit findings:\n%s\nwant:\n%s", strings.Join(found, "\n"), strings.Join(want, "\n"))
	}
	if sum["consistent"] != false || sum["findings"] != float64(len(want)) {
		t.Errorf("audit summary %v; want consistent false and %d findings", sum, len(want))
	}
	for _, op := range []s3test.Op{s3test.OpGetObject, s3test.OpPutObject, s3test.OpDeleteObject, s3test.OpDeleteObjects,
		s3test.OpCopyObject, s3test.OpCreateUpload, s3test.OpUploadPart, s3test.OpAbortUpload, s3test.OpCompleteUpload} {
		if n := proxy.Requests(op); n != 0 {
			t.Errorf("audit sent %d %s requests; want only listings", n, op)
		}
	}
	if proxy.Requests(s3test.OpListObjects) == 0 {
		t.Errorf("audit sent no ListObjects through the proxy; the request counts above prove nothing")
	}

	// The readable table: one line per finding with its category and path.
	res := e.run("audit", e.src, e.target, "--endpoint", e.srv.Endpoint, "--catalog", e.catalog)
	if res.code != exitDiffers || !strings.Contains(res.stderr, "8 differences") {
		t.Fatalf("audit (table): exit %d\n%s\nwant exit %d and a summary of 8 differences", res.code, res.stderr, exitDiffers)
	}
	for _, w := range want {
		category, name, _ := strings.Cut(w, " ")
		if !tableHas(res.stdout, category, name) {
			t.Errorf("audit table lacks a %s line for %s:\n%s", category, name, res.stdout)
		}
	}
}

// tableHas reports whether a line of the table starts with category and
// names name.
func tableHas(table, category, name string) bool {
	for _, line := range strings.Split(table, "\n") {
		if strings.HasPrefix(line, category+" ") && strings.Contains(line, " "+name+" ") {
			return true
		}
	}
	return false
}

// recordUpload writes an in-flight upload into a catalog.
func recordUpload(t *testing.T, path string, u catalog.Upload) {
	t.Helper()
	db, err := catalog.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.PutUpload(u); err != nil {
		t.Fatal(err)
	}
}

// TestAuditDeep replaces one object with another valid age file to the same
// recipient and truncates another: only the deep audit can say the first
// is wrong content and the second does not decrypt.
func TestAuditDeep(t *testing.T) {
	e := newEnv(t)
	writeFile(t, filepath.Join(e.src, "swapped"), []byte("the original content\n"))
	writeRandom(t, filepath.Join(e.src, "truncated"), 200<<10)
	writeRandom(t, filepath.Join(e.src, "intact"), 5000)
	e.sync(0)
	if found, sum := e.audit(e.srv.Endpoint, 0, "--deep", "-i", e.keyFile); len(found) != 0 || sum["checked"] != 3.0 {
		t.Fatalf("deep audit right after a sync: findings %q, summary %v; want none and 3 objects checked", found, sum)
	}

	ctx := context.Background()
	st := e.store()
	var other bytes.Buffer
	w, err := age.Encrypt(&other, e.identity.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "other content\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(ctx, e.row("swapped").ObjectKey, other.Bytes(), s3PutOptions()); err != nil {
		t.Fatal(err)
	}
	key := e.row("truncated").ObjectKey
	body, _, err := st.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	whole, err := io.ReadAll(body)
	body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(ctx, key, whole[:len(whole)-1000], s3PutOptions()); err != nil {
		t.Fatal(err)
	}

	found, _ := e.audit(e.srv.Endpoint, exitDiffers)
	if want := []string{"object-changed swapped", "object-changed truncated"}; !sameLines(found, want) {
		t.Errorf("LIST-only audit findings %q; want %q", found, want)
	}
	found, sum := e.audit(e.srv.Endpoint, exitDiffers, "--deep", "-i", e.keyFile)
	want := []string{"object-changed swapped", "object-changed truncated", "content-mismatch swapped", "decrypt-failed truncated"}
	if !sameLines(found, want) || sum["checked"] != 3.0 {
		t.Errorf("deep audit findings %q (summary %v); want %q and 3 checked", found, sum, want)
	}

	if _, sum := e.audit(e.srv.Endpoint, exitDiffers, "--deep", "-i", e.keyFile, "--sample", "1"); sum["checked"] != 1.0 {
		t.Errorf("deep audit of a 1%% sample of 3 objects checked %v; want 1", sum["checked"])
	}
	res := e.run("audit", e.src, e.target, "--endpoint", e.srv.Endpoint, "--catalog", e.catalog, "--deep")
	if res.code != exitUsage || !strings.Contains(res.stderr, "no identity") {
		t.Errorf("audit --deep without a key: exit %d\n%s\nwant a usage error naming the missing identity", res.code, res.stderr)
	}
}
