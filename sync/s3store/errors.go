package s3store

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"syscall"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/s3seal/s3seal/sync"
)

// The errors a caller branches on are the engine's (sync.ErrNotFound, ...):
// every method of Store wraps the SDK's errors so that errors.Is matches
// them, and the message names the operation, the bucket and the key:
// "put s3://bucket/key: ...".

// opError is the error every Store method returns: the operation and the
// s3:// address it was about, the sentinel it matches (nil when none does) and
// the underlying error.
type opError struct {
	op       string // "put", "head bucket", ...
	address  string // "s3://bucket/key"
	sentinel error
	err      error
}

// Error says what failed and its essential cause: the connection error, or
// the server's status and error code. The SDK's whole chain of wrapped
// errors (operation, attempts, request ids) is in Detail.
func (e *opError) Error() string {
	switch {
	case e.err == nil:
		return fmt.Sprintf("%s %s: %v", e.op, e.address, e.sentinel)
	case e.sentinel == nil:
		return fmt.Sprintf("%s %s: %s", e.op, e.address, essential(e.err))
	default:
		return fmt.Sprintf("%s %s: %v: %s", e.op, e.address, e.sentinel, essential(e.err))
	}
}

// Detail returns the underlying error in full, as the SDK reports it.
func (e *opError) Detail() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

// essential returns the part of an SDK error that tells a user what
// happened: "dial tcp 127.0.0.1:9: connect: connection refused", or
// "HTTP 403 SignatureDoesNotMatch: The request signature ...".
func essential(err error) string {
	var (
		apiErr  smithy.APIError
		respErr *awshttp.ResponseError
		dnsErr  *net.DNSError
		netErr  *net.OpError
		urlErr  *url.Error
	)
	switch {
	case errors.As(err, &dnsErr):
		return dnsErr.Error()
	case errors.As(err, &netErr):
		return netErr.Error()
	case errors.As(err, &apiErr):
		msg := apiErr.ErrorCode()
		if status := httpStatus(err); status != 0 {
			msg = fmt.Sprintf("HTTP %d %s", status, msg)
		}
		if m := apiErr.ErrorMessage(); m != "" {
			msg += ": " + m
		}
		return msg
	case errors.As(err, &respErr) && respErr.HTTPStatusCode() != 0:
		return fmt.Sprintf("HTTP %d %s", respErr.HTTPStatusCode(), http.StatusText(respErr.HTTPStatusCode()))
	case errors.As(err, &urlErr):
		return urlErr.Err.Error()
	}
	return err.Error()
}

// Unwrap lets errors.Is and errors.As see both the sentinel and the cause.
func (e *opError) Unwrap() []error {
	errs := make([]error, 0, 2)
	if e.sentinel != nil {
		errs = append(errs, e.sentinel)
	}
	if e.err != nil {
		errs = append(errs, e.err)
	}
	return errs
}

// address formats bucket and key as an s3:// URL for messages; an empty key
// names the bucket.
func (s *Store) address(key string) string {
	if key == "" {
		return "s3://" + s.bucket
	}
	return "s3://" + s.bucket + "/" + key
}

// wrap classifies err and names op and key; a 404 without an error code
// means notFound (ErrNotFound for objects, ErrNoSuchBucket for buckets).
func (s *Store) wrap(op, key string, err error, notFound error) error {
	return &opError{op: op, address: s.address(key), sentinel: classify(err, notFound), err: err}
}

// newError returns an error for op and key that matches sentinel and has no
// SDK cause.
func (s *Store) newError(op, key string, sentinel error, detail string) error {
	return &opError{op: op, address: s.address(key), sentinel: sentinel, err: errors.New(detail)}
}

// errorCodes maps S3 error codes to sentinels.
var errorCodes = map[string]error{
	"NoSuchBucket":          sync.ErrNoSuchBucket,
	"NoSuchKey":             sync.ErrNotFound,
	"NoSuchUpload":          sync.ErrNoSuchUpload,
	"AccessDenied":          sync.ErrAccessDenied,
	"AllAccessDisabled":     sync.ErrAccessDenied,
	"AccountProblem":        sync.ErrAccessDenied,
	"InvalidAccessKeyId":    sync.ErrBadCredentials,
	"SignatureDoesNotMatch": sync.ErrBadCredentials,
	"ExpiredToken":          sync.ErrBadCredentials,
	"InvalidToken":          sync.ErrBadCredentials,
	"TokenRefreshRequired":  sync.ErrBadCredentials,
	"InvalidObjectState":    sync.ErrInvalidObjectState,
	"NotImplemented":        sync.ErrNotImplemented,
	"MethodNotAllowed":      sync.ErrNotImplemented,
	"InvalidStorageClass":   sync.ErrInvalidStorageClass,
	"BadDigest":             sync.ErrBadDigest,
	// A body that does not hash to the signed x-amz-content-sha256.
	"XAmzContentSHA256Mismatch": sync.ErrBadDigest,
}

// classify returns the sentinel err matches, or nil. Error codes win over
// HTTP statuses; a bare 404 (HEAD responses have no body) means notFound, a
// bare 403 ErrAccessDenied, and a bare 501 or 405 ErrNotImplemented.
func classify(err error, notFound error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	var credErr *credentialsError
	if errors.As(err, &credErr) {
		return sync.ErrBadCredentials
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		if sentinel, ok := errorCodes[apiErr.ErrorCode()]; ok {
			return sentinel
		}
	}
	switch httpStatus(err) {
	case http.StatusNotFound:
		return notFound
	case http.StatusForbidden:
		return sync.ErrAccessDenied
	case http.StatusNotImplemented, http.StatusMethodNotAllowed:
		return sync.ErrNotImplemented
	}
	if isUnreachable(err) {
		return sync.ErrUnreachable
	}
	return nil
}

// httpStatus returns the HTTP status of the response err came from, or 0.
func httpStatus(err error) int {
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) {
		return respErr.HTTPStatusCode()
	}
	return 0
}

// isUnreachable reports whether err is a failure to resolve or connect to the
// endpoint, as opposed to a failure of a request the server received.
func isUnreachable(err error) bool {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return true
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH) {
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}

// cannotConnect reports whether err is a failure to reach the server at
// all: unreachable (see isUnreachable), or a TLS handshake that failed, for
// example on a certificate that does not verify or a server that does not
// speak TLS.
func cannotConnect(err error) bool {
	var (
		verifyErr *tls.CertificateVerificationError
		recordErr tls.RecordHeaderError
		alertErr  tls.AlertError
		hostErr   x509.HostnameError
		authErr   x509.UnknownAuthorityError
		certErr   x509.CertificateInvalidError
	)
	return isUnreachable(err) || errors.As(err, &verifyErr) || errors.As(err, &recordErr) ||
		errors.As(err, &alertErr) || errors.As(err, &hostErr) || errors.As(err, &authErr) || errors.As(err, &certErr)
}

// credentialsError marks a failure of the credential chain (no credentials
// found, an expired SSO session, ...), which has no typed error in the SDK.
type credentialsError struct{ err error }

func (e *credentialsError) Error() string { return e.err.Error() }
func (e *credentialsError) Unwrap() error { return e.err }
