package s3test_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	gosync "sync"
	"testing"

	"github.com/s3seal/s3seal/sync"
	"github.com/s3seal/s3seal/sync/s3store"
	"github.com/s3seal/s3seal/sync/s3store/s3test"
)

// TestProxyTruncatesResponses cuts a GetObject response halfway: the client
// gets the status and half of the body, then an error, never a short body
// that reads as complete.
func TestProxyTruncatesResponses(t *testing.T) {
	proxy, st, direct := proxied(t)
	ctx := context.Background()
	body := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	if _, err := direct.Put(ctx, "obj", body, sync.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	proxy.SetFault(s3test.Nth(s3test.OpGetObject, 1, s3test.Fault{Truncate: true, TruncateAfter: -1}))
	rc, obj, err := st.Get(ctx, "obj")
	size := obj.Size
	if err != nil {
		t.Fatalf("Get through a truncating proxy = %v; want the response to start", err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err == nil || int64(len(got)) != size/2 || !bytes.Equal(got, body[:len(got)]) {
		t.Errorf("read %d of %d bytes, error %v; want the first %d bytes and an error", len(got), size, err, size/2)
	}
	if n := proxy.Faults()["truncate"]; n != 1 {
		t.Errorf("Faults()[truncate] = %d; want 1", n)
	}
	// The second GET is not faulted.
	rc, _, err = st.Get(ctx, "obj")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if got, err := io.ReadAll(rc); err != nil || !bytes.Equal(got, body) {
		t.Errorf("second Get: %d bytes, %v; want the whole object", len(got), err)
	}
}

// TestProxySlowDownDocument checks that an injected 503 reads like S3's:
// the client sees the SlowDown code, and the store's retryer tries again.
func TestProxySlowDownDocument(t *testing.T) {
	proxy, st, _ := proxied(t) // one attempt per request
	ctx := context.Background()
	proxy.SetFault(s3test.Nth(s3test.OpPutObject, 1, s3test.Fault{Status: 503}))
	_, err := st.Put(ctx, "obj", []byte("x"), sync.PutOptions{})
	if err == nil || !strings.Contains(err.Error(), "SlowDown") || !strings.Contains(err.Error(), "503") {
		t.Errorf("Put answered 503 = %v; want a 503 SlowDown error", err)
	}
	if got := proxy.Faults(); got["SlowDown"] != 1 || len(got) != 1 {
		t.Errorf("Faults() = %v; want one SlowDown", got)
	}
}

// TestRandomFaultsAreRetried sends 300 small PutObjects through 5% 500s,
// 2% 503 SlowDown and 2% mid-body resets with the store's default retryer:
// every Put succeeds, and every faulted request costs exactly one more.
func TestRandomFaultsAreRetried(t *testing.T) {
	srv := s3test.Get(t)
	bucket := srv.NewBucket(t)
	proxy := s3test.StartProxy(t, srv.Endpoint)
	cfg := srv.Config(bucket)
	cfg.Endpoint = proxy.URL // default MaxAttempts
	st, err := s3store.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	proxy.SetFault(s3test.RandomFaults(7, s3test.Rates{InternalError: 0.05, SlowDown: 0.02, Reset: 0.02}))
	const puts = 300
	body := bytes.Repeat([]byte("b"), 64<<10)
	var wg gosync.WaitGroup
	errs := make(chan error, puts)
	sem := make(chan struct{}, 32)
	for i := range puts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if _, err := st.Put(context.Background(), fmt.Sprintf("k%03d", i), body, sync.PutOptions{}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Put under random faults: %v", err)
	}
	faults := proxy.Faults()
	faulted := faults["InternalError"] + faults["SlowDown"] + faults["reset"]
	if faults["InternalError"] == 0 || faults["SlowDown"] == 0 || faults["reset"] == 0 {
		t.Errorf("Faults() = %v; want some of each kind in %d requests", faults, proxy.Requests(""))
	}
	if got := proxy.Requests(s3test.OpPutObject); got != puts+faulted {
		t.Errorf("%d PutObject requests for %d Puts and %d faults; want one retry per fault", got, puts, faulted)
	}
	t.Logf("%d Puts, %d requests, faults %v", puts, proxy.Requests(""), faults)
	var listed int
	err = st.List(context.Background(), "", func(sync.Object) error { listed++; return nil })
	if err != nil || listed != puts {
		t.Errorf("List after the Puts: %d objects, %v; want %d", listed, err, puts)
	}
}

// TestNthFaultsOneRequest checks Nth: only the chosen request is faulted.
func TestNthFaultsOneRequest(t *testing.T) {
	proxy, st, _ := proxied(t)
	ctx := context.Background()
	proxy.SetFault(s3test.Nth(s3test.OpPutObject, 2, s3test.Fault{Status: 500}))
	var results []bool
	for i := range 3 {
		_, err := st.Put(ctx, fmt.Sprint("k", i), []byte("x"), sync.PutOptions{})
		results = append(results, err == nil)
	}
	if results[0] != true || results[1] != false || results[2] != true {
		t.Errorf("Puts succeeded: %v; want [true false true]", results)
	}
}

// TestLackingOperations plays a server without ListMultipartUploads (501)
// and ListParts (405), with the SDK's retries on: each answer matches
// sync.ErrNotImplemented after one request, and the other operations go
// through.
func TestLackingOperations(t *testing.T) {
	proxy, through, _ := proxied(t)
	srv := s3test.Get(t)
	cfg := srv.Config(through.Bucket())
	cfg.Endpoint = proxy.URL // and the default attempts
	st, err := s3store.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	lackUploads, lackParts := s3test.Lacking(501, s3test.OpListUploads), s3test.Lacking(405, s3test.OpListParts)
	proxy.SetFault(func(r *s3test.Request) s3test.Fault {
		if f := lackUploads(r); f.Status != 0 {
			return f
		}
		return lackParts(r)
	})
	id, err := st.CreateMultipart(ctx, "big", sync.PutOptions{})
	if err != nil {
		t.Fatalf("CreateMultipart through a server lacking the listings = %v", err)
	}
	if _, err := st.Uploads(ctx, ""); !errors.Is(err, sync.ErrNotImplemented) || !strings.Contains(err.Error(), "HTTP 501 NotImplemented") {
		t.Errorf("Uploads = %v; want ErrNotImplemented with HTTP 501 NotImplemented", err)
	}
	if _, err := st.ListParts(ctx, "big", id); !errors.Is(err, sync.ErrNotImplemented) || !strings.Contains(err.Error(), "HTTP 405 MethodNotAllowed") {
		t.Errorf("ListParts = %v; want ErrNotImplemented with HTTP 405 MethodNotAllowed", err)
	}
	if err := st.AbortMultipart(ctx, "big", id); err != nil {
		t.Errorf("AbortMultipart = %v", err)
	}
	for _, op := range []s3test.Op{s3test.OpListUploads, s3test.OpListParts} {
		if n := proxy.Requests(op); n != 1 {
			t.Errorf("%d %s requests; want 1: the answer is final, not retried", n, op)
		}
	}
}

// TestRefuseStorageClass refuses one storage class, as MinIO refuses
// STANDARD_IA: uploads asking for it match sync.ErrInvalidStorageClass,
// others are stored.
func TestRefuseStorageClass(t *testing.T) {
	proxy, st, direct := proxied(t)
	proxy.SetFault(s3test.RefuseStorageClass("STANDARD_IA"))
	ctx := context.Background()
	ia := sync.PutOptions{StorageClass: "STANDARD_IA"}
	if _, err := st.Put(ctx, "ia", []byte("x"), ia); !errors.Is(err, sync.ErrInvalidStorageClass) {
		t.Errorf("Put with STANDARD_IA = %v; want ErrInvalidStorageClass", err)
	}
	if _, err := st.CreateMultipart(ctx, "ia-big", ia); !errors.Is(err, sync.ErrInvalidStorageClass) {
		t.Errorf("CreateMultipart with STANDARD_IA = %v; want ErrInvalidStorageClass", err)
	}
	for _, class := range []string{"", "REDUCED_REDUNDANCY"} {
		if _, err := st.Put(ctx, "other"+class, []byte("x"), sync.PutOptions{StorageClass: class}); err != nil {
			t.Errorf("Put with storage class %q = %v; want it stored", class, err)
		}
	}
	if _, err := direct.Head(ctx, "ia"); !errors.Is(err, sync.ErrNotFound) {
		t.Errorf("HEAD of the refused object = %v; want ErrNotFound", err)
	}
	if n := proxy.Faults()["InvalidStorageClass"]; n != 2 {
		t.Errorf("%d requests refused; want 2", n)
	}
}
