package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/s3seal/s3seal/catalog"
	"github.com/s3seal/s3seal/sync/s3store/s3test"
)

// wantError fails unless res exited with code and printed an error line
// containing msg followed by at least one hint line.
func wantError(t *testing.T, what string, res result, code int, msg string) {
	t.Helper()
	if res.code != code {
		t.Errorf("%s: exit %d; want %d\nstderr:\n%s", what, res.code, code, res.stderr)
	}
	if !strings.Contains(res.stderr, "s3seal: error: ") || !strings.Contains(res.stderr, msg) {
		t.Errorf("%s: stderr lacks an error line with %q:\n%s", what, msg, res.stderr)
	}
	if !strings.Contains(res.stderr, "s3seal: hint: ") {
		t.Errorf("%s: stderr has no hint:\n%s", what, res.stderr)
	}
}

func TestErrorsHaveHints(t *testing.T) {
	e := newEnv(t)
	writeFile(t, filepath.Join(e.src, "f"), []byte("data"))
	ep := e.srv.Endpoint

	res := e.run("sync", filepath.Join(e.src, "missing"), e.target, "-r", e.recipient, "--endpoint", ep)
	wantError(t, "missing source", res, 1, "no such file or directory")

	res = e.run("sync", e.src, "s3://no-such-bucket-s3seal/x", "-r", e.recipient, "--endpoint", ep)
	wantError(t, "missing bucket", res, 1, "bucket does not exist")
	if !strings.Contains(res.stderr, "--create-bucket") {
		t.Errorf("missing bucket: the hint does not mention --create-bucket:\n%s", res.stderr)
	}

	e.extraEnv = []string{"AWS_SECRET_ACCESS_KEY=wrong-secret"}
	res = e.run("sync", e.src, e.target, "-r", e.recipient, "--endpoint", ep)
	e.extraEnv = nil
	wantError(t, "wrong credentials", res, 1, "credentials rejected: HTTP 403 SignatureDoesNotMatch")
	if strings.Contains(res.stderr, "wrong-secret") || strings.Contains(res.stderr, e.srv.SecretKey) {
		t.Errorf("wrong credentials: a secret appears in the error:\n%s", res.stderr)
	}

	// A dead endpoint fails on its first refused connection, in one line:
	// the detail (-v) shows the SDK made one attempt, not ten.
	res = e.run("sync", "-v", e.src, e.target, "-r", e.recipient, "--endpoint", "http://127.0.0.1:1")
	wantError(t, "unreachable endpoint", res, 1, "endpoint unreachable: dial tcp 127.0.0.1:1: connect: connection refused")
	if strings.Contains(res.stderr, "exceeded maximum number of attempts") || !strings.Contains(res.stderr, "s3seal: detail: operation error S3: HeadBucket") {
		t.Errorf("unreachable endpoint: want one attempt and the SDK's detail under -v:\n%s", res.stderr)
	}
	res = e.run("sync", e.src, e.target, "-r", e.recipient, "--endpoint", "http://127.0.0.1:1")
	if lines := strings.Split(strings.TrimSpace(res.stderr), "\n"); len(lines) != 2 || strings.Contains(res.stderr, "operation error") {
		t.Errorf("unreachable endpoint without -v: want one error line and one hint, without the SDK's chain:\n%s", res.stderr)
	}

	for _, bad := range []string{"s3://b1/x", "s3://my bucket/x", "s3://bücket/x"} {
		res = e.run("sync", e.src, bad, "-r", e.recipient, "--endpoint", ep)
		wantError(t, "bucket name "+bad, res, 2, "is not a bucket name")
		if !strings.Contains(res.stderr, "hint: bucket names are 3 to 63 characters") {
			t.Errorf("bucket name %s: no hint:\n%s", bad, res.stderr)
		}
	}

	res = e.run("sync", e.src, e.target, "-r", "age1notarecipient", "--endpoint", ep)
	wantError(t, "invalid recipient", res, 2, "recipient #1 given with -r")

	res = e.run("sync", e.src, e.target, "--endpoint", ep)
	wantError(t, "no recipient", res, 2, "no recipient")

	res = e.run("sync", e.src, e.target, "-r", e.recipient, "-s=verysecret", "--endpoint", ep)
	wantError(t, "secret key on the command line", res, 2, "not accepted on the command line")
	if strings.Contains(res.stderr, "verysecret") {
		t.Errorf("the refused secret key is echoed:\n%s", res.stderr)
	}

	// Nothing above may have created the catalog or touched the bucket.
	if len(e.objects()) != 0 {
		t.Errorf("failed runs left %d objects in the bucket", len(e.objects()))
	}
}

func TestRestoreWrongIdentity(t *testing.T) {
	e := newEnv(t)
	writeFile(t, filepath.Join(e.src, "f"), []byte("data"))
	e.sync(0)
	other, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	otherKey := filepath.Join(t.TempDir(), "other.txt")
	writeFile(t, otherKey, []byte(other.String()+"\n"))
	dest := filepath.Join(t.TempDir(), "out")
	res := e.run("restore", e.target, dest, "-i", otherKey, "--endpoint", e.srv.Endpoint)
	wantError(t, "restore with the wrong identity", res, 1, "no identity matches")
	if strings.Contains(res.stderr, "AGE-SECRET-KEY") {
		t.Errorf("an identity appears in the error:\n%s", res.stderr)
	}
	if entries, _ := os.ReadDir(dest); len(entries) != 0 {
		t.Errorf("restore with the wrong identity wrote %d entries in DEST", len(entries))
	}
}

// TestRestoreRefusesUnsafePaths gives restore a catalog whose rows point
// outside DEST, at valid objects: it must refuse them and write nothing
// outside DEST, and still restore the good row.
func TestRestoreRefusesUnsafePaths(t *testing.T) {
	e := newEnv(t)
	writeFile(t, filepath.Join(e.src, "good"), []byte("payload"))
	e.sync(0)
	good := e.row("good")

	db, err := catalog.Open(e.catalog)
	if err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "outside")
	mustMkdir(t, outside)
	abs := filepath.Join(outside, "abs")
	for _, p := range []string{"../escape", "sub/../../escape2", abs} {
		row := good
		row.Path = p
		if err := db.Put(row); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	dest := filepath.Join(outside, "dest")
	res := e.run("restore", e.target, dest, "-i", e.keyFile, "--endpoint", e.srv.Endpoint, "--catalog", e.catalog)
	if res.code != 3 {
		t.Errorf("restore with unsafe rows: exit %d; want 3 (some files failed)\n%s", res.code, res.stderr)
	}
	for _, p := range []string{"../escape", "sub/../../escape2", abs} {
		if !strings.Contains(res.stderr, "unsafe path") || !strings.Contains(res.stderr, p) {
			t.Errorf("restore did not report unsafe path %q:\n%s", p, res.stderr)
		}
	}
	entries, _ := os.ReadDir(outside)
	if len(entries) != 1 || entries[0].Name() != "dest" {
		var names []string
		for _, en := range entries {
			names = append(names, en.Name())
		}
		t.Errorf("restore wrote outside DEST: %v", names)
	}
	if b, err := os.ReadFile(filepath.Join(dest, "good")); err != nil || string(b) != "payload" {
		t.Errorf("the safe row was not restored: %q, %v", b, err)
	}
}

// TestFatalErrorHasNoSummary makes the listing fail after the bucket check
// passed: the run must end with the error and its hint, not with a summary
// line that reads like a finished run ("3 files: 0 uploaded ...").
func TestFatalErrorHasNoSummary(t *testing.T) {
	e := newEnv(t)
	writeFile(t, filepath.Join(e.src, "f"), []byte("data"))
	proxy := s3test.StartProxy(t, e.srv.Endpoint)
	proxy.SetFault(func(r *s3test.Request) s3test.Fault {
		if r.Op == s3test.OpListObjects {
			return s3test.Fault{Status: http.StatusForbidden, Code: "AccessDenied"}
		}
		return s3test.Fault{}
	})
	res := e.run("sync", e.src, e.target, "-r", e.recipient, "--endpoint", proxy.URL, "--catalog", e.catalog)
	wantError(t, "listing denied", res, 1, "access denied")
	if strings.Contains(res.stdout+res.stderr, "uploaded") {
		t.Errorf("a failed run printed a summary:\nstdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
	}
}
