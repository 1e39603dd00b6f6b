package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/s3seal/s3seal/sync"
	"github.com/s3seal/s3seal/sync/s3store"
)

// TestPolicyUnderEmulatedIAM runs s3seal through iamProxy, which refuses
// what the printed policy does not allow (versitygw cannot enforce IAM).
// Under the backing-up policy, sync (multipart, --delete) and audit work
// and a delete leaves the deleted file's version in the versioned bucket,
// while deleting that version, changing versioning or lifecycle, and
// writing outside the prefix are refused. Under --read-only a fresh machine
// restores and audits deeply but cannot sync; under --no-delete sync
// --delete is refused its delete.
func TestPolicyUnderEmulatedIAM(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	owner := e.store() // the owner's credential, straight to the gateway
	if err := owner.EnableVersioning(ctx); err != nil {
		t.Fatal(err)
	}
	proxy := startIAMProxy(t, e.srv.Endpoint)
	run := func(who *env, want int, args ...string) result {
		t.Helper()
		res := who.run(append(args, "--endpoint", proxy.URL)...)
		if res.code != want {
			_, refused := proxy.seen()
			t.Fatalf("s3seal %s: exit %d, want %d; refused: %v\n%s", args[0], res.code, want, refused, res.stderr)
		}
		return res
	}
	syncArgs := []string{"sync", e.src, e.target, "-r", e.recipient, "--catalog", e.catalog, "--part-size", "5M"}
	writeFile(t, filepath.Join(e.src, "a.txt"), []byte("deleted later"))
	writeFile(t, filepath.Join(e.src, "sub", "b.txt"), []byte("changed later"))
	writeRandom(t, filepath.Join(e.src, "big.bin"), 6<<20) // two parts

	proxy.use(printPolicy(t, e.target))
	run(e, 0, syncArgs...)
	deleted := e.row("a.txt").ObjectKey
	if err := os.Remove(filepath.Join(e.src, "a.txt")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(e.src, "sub", "b.txt"), []byte("changed"))
	run(e, 0, append(syncArgs, "--delete")...)
	run(e, 0, "audit", e.src, e.target, "--catalog", e.catalog)
	asked, refused := proxy.seen()
	checkRefused(t, "sync and audit under the backing-up policy", refused, "s3:ListBucket")
	for _, action := range []string{"s3:ListBucket", "s3:ListBucketMultipartUploads", "s3:PutObject", "s3:GetObject", "s3:DeleteObject"} {
		if !asked[action] {
			t.Errorf("sync and audit never needed %s; asked for %v", action, asked)
		}
	}
	version := keptVersion(t, owner, deleted)

	st, err := s3store.New(ctx, s3store.Config{Bucket: e.bucket, Endpoint: proxy.URL, Region: e.srv.Region,
		AccessKey: e.srv.AccessKey, SecretKey: e.srv.SecretKey, Prefix: e.prefix, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	for name, destroy := range map[string]func() error{
		"delete the version":   func() error { return st.DeleteVersion(ctx, deleted, version) },
		"turn versioning on":   func() error { return st.EnableVersioning(ctx) },
		"set a lifecycle rule": func() error { return st.SetLifecycle(ctx, e.prefix+"/", 1, 1) },
		"put outside the prefix": func() error {
			_, err := st.Put(ctx, "elsewhere/x", []byte("x"), sync.PutOptions{})
			return err
		},
	} {
		if err := destroy(); !errors.Is(err, sync.ErrAccessDenied) {
			t.Errorf("%s under the backing-up policy: %v; want access denied", name, err)
		}
	}
	keptVersion(t, owner, deleted)

	proxy.use(printPolicy(t, e.target, "--read-only"))
	dest := filepath.Join(t.TempDir(), "restored")
	run(e.withHome(), 0, "restore", e.target, dest, "-i", e.keyFile)
	assertSameTree(t, e.src, dest)
	run(e, 0, "audit", e.src, e.target, "--catalog", e.catalog, "--deep", "-i", e.keyFile)
	_, refused = proxy.seen()
	checkRefused(t, "restore and audit --deep under --read-only", refused, "s3:ListBucket")
	writeFile(t, filepath.Join(e.src, "new.txt"), []byte("new"))
	if res := e.run(append(syncArgs, "--endpoint", proxy.URL)...); res.code == 0 {
		t.Errorf("sync under --read-only succeeded:\n%s", res.stderr)
	}
	_, refused = proxy.seen()
	checkRefused(t, "sync under --read-only", refused, "s3:ListBucket", "s3:PutObject")

	proxy.use(printPolicy(t, e.target, "--no-delete"))
	if err := os.Remove(filepath.Join(e.src, "sub", "b.txt")); err != nil {
		t.Fatal(err)
	}
	if res := e.run(append(syncArgs, "--delete", "--endpoint", proxy.URL)...); res.code == 0 || !strings.Contains(res.stderr, "access denied") || !strings.Contains(res.stderr, "s3seal policy") {
		t.Errorf("sync --delete under --no-delete: exit %d; want a failure that says access was denied and points to 's3seal policy'\n%s", res.code, res.stderr)
	}
	_, refused = proxy.seen()
	checkRefused(t, "sync --delete under --no-delete", refused, "s3:ListBucket", "s3:DeleteObject")
}

// checkRefused fails the test unless the actions of refused are exactly
// want (in any number). s3:ListBucket refused is HeadBucket's, which names
// no prefix; s3seal then checks the bucket by listing under the prefix.
func checkRefused(t *testing.T, what string, refused []iamRequest, want ...string) {
	t.Helper()
	var got []string
	for _, r := range refused {
		if !slices.Contains(got, r.action) {
			got = append(got, r.action)
		}
		if !slices.Contains(want, r.action) || (r.action == "s3:ListBucket" && r.context != nil) {
			t.Errorf("%s: refused %v", what, r)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s: refused %v; want %v", what, got, want)
	}
}

// keptVersion returns the ID of the newest version of key that is not a
// delete marker, after checking that a delete marker hides it.
func keptVersion(t *testing.T, owner *s3store.Store, key string) string {
	t.Helper()
	var marked bool
	var kept string
	err := owner.Versions(context.Background(), key, func(v sync.Version) error {
		switch {
		case v.Key != key:
		case v.DeleteMarker && v.Latest:
			marked = true
		case !v.DeleteMarker && kept == "":
			kept = v.VersionID
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !marked || kept == "" {
		t.Fatalf("versions of the deleted file's object %s: delete marker %v, kept version %q; want a marker over a kept version", key, marked, kept)
	}
	return kept
}
