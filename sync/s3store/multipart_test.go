package s3store_test

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/s3seal/s3seal/sync"
)

// partMD5s returns the MD5s of body cut into parts of partSize bytes.
func partMD5s(body []byte, partSize int) [][16]byte {
	var sums [][16]byte
	for start := 0; start < len(body); start += partSize {
		sums = append(sums, md5.Sum(body[start:min(start+partSize, len(body))]))
	}
	return sums
}

func TestMultipartUpload(t *testing.T) {
	t.Parallel()
	store, _ := newStore(t)
	ctx := context.Background()
	const partSize = 5 << 20
	body := randomBytes(t, 2*partSize+1<<20+3)
	uploadID, err := store.CreateMultipart(ctx, "big/object", sync.PutOptions{})
	if err != nil {
		t.Fatalf("CreateMultipart = %v", err)
	}
	var sent []sync.Part
	// Upload out of order: ListParts must still return part-number order.
	for _, number := range []int32{2, 3, 1} {
		start := int(number-1) * partSize
		chunk := body[start:min(start+partSize, len(body))]
		part, err := store.UploadPart(ctx, "big/object", uploadID, number, chunk, sha256.Sum256(chunk))
		if err != nil {
			t.Fatalf("UploadPart(%d) = %v", number, err)
		}
		want := sync.Part{Number: number, ETag: md5Hex(chunk), Size: int64(len(chunk))}
		if part != want {
			t.Errorf("UploadPart(%d) = %+v; want %+v", number, part, want)
		}
		sent = append(sent, part)
	}
	listed, err := store.ListParts(ctx, "big/object", uploadID)
	if err != nil {
		t.Fatalf("ListParts = %v", err)
	}
	slices.SortFunc(sent, func(a, b sync.Part) int { return int(a.Number - b.Number) })
	if !slices.Equal(listed, sent) {
		t.Errorf("ListParts = %+v; want %+v", listed, sent)
	}
	written, err := store.CompleteMultipart(ctx, "big/object", uploadID, listed)
	etag := written.ETag
	if err != nil {
		t.Fatalf("CompleteMultipart = %v", err)
	}
	if want := sync.MultipartETag(partMD5s(body, partSize)); etag != want {
		t.Errorf("CompleteMultipart ETag = %q; want MultipartETag %q", etag, want)
	}
	obj, err := store.Head(ctx, "big/object")
	if err != nil || obj.ETag != etag || obj.Size != int64(len(body)) {
		t.Errorf("Head(completed) = %+v, %v; want ETag %q, size %d", obj, err, etag, len(body))
	}
	if got := get(t, store, "big/object"); !equalBytes(got, body) {
		t.Errorf("Get(completed multipart object) differs from the parts uploaded")
	}
	if uploads, err := store.Uploads(ctx, ""); err != nil || len(uploads) != 0 {
		t.Errorf("Uploads after completion = %+v, %v; want none", uploads, err)
	}
}

func TestAbortAndUnfinishedUploads(t *testing.T) {
	t.Parallel()
	store, _ := newStore(t)
	ctx := context.Background()
	before := time.Now().Add(-time.Minute)
	uploadID, err := store.CreateMultipart(ctx, "pending/file", sync.PutOptions{})
	if err != nil {
		t.Fatalf("CreateMultipart = %v", err)
	}
	if _, err := store.CreateMultipart(ctx, "elsewhere/file", sync.PutOptions{}); err != nil {
		t.Fatalf("CreateMultipart = %v", err)
	}
	if _, err := store.UploadPart(ctx, "pending/file", uploadID, 1, []byte("part one"), sha256.Sum256([]byte("part one"))); err != nil {
		t.Fatalf("UploadPart = %v", err)
	}
	uploads, err := store.Uploads(ctx, "pending/")
	if err != nil {
		t.Fatalf("Uploads(pending/) = %v", err)
	}
	if len(uploads) != 1 || uploads[0].Key != "pending/file" || uploads[0].UploadID != uploadID ||
		uploads[0].Initiated.Before(before) {
		t.Fatalf("Uploads(pending/) = %+v; want one upload of pending/file with ID %q, initiated now", uploads, uploadID)
	}
	if err := store.AbortMultipart(ctx, "pending/file", uploadID); err != nil {
		t.Fatalf("AbortMultipart = %v", err)
	}
	if err := store.AbortMultipart(ctx, "pending/file", uploadID); err != nil {
		t.Errorf("AbortMultipart twice = %v; want nil (a missing upload is success)", err)
	}
	if uploads, err := store.Uploads(ctx, "pending/"); err != nil || len(uploads) != 0 {
		t.Errorf("Uploads(pending/) after abort = %+v, %v; want none", uploads, err)
	}
	_, err = store.UploadPart(ctx, "pending/file", uploadID, 2, []byte("late part"), sha256.Sum256([]byte("late part")))
	if !errors.Is(err, sync.ErrNoSuchUpload) {
		t.Errorf("UploadPart after abort = %v; want ErrNoSuchUpload", err)
	}
	if _, err := store.ListParts(ctx, "pending/file", uploadID); !errors.Is(err, sync.ErrNoSuchUpload) {
		t.Errorf("ListParts after abort = %v; want ErrNoSuchUpload", err)
	}
	if _, err := store.CompleteMultipart(ctx, "pending/file", uploadID,
		[]sync.Part{{Number: 1, ETag: md5Hex([]byte("part one")), Size: 8}}); !errors.Is(err, sync.ErrNoSuchUpload) {
		t.Errorf("CompleteMultipart after abort = %v; want ErrNoSuchUpload", err)
	}
}
