package s3store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"sort"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/s3seal/s3seal/sync"
)

// CreateMultipart starts a multipart upload of key and returns its upload ID.
func (s *Store) CreateMultipart(ctx context.Context, key string, opts sync.PutOptions) (string, error) {
	in := &s3.CreateMultipartUploadInput{
		Bucket:       aws.String(s.bucket),
		Key:          aws.String(key),
		StorageClass: types.StorageClass(opts.StorageClass),
	}
	if r := opts.Retention; r != nil {
		in.ObjectLockMode, in.ObjectLockRetainUntilDate = types.ObjectLockMode(r.Mode), aws.Time(r.Until.UTC())
	}
	out, err := s.client.CreateMultipartUpload(ctx, in)
	if err != nil {
		return "", s.wrap("create multipart upload", key, err, sync.ErrNoSuchBucket)
	}
	return aws.ToString(out.UploadId), nil
}

// UploadPart sends body as part number of the upload and returns the part.
// The request is signed with sum, body's SHA-256 (see signedPayload), so a
// part damaged on the way is refused with an error matching ErrBadDigest.
// An upload that no longer exists gives an error matching ErrNoSuchUpload.
func (s *Store) UploadPart(ctx context.Context, key, uploadID string, number int32, body []byte, sum [sha256.Size]byte) (sync.Part, error) {
	out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(key),
		UploadId:      aws.String(uploadID),
		PartNumber:    aws.Int32(number),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
	}, signedPayload(sum))
	if err != nil {
		return sync.Part{}, s.wrap("upload part "+strconv.Itoa(int(number))+" of", key, err, sync.ErrNoSuchUpload)
	}
	return sync.Part{Number: number, ETag: unquote(aws.ToString(out.ETag)), Size: int64(len(body))}, nil
}

// ListParts returns every part the server holds for the upload (ListParts,
// paginated), in part-number order. An upload that no longer exists gives an
// error matching ErrNoSuchUpload.
func (s *Store) ListParts(ctx context.Context, key, uploadID string) ([]sync.Part, error) {
	var parts []sync.Part
	pages := s3.NewListPartsPaginator(s.client, &s3.ListPartsInput{
		Bucket:   aws.String(s.bucket),
		Key:      aws.String(key),
		UploadId: aws.String(uploadID),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, s.wrap("list parts of", key, err, sync.ErrNoSuchUpload)
		}
		for _, part := range page.Parts {
			parts = append(parts, sync.Part{
				Number: aws.ToInt32(part.PartNumber),
				ETag:   unquote(aws.ToString(part.ETag)),
				Size:   aws.ToInt64(part.Size),
			})
		}
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].Number < parts[j].Number })
	return parts, nil
}

// CompleteMultipart completes the upload from parts, which must be in
// part-number order, and returns the object's ETag (without quotes).
func (s *Store) CompleteMultipart(ctx context.Context, key, uploadID string, parts []sync.Part) (sync.Object, error) {
	completed := make([]types.CompletedPart, len(parts))
	for i, part := range parts {
		completed[i] = types.CompletedPart{
			PartNumber: aws.Int32(part.Number),
			ETag:       aws.String(`"` + part.ETag + `"`),
		}
	}
	out, err := s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(s.bucket),
		Key:             aws.String(key),
		UploadId:        aws.String(uploadID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: completed},
	})
	if err != nil {
		return sync.Object{}, s.wrap("complete multipart upload", key, err, sync.ErrNoSuchUpload)
	}
	var size int64
	for _, p := range parts {
		size += p.Size
	}
	return sync.Object{Key: key, ETag: unquote(aws.ToString(out.ETag)), Size: size, VersionID: aws.ToString(out.VersionId)}, nil
}

// AbortMultipart aborts the upload and frees its parts. An upload that no
// longer exists is not an error.
func (s *Store) AbortMultipart(ctx context.Context, key, uploadID string) error {
	_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket:   aws.String(s.bucket),
		Key:      aws.String(key),
		UploadId: aws.String(uploadID),
	})
	if err == nil || classify(err, sync.ErrNoSuchUpload) == sync.ErrNoSuchUpload {
		return nil
	}
	return s.wrap("abort multipart upload", key, err, sync.ErrNoSuchUpload)
}

// Uploads returns the unfinished multipart uploads whose keys start with
// prefix (ListMultipartUploads, paginated), in the server's order: by key,
// then by initiation time.
func (s *Store) Uploads(ctx context.Context, prefix string) ([]sync.MultipartUpload, error) {
	var uploads []sync.MultipartUpload
	pages := s3.NewListMultipartUploadsPaginator(s.client, &s3.ListMultipartUploadsInput{
		Bucket: aws.String(s.bucket),
		Prefix: aws.String(prefix),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, s.wrap("list multipart uploads", prefix, err, sync.ErrNoSuchBucket)
		}
		for _, upload := range page.Uploads {
			uploads = append(uploads, sync.MultipartUpload{
				Key:       aws.ToString(upload.Key),
				UploadID:  aws.ToString(upload.UploadId),
				Initiated: aws.ToTime(upload.Initiated),
			})
		}
	}
	return uploads, nil
}
