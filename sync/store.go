package sync

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strconv"
	"time"
)

// The engine's contract with a bucket: the types and interfaces below are
// all it knows of S3. sync/s3store implements them with the AWS SDK and
// cmd/ wires it in; sync/memstore implements them in memory for tests.
// Every key is a whole object key (the prefix is the engine's business).

// Object describes one object as the bucket lists, heads or gets it.
type Object struct {
	Key          string
	ETag         string // without quotes
	Size         int64
	StorageClass string
	LastModified time.Time
	Metadata     map[string]string // user metadata; filled by Head and Get
	// VersionID is the version written or read, on a versioned bucket
	// ("" elsewhere); filled by Put, Copy, CompleteMultipart, Head and Get.
	VersionID string
}

// PutOptions are the options of an upload or copy.
type PutOptions struct {
	// StorageClass is the S3 storage class ("" = the bucket's default).
	StorageClass string
	// Retention, if set, locks the version written (Object Lock).
	Retention *Retention
}

// Part is one uploaded part of a multipart upload.
type Part struct {
	Number int32
	ETag   string // without quotes
	Size   int64
}

// MultipartUpload is an unfinished multipart upload.
type MultipartUpload struct {
	Key       string
	UploadID  string
	Initiated time.Time
}

// Errors the engine branches on. A store's errors match them with errors.Is
// and name the operation, the bucket and the key in their message.
var (
	// ErrNoSuchBucket means the bucket does not exist.
	ErrNoSuchBucket = errors.New("bucket does not exist")
	// ErrNotFound means the object does not exist.
	ErrNotFound = errors.New("object not found")
	// ErrNoSuchUpload means the multipart upload does not exist: it was
	// completed, aborted or expired.
	ErrNoSuchUpload = errors.New("multipart upload not found")
	// ErrAccessDenied means the credentials are valid but not allowed to do
	// the operation.
	ErrAccessDenied = errors.New("access denied")
	// ErrBadCredentials means the server rejected the credentials, or none
	// were found.
	ErrBadCredentials = errors.New("credentials rejected")
	// ErrUnreachable means the endpoint could not be reached after the
	// retries.
	ErrUnreachable = errors.New("endpoint unreachable")
	// ErrInvalidObjectState means the object is archived (GLACIER,
	// DEEP_ARCHIVE, ...) and must be restored before it can be read.
	ErrInvalidObjectState = errors.New("object is archived")
	// ErrBadDigest means the server refused an upload whose body does not
	// hash to the checksum or signed payload hash it was sent with: the
	// body arrived damaged, and nothing was stored.
	ErrBadDigest = errors.New("upload arrived damaged")
	// ErrNotImplemented means the server does not implement the operation
	// (HTTP 501 NotImplemented, or 405 MethodNotAllowed): an optional part
	// of S3, such as ListMultipartUploads or ListParts, that it lacks.
	ErrNotImplemented = errors.New("not implemented by the server")
	// ErrInvalidStorageClass means the server refuses the storage class of
	// an upload or copy; it would refuse it for every object.
	ErrInvalidStorageClass = errors.New("storage class refused by the server")
)

// Objects reads and writes whole objects.
type Objects interface {
	// List calls fn for every object whose key starts with prefix, in key
	// order. An error from fn stops the listing and is returned as is.
	List(ctx context.Context, prefix string, fn func(Object) error) error
	// Head describes one object; a missing one is ErrNotFound.
	Head(ctx context.Context, key string) (Object, error)
	// Get returns an object's body, and its description as the response
	// gives it; the caller closes the body.
	Get(ctx context.Context, key string) (io.ReadCloser, Object, error)
	// Put uploads body as one object and returns its key, ETag, size and
	// version.
	Put(ctx context.Context, key string, body []byte, opts PutOptions) (Object, error)
	// Delete removes objects; missing ones are not an error.
	Delete(ctx context.Context, keys ...string) error
}

// Multipart uploads one object in parts.
type Multipart interface {
	// CreateMultipart starts an upload of key and returns its ID.
	CreateMultipart(ctx context.Context, key string, opts PutOptions) (string, error)
	// UploadPart sends part number (from 1) of the upload; sum is the
	// SHA-256 of body, which the store may send for the server to check
	// the body against (a body that does not match is ErrBadDigest).
	UploadPart(ctx context.Context, key, uploadID string, number int32, body []byte, sum [sha256.Size]byte) (Part, error)
	// ListParts returns the parts the server holds, in order.
	ListParts(ctx context.Context, key, uploadID string) ([]Part, error)
	// CompleteMultipart makes the parts one object and returns its key,
	// ETag as the answer gives it, size and version.
	CompleteMultipart(ctx context.Context, key, uploadID string, parts []Part) (Object, error)
	// AbortMultipart discards the upload and its parts.
	AbortMultipart(ctx context.Context, key, uploadID string) error
}

// Copier makes server-side copies.
type Copier interface {
	// Copy makes dst a copy of src and returns dst's key, ETag and version.
	Copy(ctx context.Context, srcKey, dstKey string, opts PutOptions) (Object, error)
}

// RangeCopier reads and copies byte ranges of objects: restore and deep
// audit fetch a large object as ranges in parallel, and rekey has the
// server build an object from most of another one.
type RangeCopier interface {
	// GetRange reads the bytes of obj.Key from offset off into buf,
	// len(buf) of them (fewer at the end of the object), and returns how
	// many, as long as the object is obj: its ETag is obj.ETag, and it is
	// the version obj.VersionID when that is given. Another object is an
	// error wrapping ErrObjectChanged; a body that broke off, one wrapping
	// ErrTransfer.
	GetRange(ctx context.Context, obj Object, off int64, buf []byte) (int, error)
	// UploadPartCopy makes the bytes [off, off+n) of srcKey, as long as its
	// ETag is srcETag, part number of the upload of key.
	UploadPartCopy(ctx context.Context, key, uploadID string, number int32, srcKey, srcETag string, off, n int64) (Part, error)
}

// UploadLister lists unfinished multipart uploads.
type UploadLister interface {
	// Uploads returns the unfinished uploads of keys starting with prefix.
	Uploads(ctx context.Context, prefix string) ([]MultipartUpload, error)
}

// FolderLister lists one level of a prefix, as ListObjectsV2 with a
// delimiter of "/" does.
type FolderLister interface {
	// ListFolder calls object for every object whose key is prefix and a
	// name without "/", and folder for each distinct folder below prefix
	// (prefix, a name, and "/"), each in key order. An error from either
	// stops the listing and is returned as is.
	ListFolder(ctx context.Context, prefix string, object func(Object) error, folder func(string) error) error
}

// BucketCreator creates the bucket itself.
type BucketCreator interface {
	// CreateBucket creates the bucket; one that exists and is the
	// caller's is not an error.
	CreateBucket(ctx context.Context) error
}

// Bucket is the store the engine works on: one bucket, through the
// interfaces above (usually one value implementing them all), and its name
// for messages. History is optional: nil for a store that keeps no
// versions, which the engine treats as a bucket that cannot.
type Bucket struct {
	Name string
	Objects
	Multipart
	Copier
	UploadLister
	BucketCreator
	// History reads versions; nil for a store that keeps none.
	History History
	// Ranges reads and copies ranges; nil for a store that cannot
	// (rekey needs it; restore then reads every object as one stream).
	Ranges RangeCopier
	// Folders lists one level of a prefix; with it a listing of many
	// objects is split by folder and read in parallel (see listEach). Nil:
	// one listing, page after page.
	Folders FolderLister
}

// url is the s3:// address of prefix in the bucket, for messages.
func (b Bucket) url(prefix string) string {
	return "s3://" + b.Name + "/" + prefix
}

// MultipartETag returns the ETag S3 gives a multipart object made of parts
// with these MD5 digests, in part order: hex(md5(md5_1 || ... || md5_n)) + "-" + n.
func MultipartETag(partMD5s [][16]byte) string {
	hash := md5.New()
	for _, sum := range partMD5s {
		hash.Write(sum[:])
	}
	return hex.EncodeToString(hash.Sum(nil)) + "-" + strconv.Itoa(len(partMD5s))
}

// Version is one version of an object, or a delete marker, on a versioned
// bucket.
type Version struct {
	Key          string
	VersionID    string
	ETag         string // without quotes; "" for a delete marker
	Size         int64
	LastModified time.Time
	Latest       bool // the current version of its key
	DeleteMarker bool
}

// Retention is an Object Lock retention: the version cannot be deleted or
// overwritten before Until. Mode is RetentionGovernance (an account
// allowed to bypass governance can still delete it) or RetentionCompliance
// (nobody can, not even the bucket's owner).
type Retention struct {
	Mode  string
	Until time.Time
}

// Object Lock retention modes.
const (
	RetentionGovernance = "GOVERNANCE"
	RetentionCompliance = "COMPLIANCE"
)

// HistorySettings is what a bucket keeps of the past: whether versioning
// is on ("Enabled", "Suspended", or "" for never enabled), whether Object
// Lock is enabled, and the days its lifecycle keeps non-current versions
// under the prefix (0 = no such rule, or the server cannot tell).
type HistorySettings struct {
	Versioning string
	ObjectLock bool
	KeepDays   int
}

// Versioned reports whether new writes keep the versions they replace.
func (h HistorySettings) Versioned() bool { return h.Versioning == "Enabled" }

// History reads the versions a versioned bucket keeps, and protects them.
type History interface {
	// Settings says what the bucket keeps.
	Settings(ctx context.Context, prefix string) (HistorySettings, error)
	// Versions calls fn for every version and delete marker of the keys
	// starting with prefix, by key, newest first within a key.
	Versions(ctx context.Context, prefix string, fn func(Version) error) error
	// GetVersion is Objects.Get of one version.
	GetVersion(ctx context.Context, key, versionID string) (io.ReadCloser, Object, error)
	// Retain sets or extends the retention of one version.
	Retain(ctx context.Context, key, versionID string, r Retention) error
}
