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

	"github.com/s3seal/s3seal/sync"
	"github.com/s3seal/s3seal/sync/s3store"
)

// TestPutCorrectsClockSkew puts to a server whose clock runs an hour ahead
// and that rejects signatures more than 15 minutes off, as S3 and MinIO
// do: the SDK's PutObject must learn the server's time from the rejection,
// succeed on the retry and keep the offset for later requests.
func TestPutCorrectsClockSkew(t *testing.T) {
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
	for _, key := range []string{"first", "second"} {
		if _, err := store.Put(context.Background(), key, []byte(key), sync.PutOptions{}); err != nil {
			t.Fatalf("Put(%s) to a server an hour ahead = %v", key, err)
		}
	}
	if n := rejected.Load(); n != 1 {
		t.Errorf("the server rejected %d requests as skewed; want 1 (the first; later ones signed with its clock)", n)
	}
}
