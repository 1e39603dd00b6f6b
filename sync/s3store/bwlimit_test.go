package s3store

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	gosync "sync"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// TestLimitBandwidthConfiguresTheRate checks the token bucket behind
// --bwlimit: the rate asked for, a burst of 32 KiB (or one second's worth
// below 32 KiB/s), on top of the client's own transport, which stays as it
// was.
func TestLimitBandwidthConfiguresTheRate(t *testing.T) {
	base := &http.Transport{}
	for _, test := range []struct {
		bytesPerSecond int64
		burst          int
	}{
		{1 << 20, 32 << 10},
		{10 << 20, 32 << 10},
		{1000, 1000},
	} {
		c := &http.Client{Transport: base}
		limited := limitBandwidth(c, test.bytesPerSecond)
		tr, ok := limited.Transport.(*limitedTransport)
		if !ok || tr.base != base || c.Transport != base {
			t.Fatalf("limitBandwidth(%d): transport %T on %v, original client's now %v; want a limitedTransport on the original one, left in place",
				test.bytesPerSecond, limited.Transport, tr, c.Transport)
		}
		lim, ok := tr.limiter.(*rate.Limiter)
		if !ok || lim.Limit() != rate.Limit(test.bytesPerSecond) || lim.Burst() != test.burst {
			t.Errorf("limitBandwidth(%d): limiter %v; want a rate.Limiter of %d bytes/s, burst %d",
				test.bytesPerSecond, tr.limiter, test.bytesPerSecond, test.burst)
		}
	}
}

// TestNewLimitsTheStoresClient checks that Config.BandwidthLimit reaches
// the S3 client's HTTP client.
func TestNewLimitsTheStoresClient(t *testing.T) {
	store, err := New(context.Background(), Config{Bucket: "b", Endpoint: "http://127.0.0.1:1", Region: "us-east-1",
		AccessKey: "k", SecretKey: "s", BandwidthLimit: 3 << 20})
	if err != nil {
		t.Fatal(err)
	}
	c, ok := store.client.Options().HTTPClient.(*http.Client)
	if !ok {
		t.Fatalf("the S3 client's HTTP client is a %T; want an *http.Client", store.client.Options().HTTPClient)
	}
	tr, ok := c.Transport.(*limitedTransport)
	if !ok {
		t.Fatalf("with BandwidthLimit the HTTP client's transport is a %T; want a limitedTransport", c.Transport)
	}
	if lim := tr.limiter.(*rate.Limiter); lim.Limit() != 3<<20 {
		t.Errorf("with BandwidthLimit 3 MiB/s the limiter's rate is %v", lim.Limit())
	}
}

// virtualBucket is a rate.Limiter on a clock of its own: each WaitN takes
// its tokens at the current virtual time and moves the clock on to when
// the wait would end, so a test sees the pacing without waiting for it.
type virtualBucket struct {
	limiter *rate.Limiter

	mu      gosync.Mutex
	start   time.Time
	now     time.Time
	charged int64
}

func newVirtualBucket(bytesPerSecond int64, burst int) *virtualBucket {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	limiter := rate.NewLimiter(rate.Limit(bytesPerSecond), burst) // full, as in limitBandwidth
	return &virtualBucket{limiter: limiter, start: start, now: start}
}

func (b *virtualBucket) Burst() int { return b.limiter.Burst() }

func (b *virtualBucket) WaitN(ctx context.Context, n int) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.limiter.ReserveN(b.now, n)
	if !r.OK() {
		return fmt.Errorf("take %d tokens from a bucket of %d", n, b.limiter.Burst())
	}
	b.now = b.now.Add(r.DelayFrom(b.now))
	b.charged += int64(n)
	return nil
}

// elapsed returns the virtual time the waits took, and the bytes charged.
func (b *virtualBucket) elapsed() (time.Duration, int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.now.Sub(b.start), b.charged
}

// sink is a RoundTripper that reads each request body to its end, as a
// server would, in reads of up to 1 MiB, and answers 200.
type sink struct {
	mu       gosync.Mutex
	received map[string]int64
}

func (s *sink) RoundTrip(req *http.Request) (*http.Response, error) {
	var n int64
	if req.Body != nil {
		buf := make([]byte, 1<<20)
		for {
			m, err := req.Body.Read(buf)
			n += int64(m)
			if err == io.EOF {
				break
			} else if err != nil {
				return nil, err
			}
		}
		req.Body.Close()
	}
	s.mu.Lock()
	s.received[req.URL.Path] += n
	s.mu.Unlock()
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: req}, nil
}

// TestLimitedBodiesArePacedAtTheRate sends 64 MiB in two concurrent
// request bodies through a limitedTransport whose bucket (1 MiB/s, burst
// 32 KiB, as --bwlimit 1M makes) runs on a virtual clock: every byte the
// server reads is charged once, in takes no larger than the burst, and
// the waits add up to the 64 MiB less the burst, at 1 MiB/s. A GET, which
// has no body, takes nothing.
func TestLimitedBodiesArePacedAtTheRate(t *testing.T) {
	const rateLimit, burst = 1 << 20, 32 << 10
	bucket := newVirtualBucket(rateLimit, burst)
	server := &sink{received: map[string]int64{}}
	client := &http.Client{Transport: &limitedTransport{base: server, limiter: bucket}}
	sizes := map[string]int64{"/part-1": 40 << 20, "/part-2": 24<<20 + 12345}
	var total int64
	var wg gosync.WaitGroup
	errs := make(chan error, len(sizes)+1)
	for path, size := range sizes {
		total += size
		wg.Go(func() {
			body := bytes.NewReader(bytes.Repeat([]byte("x"), int(size)))
			resp, err := client.Post("http://bucket.example"+path, "application/octet-stream", body)
			if err == nil {
				resp.Body.Close()
			}
			errs <- err
		})
	}
	wg.Go(func() {
		resp, err := client.Get("http://bucket.example/object")
		if err == nil {
			resp.Body.Close()
		}
		errs <- err
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	for path, size := range sizes {
		if got := server.received[path]; got != size {
			t.Errorf("the server read %d bytes of %s; want all %d", got, path, size)
		}
	}
	elapsed, charged := bucket.elapsed()
	if charged != total {
		t.Errorf("the bodies took %d tokens; want one per byte sent, %d", charged, total)
	}
	// rate.Limiter counts in float64 seconds: allow a microsecond per take.
	want := time.Duration(float64(total-burst) / rateLimit * float64(time.Second))
	if diff := (elapsed - want).Abs(); diff > time.Duration(total/burst+1)*time.Microsecond {
		t.Errorf("the waits for %d bytes at %d bytes/s with a burst of %d add up to %v; want %v",
			total, rateLimit, burst, elapsed, want)
	}
	t.Logf("%d bytes paced over %v of virtual time: %.4f MiB/s", total, elapsed.Round(time.Millisecond),
		float64(total)/elapsed.Seconds()/(1<<20))
}
