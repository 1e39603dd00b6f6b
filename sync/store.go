package sync

import (
	"context"
	"io"

	"github.com/s3seal/s3seal/sync/s3store"
)

// Store is what the engine needs of a bucket. *s3store.Store implements it;
// tests may substitute their own.
type Store interface {
	// List calls fn for every object whose key starts with prefix.
	List(ctx context.Context, prefix string, fn func(s3store.Object) error) error
	// Head returns an object's key, ETag and size.
	Head(ctx context.Context, key string) (s3store.Object, error)
	// Get returns an object's body and size; the caller closes the body.
	Get(ctx context.Context, key string) (io.ReadCloser, int64, error)
	// GetObject is Get that also returns the key, ETag and size of the
	// object the body is read from, as the GetObject response gives them.
	GetObject(ctx context.Context, key string) (io.ReadCloser, s3store.Object, error)
	// Put uploads body as one object and returns its ETag.
	Put(ctx context.Context, key string, body []byte, opts s3store.PutOptions) (string, error)
	// Copy makes dst a server-side copy of src and returns its ETag.
	Copy(ctx context.Context, srcKey, dstKey string, opts s3store.PutOptions) (string, error)
	// Delete removes objects; missing ones are not an error.
	Delete(ctx context.Context, keys ...string) error

	Multipart
}

// Multipart is the multipart-upload part of Store.
type Multipart interface {
	CreateMultipart(ctx context.Context, key string, opts s3store.PutOptions) (string, error)
	UploadPart(ctx context.Context, key, uploadID string, number int32, body []byte) (s3store.Part, error)
	ListParts(ctx context.Context, key, uploadID string) ([]s3store.Part, error)
	CompleteMultipart(ctx context.Context, key, uploadID string, parts []s3store.Part) (string, error)
	AbortMultipart(ctx context.Context, key, uploadID string) error
	Uploads(ctx context.Context, prefix string) ([]s3store.Upload, error)
}
