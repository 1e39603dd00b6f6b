package s3test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Op is the S3 operation a request is, told from its method, path and query.
type Op string

// The operations Proxy tells apart. Requests it does not recognise are OpOther.
const (
	OpPutObject      Op = "PutObject"
	OpCopyObject     Op = "CopyObject"
	OpUploadPart     Op = "UploadPart"
	OpCreateUpload   Op = "CreateMultipartUpload"
	OpCompleteUpload Op = "CompleteMultipartUpload"
	OpAbortUpload    Op = "AbortMultipartUpload"
	OpListParts      Op = "ListParts"
	OpListUploads    Op = "ListMultipartUploads"
	OpListObjects    Op = "ListObjects"
	OpGetObject      Op = "GetObject"
	OpHeadObject     Op = "HeadObject"
	OpDeleteObject   Op = "DeleteObject"
	OpDeleteObjects  Op = "DeleteObjects"
	OpGetVersioning  Op = "GetBucketVersioning"
	OpOther          Op = "Other"
)

// Request describes one request the proxy received.
type Request struct {
	Op       Op
	Method   string
	Bucket   string
	Key      string // the object key, without the bucket; "" for bucket requests
	UploadID string // the uploadId query parameter, if any
	Part     int    // the partNumber query parameter, or 0
	Length   int64  // the declared body length (-1 if unknown)
	// StorageClass is the x-amz-storage-class header of a PutObject,
	// CopyObject or CreateMultipartUpload, if any.
	StorageClass string
}

// Fault says what the proxy does with one request. The zero Fault forwards
// the request unchanged. The fields act in this order: Stall, then Hold,
// then Reset, then Status, then Truncate or Swallow.
type Fault struct {
	// Stall holds the request this long before acting on it (or until the
	// client gives up or the proxy closes).
	Stall time.Duration
	// Hold, if not nil, holds the request until Hold is closed (or the
	// client gives up or the proxy closes) before acting on it: a server
	// that does not answer for as long as the test wants. A client that
	// goes away is noticed only once the request's body has been read, so
	// a request with a body is held until Hold closes or the proxy does.
	Hold <-chan struct{}
	// Reset reads ResetAfter bytes of the request body (all of it if the
	// body is shorter), then resets the TCP connection without answering.
	Reset      bool
	ResetAfter int64
	// Status, if not 0, answers with this status and an S3 error document
	// (Code, or a code fitting the status) without forwarding the request.
	// The body is read first, as a server would, and counted.
	Status int
	Code   string
	// Swallow, if not 0, forwards the request, waits for the server's whole
	// response, discards it and answers with this status instead: the
	// server did the work, the client never learns it.
	Swallow int
	// Truncate forwards the request and passes on the server's status,
	// headers and the first TruncateAfter bytes of its response body (half
	// of the declared body if TruncateAfter is negative), then closes the
	// connection: a response cut short. A response with no more body than
	// that arrives whole, and is not counted as faulted.
	Truncate      bool
	TruncateAfter int64
	// Rewrite, if not nil, forwards the request and replaces the body of a
	// successful (2xx) response with Rewrite(body): a server that answers
	// other than its state, such as a ListParts that leaves a part out.
	Rewrite func(body []byte) []byte
	// Corrupt forwards the request with the bits of its body byte at
	// offset CorruptAt flipped (if the body is that long), headers and
	// signature unchanged: a body damaged on its way to the server.
	Corrupt   bool
	CorruptAt int64
}

// FaultFunc chooses the Fault for each request. It is called concurrently.
type FaultFunc func(*Request) Fault

// BodyFunc is called after each read of a request body with the request and
// the total of request body bytes the proxy has received so far (all
// requests). It is called concurrently. The bytes just read are passed on
// to the server when it returns, so blocking in it holds the rest of the
// request's body back.
type BodyFunc func(r *Request, total int64)

// DoneFunc is called when the proxy has finished with a request: it passed
// the server's answer on (perhaps still buffered on its way to the client),
// answered with a fault, or gave up because the client went away. It is
// called concurrently.
type DoneFunc func(r *Request)

// Proxy is an HTTP reverse proxy on 127.0.0.1 in front of an S3 endpoint.
// It counts the request body bytes it receives, per operation and object
// key, and lets a test inject faults (error statuses, connection resets,
// stalls, lost responses) or refuse connections altogether. It is safe for
// concurrent use.
type Proxy struct {
	// URL is the proxy's endpoint, "http://127.0.0.1:PORT"; pass it to the
	// client instead of the server's.
	URL string

	addr    string
	server  *http.Server
	forward *httputil.ReverseProxy
	client  *http.Transport
	closed  chan struct{}
	served  sync.WaitGroup

	mu       sync.Mutex
	settled  *sync.Cond   // signalled when a connection or request ends, for WaitIdle
	listener net.Listener // nil while down
	conns    map[net.Conn]bool
	waiters  int             // WaitIdle calls under way
	accepted map[string]bool // client addresses accepted while waiters > 0
	downs    int             // times the listener was closed by SetDown
	fault    FaultFunc
	onBody   BodyFunc
	onDone   DoneFunc
	total    int64
	rate     int64     // request body bytes per second, 0 = unlimited
	paceAt   time.Time // when the bytes received so far are due at rate
	inFlight int
	bytes    map[opKey]int64
	requests map[Op]int
	faults   map[string]int
	capture  map[Op]bool
	captured []*Transmission
	byReq    map[*Request]*Transmission
}

// Transmission is the body of one request as far as it reached the proxy:
// all of it, or the part that arrived before the client went away.
type Transmission struct {
	Request Request
	Body    []byte
}

type opKey struct {
	op  Op
	key string
}

type requestKey struct{}

type rewriteKey struct{}

// quiet drops the log lines of clients that go away mid-request, which the
// tests cause on purpose.
var quiet = log.New(io.Discard, "", 0)

// NewProxy starts a proxy in front of endpoint (an http:// URL) on
// 127.0.0.1 and a free port. The caller stops it with Close.
func NewProxy(endpoint string) (*Proxy, error) {
	target, err := url.Parse(endpoint)
	if err != nil || target.Scheme != "http" || target.Host == "" {
		return nil, fmt.Errorf("new proxy: endpoint %q is not an http:// URL", endpoint)
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("new proxy: %w", err)
	}
	p := &Proxy{
		URL:      "http://" + listener.Addr().String(),
		addr:     listener.Addr().String(),
		client:   &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true},
		closed:   make(chan struct{}),
		conns:    make(map[net.Conn]bool),
		accepted: make(map[string]bool),
		bytes:    make(map[opKey]int64),
		requests: make(map[Op]int),
		faults:   make(map[string]int),
	}
	p.settled = sync.NewCond(&p.mu)
	p.forward = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			// The client signed the Host it connected to: keep it.
			pr.Out.Host = pr.In.Host
			// A request whose body arrived in full goes on to the server's
			// answer even if its client dies meanwhile, as the bytes already
			// on the wire would: once InFlight is 0 the server is settled.
			pr.Out = pr.Out.WithContext(context.WithoutCancel(pr.In.Context()))
		},
		Transport:      p.client,
		ModifyResponse: p.swallow,
		ErrorLog:       quiet,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	p.server = &http.Server{Handler: http.HandlerFunc(p.serve), ConnState: p.track, ErrorLog: quiet}
	p.serveOn(listener)
	return p, nil
}

// StartProxy starts a proxy in front of endpoint for the test and closes it
// when the test ends. It fails the test if the proxy cannot start.
func StartProxy(t testing.TB, endpoint string) *Proxy {
	t.Helper()
	p, err := NewProxy(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func (p *Proxy) serveOn(listener net.Listener) {
	p.listener = listener
	p.served.Add(1)
	go func() {
		defer p.served.Done()
		p.server.Serve(listener)
	}()
}

// Close stops the proxy: it closes the listener and every connection, and
// waits for the serving goroutine to end.
func (p *Proxy) Close() error {
	p.mu.Lock()
	select {
	case <-p.closed:
		p.mu.Unlock()
		return nil
	default:
	}
	close(p.closed)
	p.settled.Broadcast()
	p.mu.Unlock()
	err := p.server.Close()
	p.served.Wait()
	p.client.CloseIdleConnections()
	return err
}

// SetFault installs f as the fault chooser (nil: forward everything).
func (p *Proxy) SetFault(f FaultFunc) {
	p.mu.Lock()
	p.fault = f
	p.mu.Unlock()
}

// OnBody installs f as the body hook (nil: none).
func (p *Proxy) OnBody(f BodyFunc) {
	p.mu.Lock()
	p.onBody = f
	p.mu.Unlock()
}

// OnDone installs f as the hook called when a request is finished (nil:
// none).
func (p *Proxy) OnDone(f DoneFunc) {
	p.mu.Lock()
	p.onDone = f
	p.mu.Unlock()
}

// SetRate limits the request body bytes the proxy receives to
// bytesPerSecond, over all requests together, like a slow uplink
// (0: unlimited).
func (p *Proxy) SetRate(bytesPerSecond int64) {
	p.mu.Lock()
	p.rate = bytesPerSecond
	p.paceAt = time.Time{}
	p.mu.Unlock()
}

// SetDown(true) closes the listener and resets every open connection, so
// that clients get "connection refused" as from a server that is gone;
// SetDown(false) listens again on the same address.
func (p *Proxy) SetDown(down bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.closed:
		return fmt.Errorf("proxy on %s is closed", p.addr)
	default:
	}
	if down == (p.listener == nil) {
		return nil
	}
	if !down {
		listener, err := net.Listen("tcp", p.addr)
		if err != nil {
			return fmt.Errorf("proxy up again on %s: %w", p.addr, err)
		}
		p.serveOn(listener)
		return nil
	}
	err := p.listener.Close()
	p.listener = nil
	for conn := range p.conns {
		reset(conn)
	}
	// The connections in the listener's queue went with it.
	p.downs++
	p.settled.Broadcast()
	return err
}

// Bytes returns the request body bytes received so far, all requests.
func (p *Proxy) Bytes() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.total
}

// BytesOf returns the request body bytes received for operation op on
// object key; an empty op or key matches every operation or key.
func (p *Proxy) BytesOf(op Op, key string) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var n int64
	for k, b := range p.bytes {
		if (op == "" || k.op == op) && (key == "" || k.key == key) {
			n += b
		}
	}
	return n
}

// Requests returns the number of requests of operation op received so far;
// an empty op counts every request.
func (p *Proxy) Requests(op Op) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if op == "" {
		n := 0
		for _, c := range p.requests {
			n += c
		}
		return n
	}
	return p.requests[op]
}

// Faults returns how many requests the proxy has faulted so far, by kind:
// "stall", "hold", "reset", "truncate", "swallow", "rewrite", "corrupt", and for error
// answers the S3 error code sent ("InternalError", "SlowDown", ...).
func (p *Proxy) Faults() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.faults))
	for k, v := range p.faults {
		out[k] = v
	}
	return out
}

func (p *Proxy) countFault(kind string) {
	p.mu.Lock()
	p.faults[kind]++
	p.mu.Unlock()
}

// InFlight returns the number of requests the proxy is handling: received
// and not yet answered or failed. A request whose client died goes on to
// the server's answer if its whole body had arrived, and fails (the server
// sees a truncated body) if not; either way, once InFlight is 0 the server
// has finished with every request the proxy received. WaitIdle also waits
// for the requests of connections the proxy has not accepted yet.
func (p *Proxy) InFlight() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inFlight
}

// Capture makes the proxy keep the request body of every later request of
// the given operations, as far as it arrives (see Captured).
func (p *Proxy) Capture(ops ...Op) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.capture == nil {
		p.capture = make(map[Op]bool)
		p.byReq = make(map[*Request]*Transmission)
	}
	for _, op := range ops {
		p.capture[op] = true
	}
}

// Captured returns copies of the bodies captured so far, in the order the
// requests arrived.
func (p *Proxy) Captured() []Transmission {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Transmission, len(p.captured))
	for i, t := range p.captured {
		out[i] = Transmission{Request: t.Request, Body: bytes.Clone(t.Body)}
	}
	return out
}

// CapturedBytes returns how many body bytes of r, a captured request (as
// passed to a BodyFunc), have arrived so far.
func (p *Proxy) CapturedBytes(r *Request) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t := p.byReq[r]; t != nil {
		return len(t.Body)
	}
	return 0
}

// ResetCounts sets every byte and request count back to zero.
func (p *Proxy) ResetCounts() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total = 0
	clear(p.bytes)
	clear(p.requests)
	clear(p.faults)
}

// track keeps the set of open connections, for SetDown and WaitIdle.
func (p *Proxy) track(conn net.Conn, state http.ConnState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch state {
	case http.StateNew:
		p.conns[conn] = true
		if p.waiters > 0 {
			p.accepted[conn.RemoteAddr().String()] = true
		}
	case http.StateHijacked, http.StateClosed:
		delete(p.conns, conn)
	}
	p.settled.Broadcast()
}

// serve applies the request's fault and forwards it.
func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	req := classify(r)
	p.mu.Lock()
	p.requests[req.Op]++
	p.inFlight++
	fault := p.fault
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.inFlight--
		done := p.onDone
		p.settled.Broadcast()
		p.mu.Unlock()
		if done != nil {
			done(req)
		}
	}()
	var f Fault
	if fault != nil {
		f = fault(req)
	}
	body := &countingBody{body: r.Body, proxy: p, req: req, corruptAt: -1}
	p.mu.Lock()
	if p.capture[req.Op] {
		body.capture = &Transmission{Request: *req}
		p.captured = append(p.captured, body.capture)
		p.byReq[req] = body.capture
	}
	p.mu.Unlock()
	r.Body = body
	if f.Stall > 0 {
		p.countFault("stall")
		if !p.stall(r.Context(), f.Stall) {
			return
		}
	}
	if f.Hold != nil {
		p.countFault("hold")
		if !p.hold(r.Context(), f.Hold) {
			return
		}
	}
	switch {
	case f.Reset:
		p.countFault("reset")
		io.CopyN(io.Discard, r.Body, f.ResetAfter)
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			reset(conn)
		}
	case f.Status != 0:
		io.Copy(io.Discard, r.Body)
		p.countFault(writeError(w, f.Status, f.Code))
	default:
		if f.Swallow != 0 {
			p.countFault("swallow")
			r = r.WithContext(context.WithValue(r.Context(), requestKey{}, f.Swallow))
		} else if f.Rewrite != nil {
			p.countFault("rewrite")
			r = r.WithContext(context.WithValue(r.Context(), rewriteKey{}, f.Rewrite))
		} else if f.Truncate {
			w = &truncatingWriter{ResponseWriter: w, proxy: p, after: f.TruncateAfter}
		}
		if f.Corrupt {
			p.countFault("corrupt")
			body.corruptAt = f.CorruptAt
		}
		p.forward.ServeHTTP(w, r)
	}
}

// stall waits for d, and reports whether the request is still wanted.
func (p *Proxy) stall(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
	case <-p.closed:
	}
	return false
}

// hold waits until release is closed, and reports whether the request is
// still wanted.
func (p *Proxy) hold(ctx context.Context, release <-chan struct{}) bool {
	select {
	case <-release:
		return true
	case <-ctx.Done():
	case <-p.closed:
	}
	return false
}

// swallow replaces the server's response with an error when the request's
// fault says so, after reading all of it.
func (p *Proxy) swallow(resp *http.Response) error {
	if rewrite, ok := resp.Request.Context().Value(rewriteKey{}).(func([]byte) []byte); ok && resp.StatusCode/100 == 2 {
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		resp.Body.Close()
		body = rewrite(body)
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return nil
	}
	status, ok := resp.Request.Context().Value(requestKey{}).(int)
	if !ok {
		return nil
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	resp.Body.Close()
	body := errorDocument(status, "")
	resp.StatusCode = status
	resp.Status = fmt.Sprintf("%d %s", status, http.StatusText(status))
	resp.Header = http.Header{"Content-Type": {"application/xml"}}
	resp.ContentLength = int64(len(body))
	resp.Body = io.NopCloser(strings.NewReader(body))
	return nil
}

// countingBody counts what is read of a request body and calls the hook.
type countingBody struct {
	body    io.ReadCloser
	proxy   *Proxy
	req     *Request
	capture *Transmission // nil unless the proxy captures req.Op
	// corruptAt is the offset of the body byte to flip after counting
	// and capturing it (negative: none).
	corruptAt int64
	read      int64
}

func (c *countingBody) Read(b []byte) (int, error) {
	n, err := c.body.Read(b)
	if n == 0 {
		return n, err
	}
	p := c.proxy
	p.mu.Lock()
	if c.capture != nil {
		c.capture.Body = append(c.capture.Body, b[:n]...)
	}
	p.total += int64(n)
	p.bytes[opKey{c.req.Op, c.req.Key}] += int64(n)
	total, hook := p.total, p.onBody
	var wait time.Duration
	if p.rate > 0 {
		now := time.Now()
		if p.paceAt.Before(now) {
			p.paceAt = now
		}
		p.paceAt = p.paceAt.Add(time.Duration(int64(n) * int64(time.Second) / p.rate))
		wait = p.paceAt.Sub(now)
	}
	p.mu.Unlock()
	if at := c.corruptAt - c.read; at >= 0 && at < int64(n) {
		b[at] ^= 0xff
	}
	c.read += int64(n)
	if hook != nil {
		hook(c.req, total)
	}
	if wait > 0 {
		timer := time.NewTimer(wait)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-p.closed:
		}
	}
	return n, err
}

func (c *countingBody) Close() error { return c.body.Close() }

// reset closes conn with a TCP RST instead of an orderly FIN.
func reset(conn net.Conn) {
	if tcp, ok := conn.(*net.TCPConn); ok {
		tcp.SetLinger(0)
	}
	conn.Close()
}

// writeError answers with an S3 error document and returns its code.
func writeError(w http.ResponseWriter, status int, code string) string {
	code = errorCode(status, code)
	body := errorDocument(status, code)
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	io.WriteString(w, body)
	return code
}

// errorCode is code, or the S3 error code that fits status.
func errorCode(status int, code string) string {
	if code != "" {
		return code
	}
	switch status {
	case http.StatusServiceUnavailable:
		return "SlowDown"
	case http.StatusInternalServerError:
		return "InternalError"
	case http.StatusNotFound:
		return "NoSuchKey"
	}
	return strings.ReplaceAll(http.StatusText(status), " ", "")
}

// errorDocument is the error body S3 sends, with the message S3 gives the
// common retryable codes.
func errorDocument(status int, code string) string {
	code = errorCode(status, code)
	message := "injected by s3test.Proxy"
	switch code {
	case "SlowDown":
		message = "Please reduce your request rate."
	case "InternalError":
		message = "We encountered an internal error. Please try again."
	}
	return `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<Error><Code>` + code + `</Code><Message>` + message + `</Message>` +
		`<RequestId>S3TESTPROXY</RequestId><HostId>s3test</HostId></Error>`
}

// classify tells which S3 operation r is (path-style addressing).
func classify(r *http.Request) *Request {
	path := strings.TrimPrefix(r.URL.Path, "/")
	bucket, key, _ := strings.Cut(path, "/")
	q := r.URL.Query()
	req := &Request{Method: r.Method, Bucket: bucket, Key: key, UploadID: q.Get("uploadId"), Length: r.ContentLength,
		StorageClass: r.Header.Get("X-Amz-Storage-Class")}
	fmt.Sscan(q.Get("partNumber"), &req.Part)
	_, uploads := q["uploads"]
	_, del := q["delete"]
	switch {
	case r.Method == http.MethodPut && key != "" && req.UploadID != "" && req.Part > 0:
		req.Op = OpUploadPart
	case r.Method == http.MethodPut && key != "" && r.Header.Get("X-Amz-Copy-Source") != "":
		req.Op = OpCopyObject
	case r.Method == http.MethodPut && key != "":
		req.Op = OpPutObject
	case r.Method == http.MethodPost && key != "" && uploads:
		req.Op = OpCreateUpload
	case r.Method == http.MethodPost && key != "" && req.UploadID != "":
		req.Op = OpCompleteUpload
	case r.Method == http.MethodPost && key == "" && del:
		req.Op = OpDeleteObjects
	case r.Method == http.MethodDelete && key != "" && req.UploadID != "":
		req.Op = OpAbortUpload
	case r.Method == http.MethodDelete && key != "":
		req.Op = OpDeleteObject
	case r.Method == http.MethodGet && key != "" && req.UploadID != "":
		req.Op = OpListParts
	case r.Method == http.MethodGet && key == "" && uploads:
		req.Op = OpListUploads
	case r.Method == http.MethodGet && key == "" && (q.Has("list-type") || q.Has("prefix")):
		req.Op = OpListObjects
	case r.Method == http.MethodGet && key != "":
		req.Op = OpGetObject
	case r.Method == http.MethodHead && key != "":
		req.Op = OpHeadObject
	case r.Method == http.MethodGet && key == "" && q.Has("versioning"):
		req.Op = OpGetVersioning
	default:
		req.Op = OpOther
	}
	return req
}
