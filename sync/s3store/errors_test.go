package s3store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/s3seal/s3seal/sync"
)

// responseError builds the error the SDK returns for an HTTP status and an
// optional error code from the body.
func responseError(status int, code string) error {
	var cause error = errors.New("no body")
	if code != "" {
		cause = &smithy.GenericAPIError{Code: code, Message: "message"}
	}
	return &smithy.OperationError{ServiceID: "S3", OperationName: "Op", Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
			Err:      cause,
		},
	}}
}

func TestClassify(t *testing.T) {
	dialErr := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	tests := []struct {
		name     string
		err      error
		notFound error
		want     error
	}{
		{"NoSuchKey", responseError(404, "NoSuchKey"), sync.ErrNotFound, sync.ErrNotFound},
		{"NoSuchBucket wins over 404 default", responseError(404, "NoSuchBucket"), sync.ErrNotFound, sync.ErrNoSuchBucket},
		{"bare 404 on object", responseError(404, ""), sync.ErrNotFound, sync.ErrNotFound},
		{"bare 404 on bucket", responseError(404, ""), sync.ErrNoSuchBucket, sync.ErrNoSuchBucket},
		{"NoSuchUpload", responseError(404, "NoSuchUpload"), sync.ErrNotFound, sync.ErrNoSuchUpload},
		{"AccessDenied", responseError(403, "AccessDenied"), sync.ErrNotFound, sync.ErrAccessDenied},
		{"bare 403", responseError(403, ""), sync.ErrNotFound, sync.ErrAccessDenied},
		{"InvalidAccessKeyId", responseError(403, "InvalidAccessKeyId"), sync.ErrNotFound, sync.ErrBadCredentials},
		{"SignatureDoesNotMatch", responseError(403, "SignatureDoesNotMatch"), sync.ErrNotFound, sync.ErrBadCredentials},
		{"ExpiredToken", responseError(400, "ExpiredToken"), sync.ErrNotFound, sync.ErrBadCredentials},
		{"InvalidObjectState", responseError(403, "InvalidObjectState"), sync.ErrNotFound, sync.ErrInvalidObjectState},
		{"no credentials in chain", fmt.Errorf("get identity: %w", &credentialsError{errors.New("no creds")}), sync.ErrNotFound, sync.ErrBadCredentials},
		{"connection refused", fmt.Errorf("send: %w", dialErr), sync.ErrNotFound, sync.ErrUnreachable},
		{"dns", &net.DNSError{Err: "no such host", Name: "bucket.invalid"}, sync.ErrNotFound, sync.ErrUnreachable},
		{"NotImplemented", responseError(501, "NotImplemented"), sync.ErrNotFound, sync.ErrNotImplemented},
		{"bare 501", responseError(501, ""), sync.ErrNotFound, sync.ErrNotImplemented},
		{"MethodNotAllowed", responseError(405, "MethodNotAllowed"), sync.ErrNoSuchUpload, sync.ErrNotImplemented},
		{"bare 405", responseError(405, ""), sync.ErrNoSuchUpload, sync.ErrNotImplemented},
		{"NotImplemented as 400", responseError(400, "NotImplemented"), sync.ErrNotFound, sync.ErrNotImplemented},
		{"InvalidStorageClass", responseError(400, "InvalidStorageClass"), sync.ErrNoSuchBucket, sync.ErrInvalidStorageClass},
		{"server error", responseError(500, "InternalError"), sync.ErrNotFound, nil},
		{"canceled", fmt.Errorf("send: %w: %w", context.Canceled, dialErr), sync.ErrNotFound, nil},
		{"plain", errors.New("something else"), sync.ErrNotFound, nil},
	}
	for _, test := range tests {
		if got := classify(test.err, test.notFound); got != test.want {
			t.Errorf("classify(%s) = %v; want %v", test.name, got, test.want)
		}
	}
}

func TestWrappedErrorNamesOperationAndMatchesBoth(t *testing.T) {
	store := &Store{bucket: "bkt"}
	cause := responseError(404, "NoSuchKey")
	err := store.wrap("get", "a/b", cause, sync.ErrNotFound)
	if want := "get s3://bkt/a/b: object not found: "; len(err.Error()) < len(want) || err.Error()[:len(want)] != want {
		t.Errorf("wrap(get a/b).Error() = %q; want prefix %q", err, want)
	}
	if !errors.Is(err, sync.ErrNotFound) {
		t.Errorf("errors.Is(%v, sync.ErrNotFound) = false; want true", err)
	}
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "NoSuchKey" {
		t.Errorf("errors.As(%v, smithy.APIError) lost the cause", err)
	}
	if errors.Is(err, sync.ErrNoSuchBucket) {
		t.Errorf("errors.Is(%v, sync.ErrNoSuchBucket) = true; want false", err)
	}
}
