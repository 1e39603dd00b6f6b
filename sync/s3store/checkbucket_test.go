package s3store_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/s3seal/s3seal/sync"
	"github.com/s3seal/s3seal/sync/s3store"
)

// TestCheckBucketFailsFast checks that the first request of a run gives up
// on the first refused connection (retrying a dead endpoint ten times with
// backoff took two minutes), while a server that answers with an error
// that may pass is still asked again.
func TestCheckBucketFailsFast(t *testing.T) {
	t.Parallel()
	closed := s3store.Config{Bucket: "any-bucket", Endpoint: "http://127.0.0.1:1", Region: "us-east-1",
		AccessKey: "key", SecretKey: "secret", MaxAttempts: 10}
	err := openStore(t, closed).CheckBucket(context.Background())
	if !errors.Is(err, sync.ErrUnreachable) {
		t.Fatalf("CheckBucket on a closed port = %v; want ErrUnreachable", err)
	}
	var detailed interface{ Detail() string }
	if !errors.As(err, &detailed) || strings.Contains(detailed.Detail(), "exceeded maximum number of attempts") {
		t.Errorf("CheckBucket on a closed port retried: %v", detailed.Detail())
	}

	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(srv.Close)
	flaky := s3store.Config{Bucket: "any-bucket", Endpoint: srv.URL, Region: "us-east-1",
		AccessKey: "key", SecretKey: "secret", MaxAttempts: 10}
	if err := openStore(t, flaky).CheckBucket(context.Background()); err != nil {
		t.Errorf("CheckBucket after one 503 = %v; want success on the retry", err)
	}
	if n := requests.Load(); n != 2 {
		t.Errorf("CheckBucket sent %d requests; want 2 (a 503, then the retry)", n)
	}
}

// TestCheckBucketUnderPrefix checks that a credential allowed to list only
// under the target's prefix, as IAM's s3:prefix condition allows (and so
// refused HeadBucket, which names no prefix), passes CheckBucket when the
// store knows the prefix, and is denied when it does not.
func TestCheckBucketUnderPrefix(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Query().Get("prefix") != "backup/" {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusForbidden)
			if r.Method != http.MethodHead {
				io.WriteString(w, `<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`)
			}
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		io.WriteString(w, `<ListBucketResult><Name>any-bucket</Name><Prefix>backup/</Prefix><KeyCount>0</KeyCount><MaxKeys>1</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>`)
	}))
	t.Cleanup(srv.Close)
	cfg := s3store.Config{Bucket: "any-bucket", Endpoint: srv.URL, Region: "us-east-1",
		AccessKey: "key", SecretKey: "secret", MaxAttempts: 1}
	if err := openStore(t, cfg).CheckBucket(context.Background()); !errors.Is(err, sync.ErrAccessDenied) {
		t.Errorf("CheckBucket without the prefix = %v; want ErrAccessDenied", err)
	}
	cfg.Prefix = "backup"
	if err := openStore(t, cfg).CheckBucket(context.Background()); err != nil {
		t.Errorf("CheckBucket with Prefix %q = %v; want nil: listing under it is allowed", cfg.Prefix, err)
	}
}
