package s3store_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/s3seal/s3seal/sync"
	"github.com/s3seal/s3seal/sync/s3store/s3test"
)

// TestVersionsOnGateway: on a bucket with versioning enabled, an overwrite
// and a delete keep the old versions, which Versions lists newest first with
// the delete marker, and GetVersion reads back.
func TestVersionsOnGateway(t *testing.T) {
	ctx := context.Background()
	store, _ := newStore(t)
	h, err := store.Settings(ctx, "p/")
	if err != nil || h.Versioned() || h.ObjectLock {
		t.Fatalf("Settings of a new bucket = %+v, %v; want unversioned, no lock", h, err)
	}
	if err := store.EnableVersioning(ctx); err != nil {
		t.Fatal(err)
	}
	if h, err = store.Settings(ctx, "p/"); err != nil || !h.Versioned() {
		t.Fatalf("Settings after EnableVersioning = %+v, %v; want versioned", h, err)
	}
	put(t, store, "p/a", []byte("one"))
	put(t, store, "p/a", []byte("two"))
	if err := store.Delete(ctx, "p/a"); err != nil {
		t.Fatal(err)
	}
	var vs []sync.Version
	if err := store.Versions(ctx, "p/", func(v sync.Version) error { vs = append(vs, v); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(vs) != 3 || !vs[0].DeleteMarker || !vs[0].Latest || vs[1].DeleteMarker || vs[2].DeleteMarker ||
		vs[1].ETag != md5Hex([]byte("two")) || vs[2].ETag != md5Hex([]byte("one")) {
		t.Fatalf("Versions after put, overwrite, delete = %+v; want the marker, then two, then one", vs)
	}
	for i, want := range map[int]string{1: "two", 2: "one"} {
		rc, obj, err := store.GetVersion(ctx, "p/a", vs[i].VersionID)
		if err != nil {
			t.Fatalf("GetVersion(%s) = %v", vs[i].VersionID, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || string(got) != want || obj.ETag != vs[i].ETag {
			t.Errorf("GetVersion(%s) = %q, etag %s, %v; want %q, %s", vs[i].VersionID, got, obj.ETag, err, want, vs[i].ETag)
		}
	}
}

// TestObjectLockOnGateway: on a bucket created with Object Lock, a retained
// version cannot be deleted by its version ID, and its retention can be
// extended.
func TestObjectLockOnGateway(t *testing.T) {
	ctx := context.Background()
	srv := s3test.Get(t)
	cfg := srv.Config(srv.NewLockedBucket(t))
	store := openStore(t, cfg)
	h, err := store.Settings(ctx, "")
	if err != nil || !h.ObjectLock || !h.Versioned() {
		t.Fatalf("Settings of a locked bucket = %+v, %v; want versioned with Object Lock", h, err)
	}
	put(t, store, "k", []byte("locked"))
	var v sync.Version
	if err := store.Versions(ctx, "k", func(x sync.Version) error { v = x; return nil }); err != nil || v.VersionID == "" {
		t.Fatalf("Versions(k) = %+v, %v", v, err)
	}
	until := time.Now().Add(24 * time.Hour)
	if err := store.Retain(ctx, "k", v.VersionID, sync.Retention{Mode: sync.RetentionGovernance, Until: until}); err != nil {
		t.Fatalf("Retain = %v", err)
	}
	if err := store.Retain(ctx, "k", v.VersionID, sync.Retention{Mode: sync.RetentionGovernance, Until: until.Add(24 * time.Hour)}); err != nil {
		t.Fatalf("Retain, extended = %v", err)
	}
	if err := store.DeleteVersion(ctx, "k", v.VersionID); err == nil {
		t.Errorf("DeleteVersion of a retained version succeeded; want it refused")
	}
	rc, _, err := store.GetVersion(ctx, "k", v.VersionID)
	if err != nil {
		t.Fatalf("the retained version is gone: %v", err)
	}
	rc.Close()
}
