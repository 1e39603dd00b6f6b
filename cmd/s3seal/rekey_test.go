package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"

	"filippo.io/age"

	"github.com/s3seal/s3seal/sync"
	"github.com/s3seal/s3seal/sync/s3store/s3test"
)

// rekeyPartSize is the --part-size of the rekey tests: S3's minimum, so
// that a file of a few parts is small.
const rekeyPartSize = 5 << 20

// rekeyTree writes small files, a file just over a part (downloaded and
// put again by rekey) and one of several parts (rebuilt on the server),
// syncs them to A (the env's key) and returns the big file's path.
func rekeyTree(t *testing.T, e *env) string {
	t.Helper()
	writeRandom(t, filepath.Join(e.src, "small", "a.txt"), 100)
	writeRandom(t, filepath.Join(e.src, "small", "b.txt"), 70000)
	writeRandom(t, filepath.Join(e.src, "medium.bin"), 7<<20)
	writeRandom(t, filepath.Join(e.src, "big.bin"), 33<<20)
	e.sync(0, "--part-size", "5M")
	return "big.bin"
}

// newKey makes identity B and returns it with its key file.
func newKey(t *testing.T) (*age.X25519Identity, string) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "new-key.txt")
	writeFile(t, path, []byte(id.String()+"\n"))
	return id, path
}

// useKey makes id the env's key: restore, sync and assertAgeDecrypts use it.
func (e *env) useKey(id *age.X25519Identity, keyFile string) {
	e.identity, e.keyFile, e.recipient = id, keyFile, id.Recipient().String()
}

// ageOpens reports whether the stock age CLI opens the object at key with
// the identities in keyFile.
func (e *env) ageOpens(key, keyFile string) bool {
	e.t.Helper()
	body, _, err := e.store().Get(context.Background(), key)
	if err != nil {
		e.t.Fatal(err)
	}
	defer body.Close()
	cmd := exec.Command("age", "-d", "-i", keyFile, "-o", "/dev/null")
	cmd.Stdin = body
	return cmd.Run() == nil
}

// TestRekey is issue 14's first and second Done-when: rekey from A to B,
// through a proxy that counts what is sent.
func TestRekey(t *testing.T) {
	requireAge(t)
	e := newEnv(t)
	big := rekeyTree(t, e)
	oldKey := e.keyFile
	bigKey := e.row(big).ObjectKey
	newID, newKeyFile := newKey(t)

	before := e.objects()
	dry := e.run("rekey", e.src, e.target, "-i", oldKey, "-r", newID.Recipient().String(),
		"--part-size", "5M", "--endpoint", e.srv.Endpoint, "--catalog", e.catalog, "--json", "--dry-run")
	if dry.code != 0 {
		t.Fatalf("s3seal rekey --dry-run: exit %d\nstderr:\n%s", dry.code, dry.stderr)
	}
	if sums := events(t, dry.stdout, "summary"); len(sums) != 1 || sums[0]["rekeyed"] != float64(4) || sums[0]["bytes_sent"].(float64) > 20<<20 {
		t.Errorf("rekey --dry-run summary = %v; want 4 objects to rekey and under 20 MiB to send", sums)
	}
	if after := e.objects(); !sameObjects(before, after) {
		t.Errorf("rekey --dry-run changed the bucket: before %v, after %v", before, after)
	}

	proxy := s3test.StartProxy(t, e.srv.Endpoint)
	res := e.run("rekey", e.src, e.target, "-i", oldKey, "-r", newID.Recipient().String(),
		"--part-size", "5M", "--endpoint", proxy.URL, "--catalog", e.catalog, "--json")
	if res.code != 0 {
		t.Fatalf("s3seal rekey: exit %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	sums := events(t, res.stdout, "summary")
	if len(sums) != 1 || sums[0]["rekeyed"] != float64(4) || sums[0]["failed"] != float64(0) {
		t.Fatalf("rekey --json summary = %v; want 4 objects rekeyed, none failed", sums)
	}

	// The big file: its first part (a part and the header probe, with the
	// new header) is all that goes up; the rest is copied by the server.
	sent := proxy.BytesOf(s3test.OpUploadPart, bigKey) + proxy.BytesOf(s3test.OpPutObject, bigKey)
	if limit := int64(rekeyPartSize + 64<<10 + 1024); sent > limit {
		t.Errorf("rekey of the %d-byte %s sent %d bytes; want at most %d (its first part and header)", 33<<20, big, sent, limit)
	}
	if copied := sums[0]["bytes_copied"].(float64); copied < 25<<20 {
		t.Errorf("summary bytes_copied = %v; want the big file's later parts, copied by the server", copied)
	}
	if got := int64(sums[0]["bytes_sent"].(float64)); got < sent {
		t.Errorf("summary bytes_sent = %d; the proxy saw %d for %s alone", got, sent, big)
	}

	e.useKey(newID, newKeyFile)
	for _, rel := range []string{"small/a.txt", "small/b.txt", "medium.bin", big} {
		key := e.row(rel).ObjectKey
		e.assertAgeDecrypts(key, rel)
		if e.ageOpens(key, oldKey) {
			t.Errorf("age -d -i OLD opens the rekeyed object of %s", rel)
		}
	}
	assertSameTree(t, e.src, e.restore())
	if sum := e.sync(0, "--part-size", "5M"); sum.Uploaded != 0 {
		t.Errorf("sync after rekey uploaded %d files; want 0", sum.Uploaded)
	}
	if found, _ := e.audit(e.srv.Endpoint, 0); len(found) != 0 {
		t.Errorf("audit after rekey found %v; want nothing", found)
	}
}

// TestRekeyPassphrase is issue 14's fourth Done-when: a passphrase change
// moves nothing but the sealed key, and a target moves from passphrase
// mode to recipients and back.
func TestRekeyPassphrase(t *testing.T) {
	requireAge(t)
	e := newEnv(t)
	writeRandom(t, filepath.Join(e.src, "a.txt"), 3000)
	writeRandom(t, filepath.Join(e.src, "dir", "b.bin"), 300000)
	dir := t.TempDir()
	passFile := func(name, pass string) string {
		path := filepath.Join(dir, name)
		writeFile(t, path, []byte(pass+"\n"))
		return path
	}
	first, second, third := passFile("1", "first passphrase"), passFile("2", "second passphrase"), passFile("3", "third passphrase")
	common := []string{"--endpoint", e.srv.Endpoint, "--catalog", e.catalog, "--scrypt-work-factor", "10"}
	mustRun := func(args ...string) result {
		t.Helper()
		res := e.run(args...)
		if res.code != 0 {
			t.Fatalf("s3seal %v: exit %d\nstdout:\n%s\nstderr:\n%s", args, res.code, res.stdout, res.stderr)
		}
		return res
	}
	restoreWith := func(keys ...string) (string, int) {
		t.Helper()
		dest := filepath.Join(t.TempDir(), "restored")
		res := e.run(append([]string{"restore", e.target, dest, "--endpoint", e.srv.Endpoint}, keys...)...)
		return dest, res.code
	}
	mustRun(append([]string{"sync", e.src, e.target, "-S", "--passphrase-file", first, "--json"}, common...)...)
	before := e.objects()

	// Passphrase change: only the sealed key is written again.
	mustRun(append([]string{"rekey", e.src, e.target, "--passphrase-file", first, "-S", "--new-passphrase-file", second}, common...)...)
	if after := e.objects(); !sameObjects(before, after) {
		t.Errorf("a passphrase change rewrote file objects: before %v, after %v", before, after)
	}
	if _, code := restoreWith("--passphrase-file", first); code == 0 {
		t.Errorf("restore with the old passphrase succeeded after the change")
	}
	dest, code := restoreWith("--passphrase-file", second)
	if code != 0 {
		t.Fatalf("restore with the new passphrase: exit %d", code)
	}
	assertSameTree(t, e.src, dest)

	// Passphrase mode to recipient B.
	newID, newKeyFile := newKey(t)
	mustRun(append([]string{"rekey", e.src, e.target, "--passphrase-file", second, "-r", newID.Recipient().String()}, common...)...)
	e.useKey(newID, newKeyFile)
	for _, rel := range []string{"a.txt", "dir/b.bin"} {
		e.assertAgeDecrypts(e.row(rel).ObjectKey, rel)
	}
	if _, code := restoreWith("--passphrase-file", second); code == 0 {
		t.Errorf("restore with the passphrase succeeded after moving to recipients")
	}
	assertSameTree(t, e.src, e.restore())
	if sum := e.sync(0); sum.Uploaded != 0 {
		t.Errorf("sync to B after the move uploaded %d files; want 0", sum.Uploaded)
	}

	// And back to passphrase mode, with a new target identity.
	mustRun(append([]string{"rekey", e.src, e.target, "-i", newKeyFile, "-S", "--new-passphrase-file", third}, common...)...)
	for _, rel := range []string{"a.txt", "dir/b.bin"} {
		if e.ageOpens(e.row(rel).ObjectKey, newKeyFile) {
			t.Errorf("age -d -i B opens %s after the move to passphrase mode", rel)
		}
	}
	dest, code = restoreWith("--passphrase-file", third)
	if code != 0 {
		t.Fatalf("restore with the third passphrase: exit %d", code)
	}
	assertSameTree(t, e.src, dest)
	res := mustRun(append([]string{"sync", e.src, e.target, "-S", "--passphrase-file", third, "--json"}, common...)...)
	if sum := parseSummary(t, res.stdout); sum.Uploaded != 0 {
		t.Errorf("sync in passphrase mode after the move uploaded %d files; want 0", sum.Uploaded)
	}
}

// sameObjects reports whether two listings name the same keys and ETags.
func sameObjects(a, b []sync.Object) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || a[i].ETag != b[i].ETag {
			return false
		}
	}
	return true
}

// killPoint is where a test kills the rekey: when the n-th request of op
// is done or, with bytes, once the proxy has received that many request
// body bytes (in the middle of a request).
type killPoint struct {
	op    s3test.Op
	n     int
	bytes int64
}

func (p killPoint) String() string {
	if p.bytes > 0 {
		return fmt.Sprintf("byte-%d", p.bytes)
	}
	return fmt.Sprintf("%s-%d", p.op, p.n)
}

// TestRekeyKilled is issue 14's third Done-when: a rekey killed at chosen
// requests leaves every object openable by the old or the new key, and a
// second run finishes the job.
func TestRekeyKilled(t *testing.T) {
	requireAge(t)
	for _, point := range []killPoint{
		{op: s3test.OpUploadPart, n: 3},     // the big file half rebuilt
		{op: s3test.OpCompleteUpload, n: 1}, // the big file replaced, not yet recorded
		{op: s3test.OpPutObject, n: 1},      // a small file replaced
	} {
		t.Run(point.String(), func(t *testing.T) {
			rekeyKilled(t, point)
		})
	}
}

// rekeyKilled runs a rekey with the extra flags, kills it at point, checks
// that every object opens with the old key or the new one, runs it again
// and checks that every object opens with the new key only, and that sync
// and audit find nothing to do.
func rekeyKilled(t *testing.T, point killPoint, extra ...string) {
	t.Helper()
	e := newEnv(t)
	rekeyTree(t, e)
	oldKey := e.keyFile
	newID, newKeyFile := newKey(t)
	args := append([]string{"rekey", e.src, e.target, "-i", oldKey, "-r", newID.Recipient().String(),
		"--part-size", "5M", "--catalog", e.catalog, "--json"}, extra...)

	proxy := s3test.StartProxy(t, e.srv.Endpoint)
	c := exec.Command(binary, append(args, "--endpoint", proxy.URL)...)
	c.Env = e.environ()
	var seen atomic.Int32
	var killed atomic.Bool
	started := make(chan struct{}) // closed once c.Process is set
	kill := func() {
		if !killed.Swap(true) {
			<-started
			c.Process.Signal(syscall.SIGKILL)
		}
	}
	if point.bytes > 0 {
		proxy.OnBody(func(_ *s3test.Request, total int64) {
			if total >= point.bytes {
				kill() // before the proxy passes these bytes on
			}
		})
	} else {
		proxy.OnDone(func(r *s3test.Request) {
			if r.Op == point.op && int(seen.Add(1)) == point.n {
				kill()
			}
		})
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	close(started)
	if err := c.Wait(); err == nil || c.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("rekey was not killed at %v: %v", point, err)
	}
	proxy.SetDown(true)
	var rekeyed int
	for _, obj := range e.objects() {
		switch {
		case e.ageOpens(obj.Key, newKeyFile):
			rekeyed++
		case !e.ageOpens(obj.Key, oldKey):
			t.Errorf("after the kill, %s opens with neither the old key nor the new one", obj.Key)
		}
	}
	t.Logf("killed at %v: %d objects already rekeyed", point, rekeyed)

	res := e.run(append(args, "--endpoint", e.srv.Endpoint)...)
	if res.code != 0 {
		t.Fatalf("second rekey: exit %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	e.useKey(newID, newKeyFile)
	for _, rel := range []string{"small/a.txt", "small/b.txt", "medium.bin", "big.bin"} {
		key := e.row(rel).ObjectKey
		e.assertAgeDecrypts(key, rel)
		if e.ageOpens(key, oldKey) {
			t.Errorf("age -d -i OLD opens %s after the second rekey", rel)
		}
	}
	if sum := e.sync(0, "--part-size", "5M"); sum.Uploaded != 0 {
		t.Errorf("sync after the second rekey uploaded %d files; want 0", sum.Uploaded)
	}
	if found, _ := e.audit(e.srv.Endpoint, 0); len(found) != 0 {
		t.Errorf("audit after the second rekey found %v; want nothing", found)
	}
}
