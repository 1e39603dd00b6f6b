package s3store_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/s3seal/s3seal/sync"
	"github.com/s3seal/s3seal/sync/s3store"
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

// TestSettingsRequests: a bucket never versioned answers Settings with one
// GetBucketVersioning (a sync asks on every run); once versioning was
// enabled and then suspended, Settings says Suspended.
func TestSettingsRequests(t *testing.T) {
	ctx := context.Background()
	srv := s3test.Get(t)
	proxy := s3test.StartProxy(t, srv.Endpoint)
	cfg := srv.Config(srv.NewBucket(t))
	cfg.Endpoint = proxy.URL
	store := openStore(t, cfg)
	if h, err := store.Settings(ctx, "p/"); err != nil || h != (sync.HistorySettings{}) {
		t.Fatalf("Settings of a new bucket = %+v, %v; want all zero", h, err)
	}
	if all, versioning := proxy.Requests(""), proxy.Requests(s3test.OpGetVersioning); all != 1 || versioning != 1 {
		t.Errorf("Settings of a bucket never versioned sent %d requests, %d GetBucketVersioning; want that one only", all, versioning)
	}
	if err := store.EnableVersioning(ctx); err != nil {
		t.Fatal(err)
	}
	if err := store.SuspendVersioning(ctx); err != nil {
		t.Fatal(err)
	}
	if h, err := store.Settings(ctx, "p/"); err != nil || h.Versioning != "Suspended" || h.Versioned() {
		t.Errorf("Settings after SuspendVersioning = %+v, %v; want Suspended, not versioned", h, err)
	}
}

// TestLifecycleNotImplemented: the gateway has no lifecycle rules, and
// SetLifecycle says so with sync.ErrNotImplemented, which callers turn into
// a warning.
func TestLifecycleNotImplemented(t *testing.T) {
	store, _ := newStore(t)
	if err := store.EnableVersioning(context.Background()); err != nil {
		t.Fatal(err)
	}
	err := store.SetLifecycle(context.Background(), "p/", 30, 7)
	if !errors.Is(err, sync.ErrNotImplemented) {
		t.Errorf("SetLifecycle on the gateway = %v; want an error matching sync.ErrNotImplemented", err)
	}
}

// TestWithRule: s3seal's rule for a prefix replaces its own earlier rule
// and keeps the owner's other rules.
func TestWithRule(t *testing.T) {
	rule := func(id string, days int32) types.LifecycleRule {
		return types.LifecycleRule{ID: aws.String(id), NoncurrentVersionExpiration: &types.NoncurrentVersionExpiration{NoncurrentDays: aws.Int32(days)}}
	}
	describe := func(rules []types.LifecycleRule) string {
		var s []string
		for _, r := range rules {
			s = append(s, fmt.Sprintf("%s=%d", aws.ToString(r.ID), aws.ToInt32(r.NoncurrentVersionExpiration.NoncurrentDays)))
		}
		return strings.Join(s, " ")
	}
	for _, tc := range []struct {
		rules []types.LifecycleRule
		want  string
	}{
		{nil, "s3seal p/=90"},
		{[]types.LifecycleRule{rule("logs", 1)}, "logs=1 s3seal p/=90"},
		{[]types.LifecycleRule{rule("s3seal p/", 30), rule("logs", 1)}, "logs=1 s3seal p/=90"},
		{[]types.LifecycleRule{rule("s3seal q/", 30)}, "s3seal q/=30 s3seal p/=90"},
	} {
		if got := describe(s3store.WithRule(tc.rules, rule("s3seal p/", 90))); got != tc.want {
			t.Errorf("withRule(%s) = %s; want %s", describe(tc.rules), got, tc.want)
		}
	}
}
