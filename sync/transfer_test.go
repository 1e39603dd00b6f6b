package sync

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	gosync "sync"
	"testing"
)

// partStore keeps multipart uploads in memory: enough to check what the
// uploader sends. Every Objects method but Put fails.
type partStore struct {
	mu      gosync.Mutex
	parts   map[int32][]byte
	put     []byte
	objects map[string][]byte
	etag    string // of the completed object
	aborted bool
	failAt  int32 // UploadPart of this number fails
	// lostAnswer makes CompleteMultipart complete the upload and answer
	// ErrNoSuchUpload, as a retry after a lost answer does.
	lostAnswer bool
}

func (s *partStore) CreateMultipart(ctx context.Context, key string, opts PutOptions) (string, error) {
	s.parts = make(map[int32][]byte)
	return "up-1", nil
}

func (s *partStore) UploadPart(ctx context.Context, key, id string, number int32, body []byte, sha [sha256.Size]byte) (Part, error) {
	if number == s.failAt {
		return Part{}, ErrAccessDenied // not transient: no retry
	}
	if sha != sha256.Sum256(body) {
		return Part{}, fmt.Errorf("part %d: %w", number, ErrBadDigest)
	}
	sum := md5.Sum(body)
	s.mu.Lock()
	s.parts[number] = bytes.Clone(body)
	s.mu.Unlock()
	return Part{Number: number, ETag: hex.EncodeToString(sum[:]), Size: int64(len(body))}, nil
}

func (s *partStore) ListParts(ctx context.Context, key, id string) ([]Part, error) {
	return nil, errors.New("not used")
}

func (s *partStore) CompleteMultipart(ctx context.Context, key, id string, parts []Part) (Object, error) {
	var whole []byte
	var sums [][16]byte
	for i, p := range parts {
		body, ok := s.parts[p.Number]
		if !ok || p.Number != int32(i+1) || p.ETag != hexMD5(body) {
			return Object{}, fmt.Errorf("part %d: %+v does not match what was uploaded", i+1, p)
		}
		whole = append(whole, body...)
		sums = append(sums, md5.Sum(body))
	}
	s.objects = map[string][]byte{key: whole}
	s.etag = MultipartETag(sums)
	if s.lostAnswer {
		return Object{}, ErrNoSuchUpload
	}
	return Object{Key: key, ETag: s.etag, Size: int64(len(whole))}, nil
}

func (s *partStore) AbortMultipart(ctx context.Context, key, id string) error {
	s.aborted = true
	return nil
}

func (s *partStore) Put(ctx context.Context, key string, body []byte, opts PutOptions) (Object, error) {
	s.put = bytes.Clone(body)
	return Object{Key: key, ETag: hexMD5(body), Size: int64(len(body))}, nil
}

func (s *partStore) List(context.Context, string, func(Object) error) error {
	return errors.New("not used")
}
func (s *partStore) Head(ctx context.Context, key string) (Object, error) {
	body, ok := s.objects[key]
	if !ok {
		return Object{}, ErrNotFound
	}
	return Object{Key: key, ETag: s.etag, Size: int64(len(body))}, nil
}

// hexMD5 is the ETag S3 gives body as an object or a part.
func hexMD5(body []byte) string {
	sum := md5.Sum(body)
	return hex.EncodeToString(sum[:])
}
func (s *partStore) Get(context.Context, string) (io.ReadCloser, Object, error) {
	return nil, Object{}, errors.New("not used")
}
func (s *partStore) Delete(context.Context, ...string) error { return errors.New("not used") }

// TestPutReaderMultipart: the non-resuming upload of the mirror goes through
// the files' part transfer: every part in order, the object whole, its ETag
// the one S3 computes; a failed part aborts the upload.
func TestPutReaderMultipart(t *testing.T) {
	data := make([]byte, 2*minPartSize+12345)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	st := &partStore{}
	u := &uploader{store: Bucket{Objects: st, Multipart: st}, buffers: newBufferPool(2, minPartSize), partSize: minPartSize}
	obj, err := u.putReader(context.Background(), "k", bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.parts) != 3 || !bytes.Equal(st.objects["k"], data) || st.aborted {
		t.Fatalf("putReader sent %d parts, object intact %v, aborted %v; want 3 parts, the data, no abort",
			len(st.parts), bytes.Equal(st.objects["k"], data), st.aborted)
	}
	var sums [][16]byte
	for start := 0; start < len(data); start += minPartSize {
		sums = append(sums, md5.Sum(data[start:min(start+minPartSize, len(data))]))
	}
	if want := MultipartETag(sums); obj.ETag != want {
		t.Errorf("ETag %s; want %s", obj.ETag, want)
	}

	small := []byte("a small mirror")
	if _, err := u.putReader(context.Background(), "s", bytes.NewReader(small), int64(len(small))); err != nil || !slices.Equal(st.put, small) {
		t.Errorf("small putReader: %v, put %q; want one PutObject of the data", err, st.put)
	}

	lost := &partStore{lostAnswer: true}
	u.store = Bucket{Objects: lost, Multipart: lost}
	if obj, err := u.putReader(context.Background(), "k", bytes.NewReader(data), int64(len(data))); err != nil || obj.ETag != MultipartETag(sums) || lost.aborted {
		t.Errorf("putReader with the Complete answer lost = %+v, %v, aborted %v; want the object settled by its ETag", obj, err, lost.aborted)
	}

	failing := &partStore{failAt: 2}
	u.store = Bucket{Objects: failing, Multipart: failing}
	if _, err := u.putReader(context.Background(), "k", bytes.NewReader(data), int64(len(data))); !errors.Is(err, ErrAccessDenied) || !failing.aborted {
		t.Errorf("putReader with a failing part: %v, aborted %v; want the part's error and the upload aborted", err, failing.aborted)
	}
}
