package s3store

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/s3seal/s3seal/sync"
)

// Copy makes dstKey a server-side copy of srcKey in the same bucket and
// returns dstKey's ETag (without quotes), size and version. A single-part copy keeps the
// source's ETag. Sources over 5 GiB, which CopyObject refuses, are copied
// part by part with UploadPartCopy; the copy then gets a multipart ETag. A
// missing source gives an error matching ErrNotFound.
func (s *Store) Copy(ctx context.Context, srcKey, dstKey string, opts sync.PutOptions) (sync.Object, error) {
	src, err := s.Head(ctx, srcKey)
	if err != nil {
		return sync.Object{}, err
	}
	if src.Size > s.copyThreshold {
		return s.copyMultipart(ctx, src, dstKey, opts)
	}
	in := &s3.CopyObjectInput{
		Bucket:       aws.String(s.bucket),
		Key:          aws.String(dstKey),
		CopySource:   aws.String(s.copySource(srcKey)),
		StorageClass: types.StorageClass(opts.StorageClass),
	}
	if r := opts.Retention; r != nil {
		in.ObjectLockMode, in.ObjectLockRetainUntilDate = types.ObjectLockMode(r.Mode), aws.Time(r.Until.UTC())
	}
	out, err := s.client.CopyObject(ctx, in)
	if err != nil {
		return sync.Object{}, s.wrap("copy "+s.address(srcKey)+" to", dstKey, err, sync.ErrNotFound)
	}
	if out.CopyObjectResult == nil {
		return sync.Object{}, s.newError("copy "+s.address(srcKey)+" to", dstKey, nil, "response has no copy result")
	}
	return sync.Object{Key: dstKey, ETag: unquote(aws.ToString(out.CopyObjectResult.ETag)), Size: src.Size,
		VersionID: aws.ToString(out.VersionId)}, nil
}

// copyMultipart copies src to dstKey in parts of s.copyPartSize bytes with
// UploadPartCopy, and aborts the upload if any step fails.
func (s *Store) copyMultipart(ctx context.Context, src sync.Object, dstKey string, opts sync.PutOptions) (obj sync.Object, err error) {
	uploadID, err := s.CreateMultipart(ctx, dstKey, opts)
	if err != nil {
		return sync.Object{}, err
	}
	defer func() {
		if err != nil {
			// Best effort, on a fresh context: the caller's may be the reason
			// for the failure. A leftover upload is listed by Uploads.
			_ = s.AbortMultipart(context.WithoutCancel(ctx), dstKey, uploadID)
		}
	}()
	var parts []sync.Part
	for offset, number := int64(0), int32(1); offset < src.Size; offset, number = offset+s.copyPartSize, number+1 {
		last := min(offset+s.copyPartSize, src.Size) - 1
		out, err := s.client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
			Bucket:            aws.String(s.bucket),
			Key:               aws.String(dstKey),
			UploadId:          aws.String(uploadID),
			PartNumber:        aws.Int32(number),
			CopySource:        aws.String(s.copySource(src.Key)),
			CopySourceRange:   aws.String(fmt.Sprintf("bytes=%d-%d", offset, last)),
			CopySourceIfMatch: aws.String(`"` + src.ETag + `"`),
		})
		if err != nil {
			return sync.Object{}, s.wrap(fmt.Sprintf("copy part %d of %s to", number, s.address(src.Key)), dstKey, err, sync.ErrNotFound)
		}
		if out.CopyPartResult == nil {
			return sync.Object{}, s.newError("copy "+s.address(src.Key)+" to", dstKey, nil, "response has no copy part result")
		}
		parts = append(parts, sync.Part{
			Number: number,
			ETag:   unquote(aws.ToString(out.CopyPartResult.ETag)),
			Size:   last - offset + 1,
		})
	}
	return s.CompleteMultipart(ctx, dstKey, uploadID, parts)
}

// copySource returns the x-amz-copy-source value for key in the store's
// bucket: "bucket/key" with every byte but unreserved characters and "/"
// percent-encoded, which every server decodes the same way.
func (s *Store) copySource(key string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.WriteString(s.bucket)
	b.WriteByte('/')
	for i := 0; i < len(key); i++ {
		c := key[i]
		if isUnreserved(c) || c == '/' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// isUnreserved reports whether c is an RFC 3986 unreserved character.
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

// GetRange reads len(buf) bytes of obj.Key from offset off (fewer at the
// end) into buf,
// with If-Match on obj.ETag, and of the version obj.VersionID when given,
// so that a changed object is an error, not mixed bytes: the server's 412
// PreconditionFailed, or 416 for a range past the object's end, matches
// sync.ErrObjectChanged. A body that broke off or ended before its
// Content-Length matches sync.ErrTransfer.
func (s *Store) GetRange(ctx context.Context, obj sync.Object, off int64, buf []byte) (int, error) {
	n := int64(len(buf))
	in := &s3.GetObjectInput{
		Bucket:  aws.String(s.bucket),
		Key:     aws.String(obj.Key),
		Range:   aws.String(fmt.Sprintf("bytes=%d-%d", off, off+n-1)),
		IfMatch: aws.String(`"` + obj.ETag + `"`),
	}
	if obj.VersionID != "" {
		in.VersionId = aws.String(obj.VersionID)
	}
	out, err := s.client.GetObject(ctx, in)
	// 412: another ETag or version; 416: an object shorter than obj says.
	if status := httpStatus(err); status == http.StatusPreconditionFailed || status == http.StatusRequestedRangeNotSatisfiable {
		return 0, &opError{op: "get range of", address: s.address(obj.Key), sentinel: sync.ErrObjectChanged, err: err}
	}
	if err != nil {
		return 0, s.wrap("get range of", obj.Key, err, sync.ErrNotFound)
	}
	defer out.Body.Close()
	if want := fmt.Sprintf("bytes %d-", off); !strings.HasPrefix(aws.ToString(out.ContentRange), want) {
		return 0, s.newError("get range of", obj.Key, nil, fmt.Sprintf("the response's Content-Range is %q, not the range asked for (%s...)", aws.ToString(out.ContentRange), want))
	}
	got, err := readRange(out.Body, out.ContentLength, buf)
	if err != nil && ctx.Err() == nil {
		return got, &opError{op: "get range of", address: s.address(obj.Key), sentinel: sync.ErrTransfer, err: err}
	}
	if err != nil {
		return got, s.wrap("get range of", obj.Key, err, sync.ErrNotFound)
	}
	return got, nil
}

// readRange reads a ranged GET's body into buf: Content-Length's bytes
// when the response gives one (fewer than len(buf) at the end of the
// object), and a body that ends before them is an error; else up to
// len(buf), as many as the body has.
func readRange(body io.Reader, contentLength *int64, buf []byte) (int, error) {
	if contentLength == nil || *contentLength < 0 {
		got, err := io.ReadFull(body, buf)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			err = nil
		}
		return got, err
	}
	buf = buf[:min(int64(len(buf)), *contentLength)]
	got, err := io.ReadFull(body, buf)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		err = fmt.Errorf("body ended after %d of %d bytes", got, len(buf))
	}
	return got, err
}

// UploadPartCopy makes the bytes [off, off+n) of srcKey, with
// x-amz-copy-source-if-match on srcETag, part number of the upload of key.
func (s *Store) UploadPartCopy(ctx context.Context, key, uploadID string, number int32, srcKey, srcETag string, off, n int64) (sync.Part, error) {
	out, err := s.client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
		Bucket:            aws.String(s.bucket),
		Key:               aws.String(key),
		UploadId:          aws.String(uploadID),
		PartNumber:        aws.Int32(number),
		CopySource:        aws.String(s.copySource(srcKey)),
		CopySourceRange:   aws.String(fmt.Sprintf("bytes=%d-%d", off, off+n-1)),
		CopySourceIfMatch: aws.String(`"` + srcETag + `"`),
	})
	if err != nil {
		return sync.Part{}, s.wrap(fmt.Sprintf("copy part %d of %s to", number, s.address(srcKey)), key, err, sync.ErrNotFound)
	}
	if out.CopyPartResult == nil {
		return sync.Part{}, s.newError("copy "+s.address(srcKey)+" to", key, nil, "response has no copy part result")
	}
	return sync.Part{Number: number, ETag: unquote(aws.ToString(out.CopyPartResult.ETag)), Size: n}, nil
}
