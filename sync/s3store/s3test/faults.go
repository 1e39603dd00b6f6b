package s3test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
)

// Rates are the shares of requests, each from 0 to 1, that RandomFaults
// faults. For each request one draw picks at most one fault.
type Rates struct {
	InternalError float64 // answered 500 InternalError, the body read first
	SlowDown      float64 // answered 503 SlowDown, the body read first
	// Reset resets the connection halfway through the request body (at
	// once for a request without one).
	Reset float64
	// Truncate cuts the response short halfway through its body; only
	// operations that answer with a body are chosen.
	Truncate float64
}

// answersWithBody are the operations whose success has a response body.
var answersWithBody = []Op{OpGetObject, OpListObjects, OpListParts, OpListUploads,
	OpCreateUpload, OpCompleteUpload, OpCopyObject, OpDeleteObjects}

// RandomFaults returns a FaultFunc that faults requests at rates, drawing
// from a generator seeded with seed, so that a failing run can be repeated
// (the order of concurrent requests still varies). With ops, only requests
// of those operations are faulted. The proxy's Faults counts what was done.
func RandomFaults(seed uint64, rates Rates, ops ...Op) FaultFunc {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	return func(r *Request) Fault {
		if len(ops) > 0 && !slices.Contains(ops, r.Op) {
			return Fault{}
		}
		mu.Lock()
		x := rng.Float64()
		mu.Unlock()
		switch {
		case x < rates.InternalError:
			return Fault{Status: http.StatusInternalServerError}
		case x < rates.InternalError+rates.SlowDown:
			return Fault{Status: http.StatusServiceUnavailable, Code: "SlowDown"}
		case x < rates.InternalError+rates.SlowDown+rates.Reset:
			return Fault{Reset: true, ResetAfter: max(r.Length, 0) / 2}
		case x < rates.InternalError+rates.SlowDown+rates.Reset+rates.Truncate && slices.Contains(answersWithBody, r.Op):
			return Fault{Truncate: true, TruncateAfter: -1}
		}
		return Fault{}
	}
}

// Nth returns a FaultFunc that applies fault to the nth request (from 1) of
// operation op and forwards every other request.
func Nth(op Op, n int, fault Fault) FaultFunc {
	var mu sync.Mutex
	seen := 0
	return func(r *Request) Fault {
		if r.Op != op {
			return Fault{}
		}
		mu.Lock()
		defer mu.Unlock()
		if seen++; seen == n {
			return fault
		}
		return Fault{}
	}
}

// Lacking returns a FaultFunc that answers every request of the operations
// ops with status and the S3 error code that fits it (501 NotImplemented,
// 405 MethodNotAllowed), as a server that lacks them does, and forwards
// every other request.
func Lacking(status int, ops ...Op) FaultFunc {
	return func(r *Request) Fault {
		if slices.Contains(ops, r.Op) {
			return Fault{Status: status}
		}
		return Fault{}
	}
}

// RefuseStorageClass returns a FaultFunc that answers the uploads and
// copies asking for storage class with 400 InvalidStorageClass, as MinIO
// answers STANDARD_IA, and forwards every other request.
func RefuseStorageClass(class string) FaultFunc {
	return func(r *Request) Fault {
		switch r.Op {
		case OpPutObject, OpCopyObject, OpCreateUpload:
			if r.StorageClass == class {
				return Fault{Status: http.StatusBadRequest, Code: "InvalidStorageClass"}
			}
		}
		return Fault{}
	}
}

// truncatingWriter passes a response on until its limit, then flushes what
// it has and closes the connection.
type truncatingWriter struct {
	http.ResponseWriter
	proxy   *Proxy
	after   int64 // bytes to pass on; negative: half the Content-Length
	written int64
	cut     bool
}

func (t *truncatingWriter) WriteHeader(status int) {
	if t.after < 0 {
		var length int64
		fmt.Sscan(t.Header().Get("Content-Length"), &length)
		t.after = length / 2
	}
	t.ResponseWriter.WriteHeader(status)
}

func (t *truncatingWriter) Write(b []byte) (int, error) {
	if t.cut {
		return 0, errTruncated
	}
	if t.written+int64(len(b)) <= t.after {
		n, err := t.ResponseWriter.Write(b)
		t.written += int64(n)
		return n, err
	}
	n, _ := t.ResponseWriter.Write(b[:t.after-t.written])
	t.written += int64(n)
	t.cut = true
	t.proxy.countFault("truncate")
	// An orderly close, not a reset: a reset would make the client's
	// kernel drop the bytes it has not read yet.
	if conn, _, err := http.NewResponseController(t.ResponseWriter).Hijack(); err == nil {
		conn.Close()
	}
	return n, errTruncated
}

// Unwrap lets http.ResponseController reach the server's writer.
func (t *truncatingWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

var errTruncated = errors.New("s3test: response truncated on purpose")
