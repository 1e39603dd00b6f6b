package s3store_test

import (
	"context"
	"errors"
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
