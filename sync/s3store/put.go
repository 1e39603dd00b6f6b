package s3store

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/encoding/httpbinding"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// directPut sends PutObject requests without the SDK's middleware stack:
// one signed HTTP request per attempt, the SDK's own signer, retryer and
// error types. A small upload spends most of its client time in that stack
// (endpoint rules, checksum and metrics steps, a new stack per call: about
// 0.1 ms of CPU per request), which a sync of many small files to a nearby
// server feels. It is used with custom endpoints (path-style addressing)
// only; on AWS, where addressing depends on the bucket name, region, FIPS
// and dual-stack settings, the SDK builds the request.
type directPut struct {
	client  *http.Client
	creds   aws.CredentialsProvider
	signer  *v4.Signer
	region  string
	retryer aws.Retryer
	// bucketURL is the endpoint with the escaped bucket name and a slash
	// appended: a key's URL is bucketURL + its escaped key.
	bucketURL string
	// skew is the server's clock minus ours, in nanoseconds, learnt from
	// the Date of a response that rejected a request as too skewed; the
	// SDK keeps the same offset for its own requests.
	skew atomic.Int64
}

// Retries: the loop below asks the retryer whether and when to retry but
// takes no retry tokens, which is right only because the Store's retryer
// has no rate limiter (ratelimit.None in newRetryer).

// newDirectPut returns a directPut for the bucket of client, or nil when the
// client does not address a custom endpoint path-style.
func newDirectPut(client *s3.Client, httpClient *http.Client, bucket string) *directPut {
	opts := client.Options()
	if !opts.UsePathStyle || opts.BaseEndpoint == nil || opts.Credentials == nil {
		return nil
	}
	endpoint, err := url.Parse(*opts.BaseEndpoint)
	if err != nil || (endpoint.Scheme != "http" && endpoint.Scheme != "https") || endpoint.Host == "" ||
		endpoint.RawQuery != "" || endpoint.Fragment != "" {
		return nil // the SDK reports what is wrong with it
	}
	base := strings.TrimSuffix(endpoint.String(), "/") + "/"
	return &directPut{
		client: httpClient,
		creds:  opts.Credentials,
		signer: v4.NewSigner(func(o *v4.SignerOptions) {
			o.DisableURIPathEscaping = true // S3 signs the path as sent
		}),
		region:    opts.Region,
		retryer:   opts.Retryer,
		bucketURL: base + httpbinding.EscapePath(bucket, true) + "/",
	}
}

// unsignedPayloadHash is the x-amz-content-sha256 value of a body that the
// signature does not cover (its Content-MD5 header is signed instead).
const unsignedPayloadHash = "UNSIGNED-PAYLOAD"

// putResult is what a successful PutObject response says.
type putResult struct {
	etag string // without quotes
	sse  string // x-amz-server-side-encryption
}

// put uploads body as key, retrying as the SDK would. Its errors have the
// SDK's shapes (an operation error around a response or send error), so
// that classify and the retryer treat them alike.
func (d *directPut) put(ctx context.Context, key string, body []byte, sum [md5.Size]byte, storageClass string) (putResult, error) {
	if key == "" {
		// "PUT /bucket/" would be a CreateBucket request.
		return putResult{}, d.operationError(errors.New("empty object key"))
	}
	contentMD5 := base64.StdEncoding.EncodeToString(sum[:])
	target := d.bucketURL + httpbinding.EscapePath(key, false)
	maxAttempts := d.retryer.MaxAttempts()
	for attempt := 1; ; attempt++ {
		res, err := d.attempt(ctx, target, body, contentMD5, storageClass)
		if err == nil {
			return res, nil
		}
		if ctx.Err() != nil {
			return putResult{}, d.operationError(ctx.Err())
		}
		if !d.retryer.IsErrorRetryable(err) {
			return putResult{}, d.operationError(err)
		}
		if attempt >= maxAttempts {
			return putResult{}, d.operationError(&retry.MaxAttemptsError{Attempt: attempt, Err: err})
		}
		delay, derr := d.retryer.RetryDelay(attempt, err)
		if derr != nil {
			return putResult{}, d.operationError(err)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return putResult{}, d.operationError(ctx.Err())
		case <-t.C:
		}
	}
}

// attempt sends one signed PutObject request.
func (d *directPut) attempt(ctx context.Context, target string, body []byte, contentMD5, storageClass string) (putResult, error) {
	// The transport may go on reading the body after Do returns (when the
	// server answers before it has read it all), and the caller reuses the
	// buffer once Put returns: the gate makes every reader of it read EOF
	// from then on, as the SDK's request body does.
	gate := &bodyGate{}
	defer gate.close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, target, http.NoBody)
	if err != nil {
		return putResult{}, err
	}
	if len(body) > 0 {
		req.Body = gate.reader(body)
		req.GetBody = func() (io.ReadCloser, error) { return gate.reader(body), nil }
		req.ContentLength = int64(len(body))
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Content-MD5", contentMD5)
	req.Header.Set("X-Amz-Content-Sha256", unsignedPayloadHash)
	if storageClass != "" {
		req.Header.Set("X-Amz-Storage-Class", storageClass)
	}
	req.Header.Set("User-Agent", "s3seal")
	creds, err := d.creds.Retrieve(ctx)
	if err != nil {
		return putResult{}, err
	}
	skew := time.Duration(d.skew.Load())
	if err := d.signer.SignHTTP(ctx, creds, req, unsignedPayloadHash, "s3", d.region, time.Now().Add(skew).UTC()); err != nil {
		return putResult{}, err
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return putResult{}, &smithyhttp.RequestSendError{Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return putResult{}, d.checkSkew(parseErrorResponse(resp), resp, skew)
	}
	// Read what is left so that the connection is reused. The object is
	// stored whatever happens to the rest of a 2xx response.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return putResult{
		etag: unquote(resp.Header.Get("ETag")),
		sse:  resp.Header.Get("X-Amz-Server-Side-Encryption"),
	}, nil
}

// clockSkewCodes are the error codes with which servers reject a request
// signed at a time too far from theirs (the SDK's list).
var clockSkewCodes = map[string]bool{
	"InvalidSignatureException": true,
	"SignatureDoesNotMatch":     true,
	"AuthFailure":               true,
	"RequestTimeTooSkewed":      true,
	"AccessDeniedException":     true,
}

// maxClockSkew is how far the server's clock may be from the one a request
// was signed with before the request is signed again with the server's.
const maxClockSkew = 4 * time.Minute

// checkSkew does what the SDK's retry middleware does with a response that
// rejects a request for its signing time: when the response's Date is more
// than maxClockSkew from the clock the request was signed with, it records
// the server's offset for every later request and makes err retryable.
func (d *directPut) checkSkew(err error, resp *http.Response, signedWith time.Duration) error {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || !clockSkewCodes[apiErr.ErrorCode()] || resp.Header.Get("Age") != "" {
		return err
	}
	server, perr := smithyhttp.ParseTime(resp.Header.Get("Date"))
	if perr != nil {
		return err
	}
	skew := time.Until(server)
	if (skew - signedWith).Abs() <= maxClockSkew {
		return err
	}
	d.skew.Store(int64(skew))
	return &clockSkewError{err}
}

// clockSkewError is a rejection for a signing time that a retry with the
// server's clock should cure.
type clockSkewError struct{ err error }

func (e *clockSkewError) Error() string        { return e.err.Error() }
func (e *clockSkewError) Unwrap() error        { return e.err }
func (e *clockSkewError) RetryableError() bool { return true }

// operationError wraps err as the SDK wraps a failed PutObject.
func (d *directPut) operationError(err error) error {
	return &smithy.OperationError{ServiceID: s3.ServiceID, OperationName: "PutObject", Err: err}
}

// parseErrorResponse returns the error of a non-2xx response: its S3 error code
// and message, when the body has them, inside the SDK's response error.
func parseErrorResponse(resp *http.Response) error {
	var doc struct {
		Code      string `xml:"Code"`
		Message   string `xml:"Message"`
		RequestID string `xml:"RequestId"`
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if xml.Unmarshal(raw, &doc) != nil || doc.Code == "" {
		// A HEAD-like bare status, or a proxy's page: the status says it.
		doc.Code = strings.ReplaceAll(http.StatusText(resp.StatusCode), " ", "")
		if doc.Code == "" {
			doc.Code = "HTTP" + strconv.Itoa(resp.StatusCode)
		}
		doc.Message = http.StatusText(resp.StatusCode)
	}
	if doc.RequestID == "" {
		doc.RequestID = resp.Header.Get("X-Amz-Request-Id")
	}
	return &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: resp},
			Err:      &smithy.GenericAPIError{Code: doc.Code, Message: doc.Message},
		},
		RequestID: doc.RequestID,
	}
}

// bodyGate hands out readers of one body that all read EOF once it is
// closed (smithy-go's request bodies do the same).
type bodyGate struct {
	mu     sync.Mutex
	closed bool
}

func (g *bodyGate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

func (g *bodyGate) reader(b []byte) io.ReadCloser {
	return &gatedReader{gate: g, r: bytes.NewReader(b)}
}

type gatedReader struct {
	gate *bodyGate
	r    *bytes.Reader
}

func (r *gatedReader) Read(p []byte) (int, error) {
	r.gate.mu.Lock()
	defer r.gate.mu.Unlock()
	if r.gate.closed {
		return 0, io.EOF
	}
	return r.r.Read(p)
}

func (r *gatedReader) Close() error { return nil }
