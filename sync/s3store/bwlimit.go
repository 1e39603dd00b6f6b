package s3store

import (
	"context"
	"io"
	"net/http"

	"golang.org/x/time/rate"
)

// bwlimitBurst is the most bytes a limited request body may send ahead of
// the rate: small, so the average holds over seconds and a slow link is not
// flooded at the start, large enough that a read is not a syscall per byte.
const bwlimitBurst = 32 << 10

// limitBandwidth returns a client like c whose request bodies, together,
// are sent at no more than bytesPerSecond: one token bucket shared by every
// request, so the limit holds across concurrent uploads. Responses (GET
// bodies) are not limited.
func limitBandwidth(c *http.Client, bytesPerSecond int64) *http.Client {
	burst := int(min(bytesPerSecond, bwlimitBurst))
	limited := *c
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	limited.Transport = &limitedTransport{base: base, limiter: rate.NewLimiter(rate.Limit(bytesPerSecond), burst)}
	return &limited
}

// tokenBucket is what a limitedReader takes its tokens from: a
// *rate.Limiter, or in tests one that runs on a clock of its own.
type tokenBucket interface {
	// WaitN blocks until n tokens are available and takes them; n must
	// not exceed Burst.
	WaitN(ctx context.Context, n int) error
	Burst() int
}

// limitedTransport wraps the bodies of the requests it sends in
// limitedReaders.
type limitedTransport struct {
	base    http.RoundTripper
	limiter tokenBucket
}

func (t *limitedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return t.base.RoundTrip(req)
	}
	out := req.Clone(req.Context())
	out.Body = &limitedReader{ctx: req.Context(), body: req.Body, limiter: t.limiter}
	if req.GetBody != nil {
		out.GetBody = func() (io.ReadCloser, error) {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			return &limitedReader{ctx: req.Context(), body: body, limiter: t.limiter}, nil
		}
	}
	return t.base.RoundTrip(out)
}

// limitedReader takes a token per byte before passing the bytes on.
type limitedReader struct {
	ctx     context.Context
	body    io.ReadCloser
	limiter tokenBucket
}

func (r *limitedReader) Read(p []byte) (int, error) {
	if len(p) > r.limiter.Burst() {
		p = p[:r.limiter.Burst()]
	}
	n, err := r.body.Read(p)
	if n > 0 {
		if werr := r.limiter.WaitN(r.ctx, n); werr != nil {
			return n, werr
		}
	}
	return n, err
}

func (r *limitedReader) Close() error { return r.body.Close() }
