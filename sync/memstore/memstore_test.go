package memstore_test

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/s3seal/s3seal/sync"
	"github.com/s3seal/s3seal/sync/memstore"
)

var ctx = context.Background()

func md5Hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

func TestObjects(t *testing.T) {
	s := memstore.New("b")
	body := []byte("content")
	written, err := s.Put(ctx, "p/b", body, sync.PutOptions{})
	etag := written.ETag
	if err != nil || etag != md5Hex(body) {
		t.Fatalf("Put = %q, %v; want the body's MD5 %q", etag, err, md5Hex(body))
	}
	body[0] = 'X' // the store keeps its own copy
	for _, key := range []string{"p/c", "p/a", "q/a", "p"} {
		if _, err := s.Put(ctx, key, []byte(key), sync.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if got := keys(t, s, "p/"); got != "p/a p/b p/c" {
		t.Errorf("List(p/) = %s; want p/a p/b p/c", got)
	}
	rc, obj, err := s.Get(ctx, "p/b")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	if string(got) != "content" || obj.ETag != etag || obj.Size != 7 {
		t.Errorf("Get(p/b) = %q, ETag %s, size %d; want what was put", got, obj.ETag, obj.Size)
	}
	if cp, err := s.Copy(ctx, "p/b", "r/copy", sync.PutOptions{}); err != nil || cp.ETag != obj.ETag {
		t.Errorf("Copy = %q, %v; want the source's ETag %s", cp.ETag, err, obj.ETag)
	}
	if err := s.Delete(ctx, "p/b", "never/there"); err != nil {
		t.Errorf("Delete with a missing key = %v; want nil", err)
	}
	_, headErr := s.Head(ctx, "p/b")
	_, _, getErr := s.Get(ctx, "p/b")
	_, copyErr := s.Copy(ctx, "p/b", "x", sync.PutOptions{})
	for name, err := range map[string]error{"Head": headErr, "Get": getErr, "Copy": copyErr} {
		if !errors.Is(err, sync.ErrNotFound) {
			t.Errorf("%s of a deleted object = %v; want ErrNotFound", name, err)
		}
	}
}

func TestMultipart(t *testing.T) {
	s := memstore.New("b")
	s.MinPartSize = 4
	id, err := s.CreateMultipart(ctx, "big", sync.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var sent []sync.Part
	for _, n := range []int32{3, 1, 2} {
		body := []byte(strings.Repeat(string(rune('0'+n)), 4+int(n)))
		p, err := s.UploadPart(ctx, "big", id, n, body, sha256.Sum256(body))
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, p)
	}
	listed, err := s.ListParts(ctx, "big", id)
	if err != nil || len(listed) != 3 || listed[0] != sent[1] || listed[1] != sent[2] || listed[2] != sent[0] {
		t.Fatalf("ListParts = %v, %v; want parts 1, 2, 3 as sent: %v", listed, err, sent)
	}
	if ups, err := s.Uploads(ctx, "b"); err != nil || len(ups) != 1 || ups[0].UploadID != id || ups[0].Key != "big" {
		t.Errorf("Uploads(b) = %v, %v; want the one upload", ups, err)
	}

	wrongETag := []sync.Part{listed[0], {Number: 2, ETag: md5Hex([]byte("other"))}, listed[2]}
	for name, parts := range map[string][]sync.Part{
		"out of order": {listed[1], listed[0], listed[2]},
		"wrong ETag":   wrongETag,
		"unknown part": {listed[0], {Number: 9, ETag: listed[1].ETag}},
		"no parts":     nil,
	} {
		if _, err := s.CompleteMultipart(ctx, "big", id, parts); !errors.Is(err, memstore.ErrInvalidPart) {
			t.Errorf("CompleteMultipart(%s) = %v; want ErrInvalidPart", name, err)
		}
	}
	s.MinPartSize = 6 // part 1 has 5 bytes
	if _, err := s.CompleteMultipart(ctx, "big", id, listed); !errors.Is(err, memstore.ErrPartTooSmall) {
		t.Errorf("CompleteMultipart with a small first part = %v; want ErrPartTooSmall", err)
	}
	s.MinPartSize = 5
	written, err := s.CompleteMultipart(ctx, "big", id, listed[:2]) // the last part may be small, and is left out
	etag := written.ETag
	sums := [][16]byte{md5.Sum([]byte("11111")), md5.Sum([]byte("222222"))}
	if want := sync.MultipartETag(sums); err != nil || etag != want {
		t.Fatalf("CompleteMultipart = %q, %v; want %s", etag, err, want)
	}
	if obj, err := s.Head(ctx, "big"); err != nil || obj.ETag != etag || obj.Size != 11 {
		t.Errorf("Head(big) = %+v, %v; want ETag %s, 11 bytes", obj, err, etag)
	}
	if _, err := s.ListParts(ctx, "big", id); !errors.Is(err, sync.ErrNoSuchUpload) {
		t.Errorf("ListParts of a completed upload = %v; want ErrNoSuchUpload", err)
	}
	if _, err := s.UploadPart(ctx, "other", id, 1, nil, sha256.Sum256(nil)); !errors.Is(err, sync.ErrNoSuchUpload) {
		t.Errorf("UploadPart of a completed upload = %v; want ErrNoSuchUpload", err)
	}
	if err := s.AbortMultipart(ctx, "big", id); err != nil {
		t.Errorf("AbortMultipart of a completed upload = %v; want nil", err)
	}
}

func TestHookAndDrop(t *testing.T) {
	s := memstore.New("b")
	refused := errors.New("refused")
	var calls []string
	s.Hook = func(op memstore.Op, key string, part int32) error {
		calls = append(calls, string(op)+" "+key)
		if op == memstore.OpPut && key == "no" {
			return refused
		}
		return nil
	}
	if _, err := s.Put(ctx, "no", nil, sync.PutOptions{}); !errors.Is(err, refused) || !strings.Contains(err.Error(), "s3://b/no") {
		t.Errorf("Put refused by the hook = %v; want the hook's error, naming s3://b/no", err)
	}
	if _, err := s.Head(ctx, "no"); !errors.Is(err, sync.ErrNotFound) {
		t.Errorf("Head after a refused Put = %v; want ErrNotFound", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Put(cancelled, "k", nil, sync.PutOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a cancelled context = %v; want context.Canceled", err)
	}
	s.Drop()
	if err := s.List(ctx, "", func(sync.Object) error { return nil }); !errors.Is(err, sync.ErrNoSuchBucket) {
		t.Errorf("List of a dropped bucket = %v; want ErrNoSuchBucket", err)
	}
	if want := "Put no,Head no,Put k,List "; strings.Join(calls, ",") != want {
		t.Errorf("the hook saw %q; want %q", strings.Join(calls, ","), want)
	}
	if !memstore.OpCompleteMultipart.Writes() || memstore.OpListParts.Writes() {
		t.Error("Writes() is wrong for CompleteMultipart or ListParts")
	}
}

// keys lists prefix and returns the keys, space-separated.
func keys(t *testing.T, s *memstore.Store, prefix string) string {
	t.Helper()
	var listed []string
	err := s.List(ctx, prefix, func(o sync.Object) error {
		listed = append(listed, o.Key)
		if o.ETag != md5Hex([]byte(o.Key)) && o.Key != "p/b" {
			t.Errorf("List: %s has ETag %s; want its body's MD5", o.Key, o.ETag)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("List(%q) = %v", prefix, err)
	}
	return strings.Join(listed, " ")
}
