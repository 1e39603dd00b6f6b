package s3store_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/s3seal/s3seal/sync/s3store"
)

// TestPutCorrectsClockSkew puts to a server whose clock runs an hour ahead
// and that rejects signatures more than 15 minutes off, as S3 and MinIO
// do: both PutObject paths must learn the server's time from the rejection
// and succeed on the retry, and the direct one must keep the offset.
func TestPutCorrectsClockSkew(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"direct", "sdk"} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			var rejected atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				now := time.Now().Add(time.Hour)
				w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
				signed, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
				if err != nil || now.Sub(signed).Abs() > 15*time.Minute {
					rejected.Add(1)
					w.WriteHeader(http.StatusForbidden)
					io.WriteString(w, `<Error><Code>RequestTimeTooSkewed</Code><Message>skewed</Message></Error>`)
					return
				}
				body, _ := io.ReadAll(r.Body)
				sum := md5.Sum(body)
				w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
			}))
			t.Cleanup(srv.Close)
			store := openStore(t, s3store.Config{Bucket: "b", Endpoint: srv.URL, Region: "us-east-1",
				AccessKey: "k", SecretKey: "s", MaxAttempts: 3})
			if path == "sdk" {
				s3store.UseSDKPut(store)
			}
			for _, key := range []string{"first", "second"} {
				if _, err := store.Put(context.Background(), key, []byte(key), s3store.PutOptions{}); err != nil {
					t.Fatalf("Put(%s) to a server an hour ahead = %v", key, err)
				}
			}
			if n := rejected.Load(); n != 1 {
				t.Errorf("the server rejected %d requests as skewed; want 1 (the first; later ones signed with its clock)", n)
			}
		})
	}
}

// TestPutBodyNotReadAfterReturn has the server answer before it reads the
// body; the caller then overwrites its buffer, as the upload pool does.
// Under -race, a transport still reading the buffer would be reported.
func TestPutBodyNotReadAfterReturn(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"direct", "sdk"} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Connection", "close")
				w.WriteHeader(http.StatusForbidden)
				io.WriteString(w, `<Error><Code>AccessDenied</Code></Error>`)
				time.Sleep(50 * time.Millisecond)
			}))
			t.Cleanup(srv.Close)
			store := openStore(t, s3store.Config{Bucket: "b", Endpoint: srv.URL, Region: "us-east-1",
				AccessKey: "k", SecretKey: "s", MaxAttempts: 1, BandwidthLimit: 4 << 20})
			if path == "sdk" {
				s3store.UseSDKPut(store)
			}
			buf := make([]byte, 8<<20)
			if _, err := store.Put(context.Background(), "key", buf, s3store.PutOptions{}); err == nil {
				t.Fatal("Put to a server that denies it succeeded")
			}
			for i := range buf {
				buf[i] = 1
			}
			time.Sleep(200 * time.Millisecond) // let a stray read happen, if any
		})
	}
}
