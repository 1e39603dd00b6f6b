package memstore

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	gosync "sync"
	"time"

	"github.com/s3seal/s3seal/sync"
)

// Op names an operation, as Store.Hook receives it: one per method.
type Op string

// The operations.
const (
	OpList              Op = "List"
	OpHead              Op = "Head"
	OpGet               Op = "Get"
	OpPut               Op = "Put"
	OpDelete            Op = "Delete"
	OpCopy              Op = "Copy"
	OpCreateMultipart   Op = "CreateMultipart"
	OpUploadPart        Op = "UploadPart"
	OpListParts         Op = "ListParts"
	OpCompleteMultipart Op = "CompleteMultipart"
	OpAbortMultipart    Op = "AbortMultipart"
	OpUploads           Op = "Uploads"
	OpCreateBucket      Op = "CreateBucket"
	OpGetRange          Op = "GetRange"
	OpUploadPartCopy    Op = "UploadPartCopy"
)

// Writes reports whether op can change what the bucket holds.
func (op Op) Writes() bool {
	switch op {
	case OpList, OpHead, OpGet, OpListParts, OpUploads, OpGetRange:
		return false
	}
	return true
}

// DefaultMinPartSize is S3's smallest part other than the last, 5 MiB.
const DefaultMinPartSize = 5 << 20

// Errors of CompleteMultipart, S3's InvalidPart (or InvalidPartOrder) and
// EntityTooSmall.
var (
	ErrInvalidPart  = errors.New("part not uploaded, out of order, or with another ETag")
	ErrPartTooSmall = errors.New("part smaller than the minimum")
)

// Store is an in-memory bucket. Make one with New, and set its fields
// before goroutines share it.
type Store struct {
	// MinPartSize is the smallest part other than the last that
	// CompleteMultipart accepts; New sets DefaultMinPartSize.
	MinPartSize int64
	// Hook, when not nil, is called before every operation with the
	// operation, the key it is about (the destination of a Copy, the prefix
	// of a List or Uploads, each key of a Delete in turn) and the part
	// number of an UploadPart (else 0). An error from it fails the
	// operation, wrapped. It is called without the store's lock, from many
	// goroutines at once: it may block, and does its own locking.
	Hook func(op Op, key string, part int32) error

	name string

	mu       gosync.Mutex // guards what follows
	exists   bool
	objects  map[string]object
	uploads  map[string]*upload // by upload ID
	uploadNo int                // the number of the last upload started
}

// object is one stored object. Its body is never written once stored, so
// readers can share it.
type object struct {
	body     []byte
	etag     string
	class    string
	modified time.Time
}

// upload is an unfinished multipart upload and its parts by number.
type upload struct {
	id        string
	key       string
	class     string
	initiated time.Time
	no        int // the order of initiation
	parts     map[int32][]byte
}

// New returns an empty bucket called name, which exists.
func New(name string) *Store {
	return &Store{MinPartSize: DefaultMinPartSize, name: name, exists: true,
		objects: make(map[string]object), uploads: make(map[string]*upload)}
}

// Bucket returns the store as the engine takes it.
func (s *Store) Bucket() sync.Bucket {
	return sync.Bucket{Name: s.name, Objects: s, Multipart: s, Copier: s, UploadLister: s, BucketCreator: s, Ranges: s}
}

// Exists reports whether the bucket exists.
func (s *Store) Exists() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exists
}

// CreateBucket makes a dropped bucket exist again, empty; creating one that
// exists is not an error (the caller owns it).
func (s *Store) CreateBucket(ctx context.Context) error {
	if s.Hook != nil {
		if err := s.Hook(OpCreateBucket, "", 0); err != nil {
			return s.errorf(OpCreateBucket, "", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return s.errorf(OpCreateBucket, "", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.exists = true
	return nil
}

// Drop deletes the bucket with its objects and uploads: from then on every
// operation fails with sync.ErrNoSuchBucket.
func (s *Store) Drop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.exists = false
	clear(s.objects)
	clear(s.uploads)
}

// start begins an operation: it calls the hook, checks ctx and that the
// bucket exists, and returns with s.mu held, unless it returns an error.
func (s *Store) start(ctx context.Context, op Op, key string, part int32) error {
	if s.Hook != nil {
		if err := s.Hook(op, key, part); err != nil {
			return s.errorf(op, key, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return s.errorf(op, key, err)
	}
	s.mu.Lock()
	if !s.exists {
		s.mu.Unlock()
		return s.errorf(op, key, sync.ErrNoSuchBucket)
	}
	return nil
}

// errorf names the operation and the address in err, as sync's contract asks.
func (s *Store) errorf(op Op, key string, err error) error {
	return fmt.Errorf("%s s3://%s/%s: %w", op, s.name, key, err)
}

func md5Hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

func (o object) describe(key string) sync.Object {
	class := o.class
	if class == "" {
		class = "STANDARD" // as S3 lists an object put without one
	}
	return sync.Object{Key: key, ETag: o.etag, Size: int64(len(o.body)), StorageClass: class, LastModified: o.modified}
}

// List calls fn for every object whose key starts with prefix, in key
// order, as the objects were when List began.
func (s *Store) List(ctx context.Context, prefix string, fn func(sync.Object) error) error {
	if err := s.start(ctx, OpList, prefix, 0); err != nil {
		return err
	}
	var listed []sync.Object
	for key, o := range s.objects {
		if strings.HasPrefix(key, prefix) {
			listed = append(listed, o.describe(key))
		}
	}
	s.mu.Unlock() // fn may call the store
	sort.Slice(listed, func(i, j int) bool { return listed[i].Key < listed[j].Key })
	for _, o := range listed {
		if err := fn(o); err != nil {
			return err
		}
	}
	return nil
}

// ListFolder calls object for every object directly under prefix and folder
// for every folder below it, each in key order, as ListObjectsV2 with a
// delimiter of "/" does. Bucket leaves it out; a test that wants listings
// split by folder sets Bucket().Folders to the store.
func (s *Store) ListFolder(ctx context.Context, prefix string, object func(sync.Object) error, folder func(string) error) error {
	if err := s.start(ctx, OpList, prefix, 0); err != nil {
		return err
	}
	var listed []sync.Object
	folders := make(map[string]bool)
	for key, o := range s.objects {
		rest, ok := strings.CutPrefix(key, prefix)
		if !ok {
			continue
		}
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			folders[prefix+rest[:i+1]] = true
		} else {
			listed = append(listed, o.describe(key))
		}
	}
	s.mu.Unlock() // the callbacks may call the store
	sort.Slice(listed, func(i, j int) bool { return listed[i].Key < listed[j].Key })
	for _, o := range listed {
		if err := object(o); err != nil {
			return err
		}
	}
	for _, f := range slices.Sorted(maps.Keys(folders)) {
		if err := folder(f); err != nil {
			return err
		}
	}
	return nil
}

// Head describes an object; a missing one is sync.ErrNotFound.
func (s *Store) Head(ctx context.Context, key string) (sync.Object, error) {
	if err := s.start(ctx, OpHead, key, 0); err != nil {
		return sync.Object{}, err
	}
	defer s.mu.Unlock()
	o, ok := s.objects[key]
	if !ok {
		return sync.Object{}, s.errorf(OpHead, key, sync.ErrNotFound)
	}
	return o.describe(key), nil
}

// Get returns an object's body and description; a missing one is
// sync.ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, sync.Object, error) {
	if err := s.start(ctx, OpGet, key, 0); err != nil {
		return nil, sync.Object{}, err
	}
	defer s.mu.Unlock()
	o, ok := s.objects[key]
	if !ok {
		return nil, sync.Object{}, s.errorf(OpGet, key, sync.ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(o.body)), o.describe(key), nil
}

// Put stores a copy of body as key and returns its description; the ETag
// is the body's MD5.
func (s *Store) Put(ctx context.Context, key string, body []byte, opts sync.PutOptions) (sync.Object, error) {
	if err := s.start(ctx, OpPut, key, 0); err != nil {
		return sync.Object{}, err
	}
	defer s.mu.Unlock()
	o := object{body: bytes.Clone(body), etag: md5Hex(body), class: opts.StorageClass, modified: time.Now()}
	s.objects[key] = o
	return o.describe(key), nil
}

// Delete removes keys; missing ones are not an error.
func (s *Store) Delete(ctx context.Context, keys ...string) error {
	for _, key := range keys {
		if err := s.start(ctx, OpDelete, key, 0); err != nil {
			return err
		}
		delete(s.objects, key)
		s.mu.Unlock()
	}
	return nil
}

// Copy makes dstKey a copy of srcKey. Its ETag is the body's MD5, as S3
// gives an object copied with CopyObject: the source's own ETag when that
// was a single-part object. A missing source is sync.ErrNotFound.
func (s *Store) Copy(ctx context.Context, srcKey, dstKey string, opts sync.PutOptions) (sync.Object, error) {
	if err := s.start(ctx, OpCopy, dstKey, 0); err != nil {
		return sync.Object{}, err
	}
	defer s.mu.Unlock()
	src, ok := s.objects[srcKey]
	if !ok {
		return sync.Object{}, s.errorf(OpCopy, srcKey, sync.ErrNotFound)
	}
	o := object{body: src.body, etag: md5Hex(src.body), class: opts.StorageClass, modified: time.Now()}
	s.objects[dstKey] = o
	return o.describe(dstKey), nil
}

// errChanged fails a range operation whose object's ETag is not the one
// given, as S3's If-Match does (412 PreconditionFailed).
var errChanged = fmt.Errorf("precondition failed: the object's ETag is not the one given: %w", sync.ErrObjectChanged)

// rangeOf returns the bytes [off, off+n) of key's body (fewer at its end)
// if its ETag is etag; call it with s.mu held.
func (s *Store) rangeOf(op Op, key, etag string, off, n int64) ([]byte, error) {
	o, ok := s.objects[key]
	switch {
	case !ok:
		return nil, s.errorf(op, key, sync.ErrNotFound)
	case o.etag != etag:
		return nil, s.errorf(op, key, errChanged)
	case off < 0 || n < 1 || off >= int64(len(o.body)):
		return nil, s.errorf(op, key, fmt.Errorf("range %d+%d is not inside the object's %d bytes", off, n, len(o.body)))
	}
	return o.body[off:min(off+n, int64(len(o.body)))], nil
}

// GetRange copies len(buf) bytes of obj.Key from offset off into buf, if
// its ETag is obj.ETag. The store keeps no versions: obj.VersionID is not
// looked at.
func (s *Store) GetRange(ctx context.Context, obj sync.Object, off int64, buf []byte) (int, error) {
	if err := s.start(ctx, OpGetRange, obj.Key, 0); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	body, err := s.rangeOf(OpGetRange, obj.Key, obj.ETag, off, int64(len(buf)))
	return copy(buf, body), err
}

// UploadPartCopy stores the bytes [off, off+n) of srcKey, if its ETag is
// srcETag, as part number of the upload of key.
func (s *Store) UploadPartCopy(ctx context.Context, key, uploadID string, number int32, srcKey, srcETag string, off, n int64) (sync.Part, error) {
	if err := s.start(ctx, OpUploadPartCopy, key, number); err != nil {
		return sync.Part{}, err
	}
	defer s.mu.Unlock()
	up, err := s.upload(OpUploadPartCopy, key, uploadID)
	if err != nil {
		return sync.Part{}, err
	}
	body, err := s.rangeOf(OpUploadPartCopy, srcKey, srcETag, off, n)
	if err != nil {
		return sync.Part{}, err
	}
	up.parts[number] = body // object bodies are never written: sharing is safe
	return sync.Part{Number: number, ETag: md5Hex(body), Size: int64(len(body))}, nil
}

// CreateMultipart starts an upload of key and returns its ID.
func (s *Store) CreateMultipart(ctx context.Context, key string, opts sync.PutOptions) (string, error) {
	if err := s.start(ctx, OpCreateMultipart, key, 0); err != nil {
		return "", err
	}
	defer s.mu.Unlock()
	s.uploadNo++
	id := "upload-" + strconv.Itoa(s.uploadNo)
	s.uploads[id] = &upload{id: id, key: key, class: opts.StorageClass, initiated: time.Now(), no: s.uploadNo,
		parts: make(map[int32][]byte)}
	return id, nil
}

// upload returns the upload uploadID of key; call it with s.mu held.
func (s *Store) upload(op Op, key, uploadID string) (*upload, error) {
	up := s.uploads[uploadID]
	if up == nil || up.key != key {
		return nil, s.errorf(op, key, fmt.Errorf("%w: %s", sync.ErrNoSuchUpload, uploadID))
	}
	return up, nil
}

// UploadPart stores a copy of body as part number (1 to 10,000) of the
// upload, replacing a part sent before under that number. Like a server
// checking a signed payload hash, it refuses a body whose SHA-256 is not
// sum with an error matching sync.ErrBadDigest.
func (s *Store) UploadPart(ctx context.Context, key, uploadID string, number int32, body []byte, sum [sha256.Size]byte) (sync.Part, error) {
	if err := s.start(ctx, OpUploadPart, key, number); err != nil {
		return sync.Part{}, err
	}
	defer s.mu.Unlock()
	up, err := s.upload(OpUploadPart, key, uploadID)
	if err != nil {
		return sync.Part{}, err
	}
	if number < 1 || number > 10000 {
		return sync.Part{}, s.errorf(OpUploadPart, key, fmt.Errorf("part number %d is not between 1 and 10,000", number))
	}
	if sha256.Sum256(body) != sum {
		return sync.Part{}, s.errorf(OpUploadPart, key, fmt.Errorf("%w: part %d does not hash to the SHA-256 sent with it", sync.ErrBadDigest, number))
	}
	up.parts[number] = bytes.Clone(body)
	return sync.Part{Number: number, ETag: md5Hex(body), Size: int64(len(body))}, nil
}

// ListParts returns the upload's parts in part order.
func (s *Store) ListParts(ctx context.Context, key, uploadID string) ([]sync.Part, error) {
	if err := s.start(ctx, OpListParts, key, 0); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	up, err := s.upload(OpListParts, key, uploadID)
	if err != nil {
		return nil, err
	}
	parts := make([]sync.Part, 0, len(up.parts))
	for number, body := range up.parts {
		parts = append(parts, sync.Part{Number: number, ETag: md5Hex(body), Size: int64(len(body))})
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].Number < parts[j].Number })
	return parts, nil
}

// CompleteMultipart makes the given parts, which must be uploaded ones in
// ascending order with their ETags, one object, and returns its
// description, with the ETag sync.MultipartETag of the parts. Every part but the last must have at
// least MinPartSize bytes. Uploaded parts left out are discarded.
func (s *Store) CompleteMultipart(ctx context.Context, key, uploadID string, parts []sync.Part) (sync.Object, error) {
	if err := s.start(ctx, OpCompleteMultipart, key, 0); err != nil {
		return sync.Object{}, err
	}
	defer s.mu.Unlock()
	up, err := s.upload(OpCompleteMultipart, key, uploadID)
	if err != nil {
		return sync.Object{}, err
	}
	if len(parts) == 0 {
		return sync.Object{}, s.errorf(OpCompleteMultipart, key, fmt.Errorf("%w: no parts given", ErrInvalidPart))
	}
	var body []byte
	sums := make([][16]byte, len(parts))
	for i, p := range parts {
		held, ok := up.parts[p.Number]
		switch {
		case i > 0 && p.Number <= parts[i-1].Number:
			return sync.Object{}, s.errorf(OpCompleteMultipart, key, fmt.Errorf("%w: part %d after part %d", ErrInvalidPart, p.Number, parts[i-1].Number))
		case !ok || md5Hex(held) != p.ETag:
			return sync.Object{}, s.errorf(OpCompleteMultipart, key, fmt.Errorf("%w: part %d with ETag %s", ErrInvalidPart, p.Number, p.ETag))
		case i < len(parts)-1 && int64(len(held)) < s.MinPartSize:
			return sync.Object{}, s.errorf(OpCompleteMultipart, key, fmt.Errorf("%w: part %d has %d bytes, under %d", ErrPartTooSmall, p.Number, len(held), s.MinPartSize))
		}
		body = append(body, held...)
		sums[i] = md5.Sum(held)
	}
	o := object{body: body, etag: sync.MultipartETag(sums), class: up.class, modified: time.Now()}
	s.objects[key] = o
	delete(s.uploads, uploadID)
	return o.describe(key), nil
}

// AbortMultipart discards the upload and its parts. An upload that does not
// exist is not an error: it is gone either way (s3store does the same with
// S3's NoSuchUpload).
func (s *Store) AbortMultipart(ctx context.Context, key, uploadID string) error {
	if err := s.start(ctx, OpAbortMultipart, key, 0); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if up := s.uploads[uploadID]; up != nil && up.key == key {
		delete(s.uploads, uploadID)
	}
	return nil
}

// Uploads returns the unfinished uploads of keys starting with prefix, by
// key, then in the order they were started.
func (s *Store) Uploads(ctx context.Context, prefix string) ([]sync.MultipartUpload, error) {
	if err := s.start(ctx, OpUploads, prefix, 0); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var ups []*upload
	for _, up := range s.uploads {
		if strings.HasPrefix(up.key, prefix) {
			ups = append(ups, up)
		}
	}
	sort.Slice(ups, func(i, j int) bool {
		if ups[i].key != ups[j].key {
			return ups[i].key < ups[j].key
		}
		return ups[i].no < ups[j].no
	})
	out := make([]sync.MultipartUpload, len(ups))
	for i, up := range ups {
		out[i] = sync.MultipartUpload{Key: up.key, UploadID: up.id, Initiated: up.initiated}
	}
	return out, nil
}
