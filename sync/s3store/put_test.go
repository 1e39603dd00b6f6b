package s3store_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/s3seal/s3seal/sync"
	"github.com/s3seal/s3seal/sync/s3store"
	"github.com/s3seal/s3seal/sync/s3store/s3test"
)

// awkwardKeys need escaping in a URL path, and some of them in the SigV4
// canonical request too. (Keys ending in "/" or with "//", "./" or "../"
// are left out: the gateway's posix backend stores them as file paths.)
var awkwardKeys = []string{
	"plain",
	"with space/and+plus",
	"per%cent/q?uery#hash",
	"semi;colon=equals&amp",
	"tilde~_-.dots",
	"unicode/Grüße/日本語",
	"quote\"apos'star*paren()",
	"brackets[]{}|\\^`",
}

// TestPutAwkwardKeys puts objects under keys with characters that need
// escaping and reads them back by key and by listing.
func TestPutAwkwardKeys(t *testing.T) {
	t.Parallel()
	store, _ := newStore(t)
	for _, key := range awkwardKeys {
		body := []byte("body of " + key)
		if etag := put(t, store, key, body); etag != md5Hex(body) {
			t.Errorf("Put(%q) ETag = %q; want %q", key, etag, md5Hex(body))
		}
		if got := get(t, store, key); !equalBytes(got, body) {
			t.Errorf("Get(%q) = %q; want %q", key, got, body)
		}
	}
	var listed []string
	if err := store.List(context.Background(), "", func(o sync.Object) error {
		listed = append(listed, o.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(awkwardKeys)
	slices.Sort(want)
	if !slices.Equal(listed, want) {
		t.Errorf("List = %q; want %q", listed, want)
	}
}

// TestPutSendsStorageClassAndNoMetadata checks the headers of a
// PutObject: the storage class asked for, the body's SHA-256 as the signed
// payload hash, and no user
// metadata.
func TestPutSendsStorageClassAndNoMetadata(t *testing.T) {
	t.Parallel()
	srv := s3test.Get(t)
	cfg, rec := withRecorder(srv.Config(srv.NewBucket(t)), nil)
	store := openStore(t, cfg)
	if _, err := store.Put(context.Background(), "k", []byte("x"), sync.PutOptions{StorageClass: "STANDARD"}); err != nil {
		t.Fatal(err)
	}
	puts := rec.filter(func(r recordedRequest) bool { return r.method == http.MethodPut })
	if len(puts) != 1 {
		t.Fatalf("recorded %d PUT requests; want 1", len(puts))
	}
	h := puts[0].header
	if got := h.Get("X-Amz-Storage-Class"); got != "STANDARD" {
		t.Errorf("x-amz-storage-class = %q; want STANDARD", got)
	}
	if auth := h.Get("Authorization"); !containsAll(auth, "x-amz-content-sha256") {
		t.Errorf("Authorization %q does not sign x-amz-content-sha256", auth)
	}
	if got, want := h.Get("X-Amz-Content-Sha256"), sha256.Sum256([]byte("x")); got != hex.EncodeToString(want[:]) {
		t.Errorf("x-amz-content-sha256 = %q; want the body's SHA-256 %x", got, want)
	}
	if got := h.Get("Content-MD5"); got != "" {
		t.Errorf("Content-MD5 = %q; want none (the signed SHA-256 does its work)", got)
	}
	for name := range h {
		if len(name) > len("X-Amz-Meta-") && http.CanonicalHeaderKey(name[:len("X-Amz-Meta-")]) == "X-Amz-Meta-" {
			t.Errorf("PUT carries user metadata header %s", name)
		}
	}
}

// TestPutErrors checks how PutObject's failures classify.
func TestPutErrors(t *testing.T) {
	t.Parallel()
	srv := s3test.Get(t)
	ctx := context.Background()

	missing := srv.Config("no-such-bucket-" + srv.NewBucket(t))
	if _, err := openStore(t, missing).Put(ctx, "k", []byte("x"), sync.PutOptions{}); !errors.Is(err, sync.ErrNoSuchBucket) {
		t.Errorf("Put into a missing bucket = %v; want ErrNoSuchBucket", err)
	}

	closed := s3store.Config{Bucket: "any-bucket", Endpoint: "http://127.0.0.1:1", Region: "us-east-1",
		AccessKey: "key", SecretKey: "secret", MaxAttempts: 2}
	_, err := openStore(t, closed).Put(ctx, "k", []byte("x"), sync.PutOptions{})
	if !errors.Is(err, sync.ErrUnreachable) {
		t.Errorf("Put to a closed port = %v; want ErrUnreachable", err)
	}
	var detailed interface{ Detail() string }
	if !errors.As(err, &detailed) || !containsAll(detailed.Detail(), "PutObject", "exceeded maximum number of attempts, 2") {
		t.Errorf("Put to a closed port = %q; want the operation and the attempts named in its detail", err)
	}
	if err != nil && !containsAll(err.Error(), "put s3://any-bucket/k: endpoint unreachable: dial tcp 127.0.0.1:1") || containsAll(err.Error(), "operation error") {
		t.Errorf("Put to a closed port = %q; want the operation and the connection error, without the SDK's chain", err)
	}
}
