package s3store_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"strings"
	gosync "sync"
	"testing"

	"github.com/s3seal/s3seal/sync"
	"github.com/s3seal/s3seal/sync/s3store"
	"github.com/s3seal/s3seal/sync/s3store/s3test"
)

func TestMain(m *testing.M) { os.Exit(s3test.Main(m)) }

// newStore returns a Store for a fresh bucket on the test server.
func newStore(t *testing.T) (*s3store.Store, s3store.Config) {
	t.Helper()
	srv := s3test.Get(t)
	cfg := srv.Config(srv.NewBucket(t))
	return openStore(t, cfg), cfg
}

// openStore returns a Store for cfg or fails the test.
func openStore(t *testing.T, cfg s3store.Config) *s3store.Store {
	t.Helper()
	store, err := s3store.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New(%s) = %v", cfg.Bucket, err)
	}
	return store
}

// randomBytes returns n random bytes.
func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("read random bytes: %v", err)
	}
	return b
}

// md5Hex returns the hex MD5 of b.
func md5Hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

// put uploads body as key or fails the test, and returns the ETag.
func put(t *testing.T, store *s3store.Store, key string, body []byte) string {
	t.Helper()
	written, err := store.Put(context.Background(), key, body, sync.PutOptions{})
	etag := written.ETag
	if err != nil {
		t.Fatalf("Put(%s) = %v", key, err)
	}
	return etag
}

// get downloads key or fails the test, and checks the returned size.
func get(t *testing.T, store *s3store.Store, key string) []byte {
	t.Helper()
	body, obj, err := store.Get(context.Background(), key)
	size := obj.Size
	if err != nil {
		t.Fatalf("Get(%s) = %v", key, err)
	}
	defer body.Close()
	got, err := io.ReadAll(body)
	if err != nil {
		t.Fatalf("Get(%s): read body: %v", key, err)
	}
	if size != int64(len(got)) {
		t.Errorf("Get(%s) size = %d; want the body's length %d", key, size, len(got))
	}
	return got
}

// keys lists prefix or fails the test, and returns the keys in order.
func keys(t *testing.T, store *s3store.Store, prefix string) []string {
	t.Helper()
	var listed []string
	err := store.List(context.Background(), prefix, func(obj sync.Object) error {
		listed = append(listed, obj.Key)
		return nil
	})
	if err != nil {
		t.Fatalf("List(%q) = %v", prefix, err)
	}
	return listed
}

// recorder is an http.RoundTripper that records every request it passes on
// and can rewrite responses.
type recorder struct {
	base    http.RoundTripper
	rewrite func(*http.Response) // optional

	mu       gosync.Mutex
	requests []recordedRequest
}

type recordedRequest struct {
	method string
	query  map[string][]string
	header http.Header
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.requests = append(r.requests, recordedRequest{
		method: req.Method,
		query:  req.URL.Query(),
		header: req.Header.Clone(),
	})
	r.mu.Unlock()
	resp, err := r.base.RoundTrip(req)
	if err == nil && r.rewrite != nil {
		r.rewrite(resp)
	}
	return resp, err
}

// count returns how many recorded requests match.
func (r *recorder) count(match func(recordedRequest) bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, req := range r.requests {
		if match(req) {
			n++
		}
	}
	return n
}

// withRecorder returns cfg sending its requests through a new recorder.
func withRecorder(cfg s3store.Config, rewrite func(*http.Response)) (s3store.Config, *recorder) {
	rec := &recorder{base: http.DefaultTransport, rewrite: rewrite}
	cfg.HTTPClient = &http.Client{Transport: rec}
	return cfg, rec
}

// isListObjectsV2 matches ListObjectsV2 requests.
func isListObjectsV2(req recordedRequest) bool {
	return req.method == http.MethodGet && len(req.query["list-type"]) == 1 && req.query["list-type"][0] == "2"
}

// replaceETag returns a response rewriter that sets the ETag of PUT
// responses to etag.
func replaceETag(etag string) func(*http.Response) {
	return func(resp *http.Response) {
		if resp.Request.Method == http.MethodPut && resp.Header.Get("ETag") != "" {
			resp.Header.Set("ETag", `"`+etag+`"`)
		}
	}
}

// equalBytes reports whether a and b are equal, for readable conditions.
func equalBytes(a, b []byte) bool { return bytes.Equal(a, b) }

// filter returns the recorded requests that match.
func (r *recorder) filter(match func(recordedRequest) bool) []recordedRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []recordedRequest
	for _, req := range r.requests {
		if match(req) {
			out = append(out, req)
		}
	}
	return out
}

// containsAll reports whether s contains every one of subs.
func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
