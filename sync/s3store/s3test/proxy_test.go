package s3test_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	gosync "sync"
	"testing"
	"time"

	"github.com/s3seal/s3seal/sync"
	"github.com/s3seal/s3seal/sync/s3store"
	"github.com/s3seal/s3seal/sync/s3store/s3test"
)

// proxied returns a store that reaches a new bucket through a new proxy,
// trying each request once, and a store that reaches the bucket directly.
func proxied(t *testing.T) (*s3test.Proxy, *s3store.Store, *s3store.Store) {
	t.Helper()
	srv := s3test.Get(t)
	bucket := srv.NewBucket(t)
	proxy := s3test.StartProxy(t, srv.Endpoint)
	cfg := srv.Config(bucket)
	cfg.Endpoint = proxy.URL
	cfg.MaxAttempts = 1
	through, err := s3store.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	direct, err := s3store.New(context.Background(), srv.Config(bucket))
	if err != nil {
		t.Fatal(err)
	}
	return proxy, through, direct
}

func TestProxyCountsBodyBytesPerOperationAndKey(t *testing.T) {
	proxy, st, _ := proxied(t)
	ctx := context.Background()
	var mu gosync.Mutex
	var totals []int64
	proxy.OnBody(func(r *s3test.Request, total int64) {
		mu.Lock()
		totals = append(totals, total)
		mu.Unlock()
	})
	small := bytes.Repeat([]byte("s"), 1000)
	if _, err := st.Put(ctx, "dir/small", small, sync.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	id, err := st.CreateMultipart(ctx, "dir/large", sync.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	part := bytes.Repeat([]byte("p"), 5<<20)
	p1, err := st.UploadPart(ctx, "dir/large", id, 1, part, sha256.Sum256(part))
	if err != nil {
		t.Fatal(err)
	}
	p2, err := st.UploadPart(ctx, "dir/large", id, 2, small, sha256.Sum256(small))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CompleteMultipart(ctx, "dir/large", id, []sync.Part{p1, p2}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		op   s3test.Op
		key  string
		want int64
	}{
		{s3test.OpPutObject, "dir/small", 1000},
		{s3test.OpUploadPart, "dir/large", 5<<20 + 1000},
		{s3test.OpUploadPart, "dir/small", 0},
		{s3test.OpPutObject, "", 1000},
		{"", "dir/large", 5<<20 + 1000 + proxy.BytesOf(s3test.OpCompleteUpload, "dir/large")},
	}
	for _, test := range tests {
		if got := proxy.BytesOf(test.op, test.key); got != test.want {
			t.Errorf("BytesOf(%q, %q) = %d; want %d", test.op, test.key, got, test.want)
		}
	}
	if got := proxy.BytesOf(s3test.OpCompleteUpload, "dir/large"); got == 0 {
		t.Errorf("BytesOf(CompleteMultipartUpload) = 0; want the size of its XML body")
	}
	if got, want := proxy.Bytes(), proxy.BytesOf("", ""); got != want || got < 5<<20+2000 {
		t.Errorf("Bytes() = %d, BytesOf(\"\", \"\") = %d; want equal and at least %d", got, want, 5<<20+2000)
	}
	for op, want := range map[s3test.Op]int{s3test.OpPutObject: 1, s3test.OpCreateUpload: 1,
		s3test.OpUploadPart: 2, s3test.OpCompleteUpload: 1, s3test.OpListParts: 0} {
		if got := proxy.Requests(op); got != want {
			t.Errorf("Requests(%s) = %d; want %d", op, got, want)
		}
	}
	mu.Lock()
	last := totals[len(totals)-1]
	increasing := true
	for i := 1; i < len(totals); i++ {
		increasing = increasing && totals[i] > totals[i-1]
	}
	mu.Unlock()
	if last != proxy.Bytes() || !increasing {
		t.Errorf("body hook saw totals ending at %d (increasing: %v); want increasing up to %d", last, increasing, proxy.Bytes())
	}
	proxy.ResetCounts()
	if proxy.Bytes() != 0 || proxy.Requests(s3test.OpUploadPart) != 0 {
		t.Errorf("after ResetCounts: %d bytes, %d parts; want 0", proxy.Bytes(), proxy.Requests(s3test.OpUploadPart))
	}
}

// TestProxyFaults checks what the client and the server see of each fault.
func TestProxyFaults(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 256<<10)
	tests := []struct {
		name      string
		fault     s3test.Fault
		wantError bool
		stored    bool // whether the server ends up with the object
	}{
		{"forward", s3test.Fault{}, false, true},
		{"503 SlowDown", s3test.Fault{Status: 503}, true, false},
		{"reset mid-body", s3test.Fault{Reset: true, ResetAfter: 1000}, true, false},
		{"swallowed response", s3test.Fault{Swallow: 502}, true, true},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			proxy, st, direct := proxied(t)
			proxy.SetFault(func(r *s3test.Request) s3test.Fault {
				if r.Op == s3test.OpPutObject {
					return test.fault
				}
				return s3test.Fault{}
			})
			ctx := context.Background()
			_, err := st.Put(ctx, "obj", body, sync.PutOptions{})
			if (err != nil) != test.wantError {
				t.Errorf("Put through the proxy = %v; want error: %v", err, test.wantError)
			}
			_, herr := direct.Head(ctx, "obj")
			if stored := herr == nil; stored != test.stored || (herr != nil && !errors.Is(herr, sync.ErrNotFound)) {
				t.Errorf("HEAD on the server = %v; want stored: %v", herr, test.stored)
			}
			if test.fault.Reset {
				if got := proxy.Bytes(); got < test.fault.ResetAfter || got >= int64(len(body)) {
					t.Errorf("proxy received %d bytes before the reset; want %d to %d", got, test.fault.ResetAfter, len(body)-1)
				}
			} else if got := proxy.Bytes(); got != int64(len(body)) {
				t.Errorf("proxy received %d bytes; want the whole body, %d", got, len(body))
			}
		})
	}
}

func TestProxyStallEndsWhenTheClientGivesUp(t *testing.T) {
	proxy, st, _ := proxied(t)
	arrived := make(chan struct{})
	var once gosync.Once
	proxy.SetFault(func(*s3test.Request) s3test.Fault {
		once.Do(func() { close(arrived) })
		return s3test.Fault{Stall: time.Hour}
	})
	finished := make(chan struct{})
	proxy.OnDone(func(*s3test.Request) { close(finished) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	result := make(chan error, 1)
	go func() {
		_, err := st.Head(ctx, "obj")
		result <- err
	}()
	select {
	case <-arrived:
	case err := <-result:
		t.Fatalf("HEAD through a stalled proxy = %v before the proxy saw it", err)
	}
	cancel()
	if err := <-result; !errors.Is(err, context.Canceled) {
		t.Errorf("HEAD through a stalled proxy = %v; want the client's cancellation", err)
	}
	<-finished // the stall ends with the client, not an hour later
	if n := proxy.InFlight(); n != 0 {
		t.Errorf("InFlight() = %d once the stalled request is done; want 0", n)
	}
	if err := proxy.Close(); err != nil {
		t.Errorf("Close after a stall = %v", err)
	}
}

// TestProxyWaitIdle checks that WaitIdle does not return while a request is
// held, and returns once the request is answered and its connection closed.
func TestProxyWaitIdle(t *testing.T) {
	srv := s3test.Get(t)
	bucket := srv.NewBucket(t)
	proxy := s3test.StartProxy(t, srv.Endpoint)
	cfg := srv.Config(bucket)
	cfg.Endpoint, cfg.MaxAttempts = proxy.URL, 1
	// Without keep-alives the proxy closes each connection once it has
	// answered: no idle connection of this live client keeps WaitIdle waiting.
	cfg.HTTPClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	st, err := s3store.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	arrived, release := make(chan struct{}), make(chan struct{})
	var once gosync.Once
	proxy.SetFault(func(*s3test.Request) s3test.Fault {
		once.Do(func() { close(arrived) })
		return s3test.Fault{Hold: release}
	})
	put := make(chan error, 1)
	go func() {
		_, err := st.Put(context.Background(), "held", []byte("body"), sync.PutOptions{})
		put <- err
	}()
	select {
	case <-arrived:
	case err := <-put:
		t.Fatalf("Put = %v before the proxy held it", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	waited := make(chan error, 1)
	go func() { waited <- proxy.WaitIdle(ctx) }()
	cancel()
	if err := <-waited; !errors.Is(err, context.Canceled) {
		t.Errorf("WaitIdle while a request is held = %v; want the cancellation", err)
	}
	proxy.SetFault(nil)
	close(release)
	if err := <-put; err != nil {
		t.Fatalf("Put once released = %v", err)
	}
	if err := proxy.WaitIdle(context.Background()); err != nil {
		t.Fatalf("WaitIdle once the request was answered = %v", err)
	}
	if got := proxy.Faults()["hold"]; got != 1 {
		t.Errorf("Faults()[hold] = %d; want 1", got)
	}
}

func TestProxyDownRefusesConnections(t *testing.T) {
	proxy, st, _ := proxied(t)
	ctx := context.Background()
	if err := proxy.SetDown(true); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(ctx, "obj", []byte("x"), sync.PutOptions{}); !errors.Is(err, sync.ErrUnreachable) {
		t.Errorf("Put while down = %v; want ErrUnreachable", err)
	}
	if err := proxy.SetDown(false); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(ctx, "obj", []byte("x"), sync.PutOptions{}); err != nil {
		t.Errorf("Put after SetDown(false) = %v; want success", err)
	}
}

// TestProxyCapturesBodiesAndRewritesAnswers checks the two tools of the
// resume tests: captured bodies of the chosen operations, cut-off ones as
// far as they arrived, and an answer rewritten on its way to the client.
func TestProxyCapturesBodiesAndRewritesAnswers(t *testing.T) {
	proxy, st, _ := proxied(t)
	ctx := context.Background()
	proxy.Capture(s3test.OpUploadPart)
	id, err := st.CreateMultipart(ctx, "k", sync.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	whole := bytes.Repeat([]byte("w"), 5<<20)
	if _, err := st.UploadPart(ctx, "k", id, 1, whole, sha256.Sum256(whole)); err != nil {
		t.Fatal(err)
	}
	proxy.SetFault(func(r *s3test.Request) s3test.Fault {
		if r.Op == s3test.OpUploadPart {
			return s3test.Fault{Reset: true, ResetAfter: 1 << 20}
		}
		return s3test.Fault{}
	})
	cut := bytes.Repeat([]byte("c"), 5<<20)
	st.UploadPart(ctx, "k", id, 2, cut, sha256.Sum256(cut)) // retried, reset each time
	proxy.SetFault(func(r *s3test.Request) s3test.Fault {
		if r.Op != s3test.OpListParts {
			return s3test.Fault{}
		}
		return s3test.Fault{Rewrite: func(body []byte) []byte {
			return bytes.ReplaceAll(body, []byte("<PartNumber>1</PartNumber>"), []byte("<PartNumber>7</PartNumber>"))
		}}
	})
	parts, err := st.ListParts(ctx, "k", id)
	if err != nil || len(parts) != 1 || parts[0].Number != 7 {
		t.Errorf("ListParts through the rewrite = %v, %v; want part 7 only", parts, err)
	}
	got := proxy.Captured()
	if len(got) < 2 || !bytes.Equal(got[0].Body, whole) || got[0].Request.Part != 1 || got[0].Request.UploadID != id {
		t.Fatalf("captured %d transmissions; want part 1 whole first", len(got))
	}
	for _, tr := range got[1:] {
		if tr.Request.Part != 2 || len(tr.Body) < 1<<20 || len(tr.Body) >= len(cut) || !bytes.Equal(tr.Body, cut[:len(tr.Body)]) {
			t.Errorf("cut-off transmission of part %d: %d bytes; want a prefix of part 2 of at least 1 MiB", tr.Request.Part, len(tr.Body))
		}
	}
}
