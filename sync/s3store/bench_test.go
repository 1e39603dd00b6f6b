package s3store_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/s3seal/s3seal/sync"
	"github.com/s3seal/s3seal/sync/s3store"
)

// BenchmarkPutClientCost measures the client's cost of one small PutObject:
// the server is an in-process handler that reads the body and answers with
// its MD5, so nearly all of the time is the SDK's request building,
// signing and response handling, and net/http on loopback.
func BenchmarkPutClientCost(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		sum := md5.Sum(body)
		w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
	}))
	b.Cleanup(srv.Close)
	store, err := s3store.New(context.Background(), s3store.Config{Bucket: "bench", Endpoint: srv.URL,
		Region: "us-east-1", AccessKey: "key", SecretKey: "secret"})
	if err != nil {
		b.Fatal(err)
	}
	body := make([]byte, 8<<10)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := store.Put(context.Background(), "dir/file", body, sync.PutOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
