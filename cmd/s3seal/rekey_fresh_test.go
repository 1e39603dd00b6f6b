package main

import (
	"bytes"
	"context"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/s3seal/s3seal/cipher"
	"github.com/s3seal/s3seal/sync/s3store/s3test"
)

// objectBytes returns the bytes of the object at key.
func (e *env) objectBytes(key string) []byte {
	e.t.Helper()
	body, _, err := e.store().Get(context.Background(), key)
	if err != nil {
		e.t.Fatal(err)
	}
	defer body.Close()
	b, err := io.ReadAll(body)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// ageOpensBytes reports whether the stock age CLI opens file with the
// identities in keyFile.
func ageOpensBytes(t *testing.T, file []byte, keyFile string) bool {
	t.Helper()
	cmd := exec.Command("age", "-d", "-i", keyFile, "-o", "/dev/null")
	cmd.Stdin = bytes.NewReader(file)
	return cmd.Run() == nil
}

// TestRekeyNewFileKeys is issue 14's fifth Done-when: rekey --new-file-keys
// from A to B downloads and uploads every object in full, under fresh file
// keys, and leaves a target that B restores and sync and audit find in
// order.
func TestRekeyNewFileKeys(t *testing.T) {
	requireAge(t)
	e := newEnv(t)
	rekeyTree(t, e)
	oldKey := e.keyFile
	newID, newKeyFile := newKey(t)
	files := []string{"small/a.txt", "small/b.txt", "medium.bin", "big.bin"}
	old := make(map[string][]byte)
	var total int64
	for _, rel := range files {
		old[rel] = e.objectBytes(e.row(rel).ObjectKey)
		total += int64(len(old[rel]))
	}
	args := []string{"rekey", e.src, e.target, "-i", oldKey, "-r", newID.Recipient().String(), "--new-file-keys",
		"--part-size", "5M", "--catalog", e.catalog, "--json"}

	before := e.objects()
	dry := e.run(append(args, "--endpoint", e.srv.Endpoint, "--dry-run")...)
	if dry.code != 0 {
		t.Fatalf("s3seal rekey --new-file-keys --dry-run: exit %d\nstderr:\n%s", dry.code, dry.stderr)
	}
	if sums := events(t, dry.stdout, "summary"); len(sums) != 1 || sums[0]["rekeyed"] != float64(4) ||
		sums[0]["bytes_read"] != float64(total) || sums[0]["bytes_sent"] != float64(total) || sums[0]["bytes_copied"] != float64(0) {
		t.Errorf("rekey --new-file-keys --dry-run summary = %v; want 4 objects, all %d bytes read and sent, none copied", sums, total)
	}
	if after := e.objects(); !sameObjects(before, after) {
		t.Errorf("rekey --dry-run changed the bucket: before %v, after %v", before, after)
	}

	proxy := s3test.StartProxy(t, e.srv.Endpoint)
	res := e.run(append(args, "--endpoint", proxy.URL)...)
	if res.code != 0 {
		t.Fatalf("s3seal rekey --new-file-keys: exit %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	sums := events(t, res.stdout, "summary")
	if len(sums) != 1 || sums[0]["rekeyed"] != float64(4) || sums[0]["failed"] != float64(0) || sums[0]["bytes_copied"] != float64(0) {
		t.Fatalf("rekey --new-file-keys summary = %v; want 4 objects rekeyed, none failed, nothing copied on the server", sums)
	}
	var sent, newTotal int64
	for _, rel := range files {
		row := e.row(rel)
		sent += proxy.BytesOf(s3test.OpUploadPart, row.ObjectKey) + proxy.BytesOf(s3test.OpPutObject, row.ObjectKey)
		newTotal += row.CipherSize
	}
	if sent < newTotal || sums[0]["bytes_sent"] != float64(newTotal) || sums[0]["bytes_read"].(float64) < float64(total) {
		t.Errorf("the proxy saw %d bytes go up for the files; summary %v; want all %d bytes of the old objects read, all %d of the new ones sent",
			sent, sums[0], total, newTotal)
	}

	e.useKey(newID, newKeyFile)
	for _, rel := range files {
		key := e.row(rel).ObjectKey
		e.assertAgeDecrypts(key, rel)
		file := e.objectBytes(key)
		if ageOpensBytes(t, file, oldKey) {
			t.Errorf("age -d -i OLD opens the new object of %s", rel)
		}
		// A fresh file key: the old header, which wraps the old file key
		// to A, does not open the new payload, as it would after a
		// header-only rekey.
		oldLen, err := cipher.HeaderLen(old[rel])
		if err != nil {
			t.Fatal(err)
		}
		newLen, err := cipher.HeaderLen(file)
		if err != nil {
			t.Fatal(err)
		}
		mixed := append(bytes.Clone(old[rel][:oldLen]), file[newLen:]...)
		if ageOpensBytes(t, mixed, oldKey) {
			t.Errorf("%s: the old file key opens the new payload; want a fresh file key", rel)
		}
	}
	assertSameTree(t, e.src, e.restore())
	if sum := e.sync(0, "--part-size", "5M"); sum.Uploaded != 0 {
		t.Errorf("sync after rekey --new-file-keys uploaded %d files; want 0", sum.Uploaded)
	}
	if found, _ := e.audit(e.srv.Endpoint, 0); len(found) != 0 {
		t.Errorf("audit after rekey --new-file-keys found %v; want nothing", found)
	}
}

// TestRekeyNewFileKeysKilled: a rekey --new-file-keys killed in the middle
// of a part, after a part, after an upload completed, and after a put,
// leaves every object openable with the old key or the new one, and a
// second run finishes the job.
func TestRekeyNewFileKeysKilled(t *testing.T) {
	requireAge(t)
	for _, point := range []killPoint{
		{bytes: 12 << 20},                   // in the middle of the big file's third part
		{op: s3test.OpUploadPart, n: 3},     // the big file half sent
		{op: s3test.OpCompleteUpload, n: 1}, // the big file replaced, not yet recorded
		{op: s3test.OpPutObject, n: 1},      // a small file replaced
	} {
		t.Run(point.String(), func(t *testing.T) {
			rekeyKilled(t, point, "--new-file-keys")
		})
	}
}

// TestRekeyNewFileKeysStayInPassphraseMode: --new-file-keys from
// passphrase mode to passphrase mode is refused with a hint before
// anything moves (it would need a new target identity while the old one
// still opens the objects not yet done).
func TestRekeyNewFileKeysStayInPassphraseMode(t *testing.T) {
	e := newEnv(t)
	writeRandom(t, filepath.Join(e.src, "a.txt"), 3000)
	dir := t.TempDir()
	oldPass, newPass := filepath.Join(dir, "old"), filepath.Join(dir, "new")
	writeFile(t, oldPass, []byte("old passphrase\n"))
	writeFile(t, newPass, []byte("new passphrase\n"))
	common := []string{"--endpoint", e.srv.Endpoint, "--catalog", e.catalog, "--scrypt-work-factor", "10"}
	if res := e.run(append([]string{"sync", e.src, e.target, "-S", "--passphrase-file", oldPass}, common...)...); res.code != 0 {
		t.Fatalf("s3seal sync -S: exit %d\nstderr:\n%s", res.code, res.stderr)
	}
	before := e.objects()
	res := e.run(append([]string{"rekey", e.src, e.target, "--passphrase-file", oldPass, "-S",
		"--new-passphrase-file", newPass, "--new-file-keys"}, common...)...)
	if res.code != exitUsage || !strings.Contains(res.stderr, "s3seal: hint: run it to a recipient") {
		t.Errorf("rekey -S --new-file-keys in passphrase mode: exit %d, stderr:\n%s\nwant exit %d and a hint", res.code, res.stderr, exitUsage)
	}
	if after := e.objects(); !sameObjects(before, after) {
		t.Errorf("the refused rekey changed the bucket: before %v, after %v", before, after)
	}
}
