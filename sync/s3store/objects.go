package s3store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/s3seal/s3seal/sync"
)

// List calls fn for every object whose key starts with prefix, in key order
// (ListObjectsV2, paginated, 1,000 keys per page; nothing else is read). The
// prefix is used as given: pass "p/" to list a folder. An error from fn stops
// the listing and is returned as is.
func (s *Store) List(ctx context.Context, prefix string, fn func(sync.Object) error) error {
	pages := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket:  aws.String(s.bucket),
		Prefix:  aws.String(prefix),
		MaxKeys: aws.Int32(listPageSize),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return s.wrap("list", prefix, err, sync.ErrNoSuchBucket)
		}
		for _, obj := range page.Contents {
			if err := fn(listedObject(obj)); err != nil {
				return err
			}
		}
	}
	return nil
}

// ListFolder calls object for every object directly under prefix and folder
// for every folder below it (ListObjectsV2 with a delimiter of "/",
// paginated, 1,000 entries per page). The prefix is used as given.
func (s *Store) ListFolder(ctx context.Context, prefix string, object func(sync.Object) error, folder func(string) error) error {
	pages := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket:    aws.String(s.bucket),
		Prefix:    aws.String(prefix),
		Delimiter: aws.String("/"),
		MaxKeys:   aws.Int32(listPageSize),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return s.wrap("list", prefix, err, sync.ErrNoSuchBucket)
		}
		for _, obj := range page.Contents {
			if err := object(listedObject(obj)); err != nil {
				return err
			}
		}
		for _, p := range page.CommonPrefixes {
			if err := folder(aws.ToString(p.Prefix)); err != nil {
				return err
			}
		}
	}
	return nil
}

// listedObject is an object as a listing describes it.
func listedObject(obj types.Object) sync.Object {
	return sync.Object{
		Key:          aws.ToString(obj.Key),
		ETag:         unquote(aws.ToString(obj.ETag)),
		Size:         aws.ToInt64(obj.Size),
		StorageClass: string(obj.StorageClass),
		LastModified: aws.ToTime(obj.LastModified),
	}
}

// Head returns the object's description, including its user metadata. A
// missing object gives an error matching ErrNotFound.
func (s *Store) Head(ctx context.Context, key string) (sync.Object, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(key),
	})
	if err != nil {
		return sync.Object{}, s.wrap("head", key, err, sync.ErrNotFound)
	}
	return sync.Object{
		Key:          key,
		ETag:         unquote(aws.ToString(out.ETag)),
		Size:         aws.ToInt64(out.ContentLength),
		StorageClass: string(out.StorageClass),
		LastModified: aws.ToTime(out.LastModified),
		Metadata:     out.Metadata,
		VersionID:    aws.ToString(out.VersionId),
	}, nil
}

// Put uploads body as key in one PutObject and returns the object's ETag
// (without quotes) and version. The request is signed with the SHA-256 of
// body (see signedPayload), so a body damaged on the way is refused with an
// error matching ErrBadDigest. A locked upload (opts.Retention) also carries
// that SHA-256 as its checksum, which Object Lock requires. No user
// metadata is ever sent.
func (s *Store) Put(ctx context.Context, key string, body []byte, opts sync.PutOptions) (sync.Object, error) {
	sum := sha256.Sum256(body)
	in := &s3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(key),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
		StorageClass:  types.StorageClass(opts.StorageClass),
	}
	if r := opts.Retention; r != nil {
		in.ObjectLockMode, in.ObjectLockRetainUntilDate = types.ObjectLockMode(r.Mode), aws.Time(r.Until.UTC())
		in.ChecksumSHA256 = aws.String(base64.StdEncoding.EncodeToString(sum[:]))
	}
	out, err := s.client.PutObject(ctx, in, signedPayload(sum))
	if err != nil {
		return sync.Object{}, s.wrap("put", key, err, sync.ErrNoSuchBucket)
	}
	return sync.Object{Key: key, ETag: unquote(aws.ToString(out.ETag)), Size: int64(len(body)),
		VersionID: aws.ToString(out.VersionId)}, nil
}

// Get returns the object's body, which the caller closes, and its ETag
// (without quotes), size, storage class and modification time from the same
// response, so a caller can check that the body it reads is the object it
// expects. A missing object gives an error matching ErrNotFound, an archived
// one ErrInvalidObjectState.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, sync.Object, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(key),
	})
	if err != nil {
		return nil, sync.Object{}, s.wrap("get", key, err, sync.ErrNotFound)
	}
	obj := sync.Object{Key: key, ETag: unquote(aws.ToString(out.ETag)), Size: aws.ToInt64(out.ContentLength),
		StorageClass: string(out.StorageClass), LastModified: aws.ToTime(out.LastModified),
		VersionID: aws.ToString(out.VersionId)}
	return out.Body, obj, nil
}

// deleteBatch is the most keys one DeleteObjects request may name.
const deleteBatch = 1000

// Delete removes keys (DeleteObjects, 1,000 keys per request). A key that
// does not exist is not an error. Keys the server refused to delete are
// returned as one error that lists them and matches the sentinels of their
// error codes.
func (s *Store) Delete(ctx context.Context, keys ...string) error {
	for start := 0; start < len(keys); start += deleteBatch {
		batch := keys[start:min(start+deleteBatch, len(keys))]
		ids := make([]types.ObjectIdentifier, len(batch))
		for i, key := range batch {
			ids[i] = types.ObjectIdentifier{Key: aws.String(key)}
		}
		out, err := s.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: aws.String(s.bucket),
			Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		})
		if err != nil {
			return s.wrap("delete", batch[0], err, sync.ErrNoSuchBucket)
		}
		if len(out.Errors) > 0 {
			return s.deleteErrors(out.Errors)
		}
	}
	return nil
}

// deleteErrors turns DeleteObjects' per-key failures into one error.
func (s *Store) deleteErrors(failures []types.Error) error {
	var lines []string
	var sentinels []error
	for _, failure := range failures {
		code := aws.ToString(failure.Code)
		lines = append(lines, fmt.Sprintf("%s (%s: %s)",
			aws.ToString(failure.Key), code, aws.ToString(failure.Message)))
		if sentinel, ok := errorCodes[code]; ok {
			sentinels = append(sentinels, sentinel)
		}
	}
	detail := fmt.Sprintf("%d keys not deleted: %s", len(failures), strings.Join(lines, ", "))
	return &opError{
		op:       "delete",
		address:  s.address(""),
		sentinel: errors.Join(sentinels...),
		err:      errors.New(detail),
	}
}

// signedPayload makes the SigV4 signature of an upload cover sum, the
// SHA-256 of its body, as x-amz-content-sha256: the server hashes the body
// it receives and refuses one that does not match, so the hash the caller
// computed once is the upload's integrity check. Without it the SDK would
// hash the body a second time (plain http) or send it unsigned (https).
// The value is set first in the finalize step, before the SDK's checksum
// and payload-hash steps, which keep a hash that is already set; stack
// values live for one operation, so each request sets its own. Where the
// SDK itself adds a checksum (AWS, by default), it signs a trailer instead,
// and that checksum does the work.
func signedPayload(sum [sha256.Size]byte) func(*s3.Options) {
	hash := hex.EncodeToString(sum[:])
	set := middleware.FinalizeMiddlewareFunc("s3seal.PayloadSHA256", func(
		ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler,
	) (middleware.FinalizeOutput, middleware.Metadata, error) {
		return next.HandleFinalize(v4.SetPayloadHash(ctx, hash), in)
	})
	return s3.WithAPIOptions(func(stack *middleware.Stack) error {
		return stack.Finalize.Add(set, middleware.Before)
	})
}

// unquote strips the double quotes S3 puts around ETags.
func unquote(etag string) string {
	return strings.Trim(etag, `"`)
}
