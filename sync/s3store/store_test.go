package s3store_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/s3seal/s3seal/sync"
	"github.com/s3seal/s3seal/sync/s3store"
	"github.com/s3seal/s3seal/sync/s3store/s3test"
)

func TestPutHeadGetRoundTrip(t *testing.T) {
	t.Parallel()
	srv := s3test.Get(t)
	store, cfg := newStore(t)
	for _, size := range []int{0, 1, 64 << 10, 3<<20 + 17} {
		key := fmt.Sprintf("dir/object-%d", size)
		body := randomBytes(t, size)
		etag := put(t, store, key, body)
		if want := md5Hex(body); etag != want {
			t.Errorf("Put(%s) ETag = %q; want the body's MD5 %q", key, etag, want)
		}
		obj, err := store.Head(context.Background(), key)
		if err != nil {
			t.Fatalf("Head(%s) = %v", key, err)
		}
		if obj.Key != key || obj.ETag != etag || obj.Size != int64(size) {
			t.Errorf("Head(%s) = {Key %q, ETag %q, Size %d}; want {%q, %q, %d}",
				key, obj.Key, obj.ETag, obj.Size, key, etag, size)
		}
		if len(obj.Metadata) != 0 {
			t.Errorf("Head(%s) Metadata = %v; want none (no user metadata is sent)", key, obj.Metadata)
		}
		if fi, err := os.Stat(filepath.Join(srv.Dir, cfg.Bucket, key)); err != nil {
			t.Errorf("the object %s in the gateway's backend: %v", key, err)
		} else if want := fi.ModTime().Truncate(time.Second); !obj.LastModified.Equal(want) {
			t.Errorf("Head(%s) LastModified = %v; want %v, the mtime of its file in the backend", key, obj.LastModified, want)
		}
		if got := get(t, store, key); !equalBytes(got, body) {
			t.Errorf("Get(%s) returned %d bytes differing from the %d put", key, len(got), size)
		}
	}
	if got := store.Bucket(); got != cfg.Bucket {
		t.Errorf("Bucket() = %q; want %q", got, cfg.Bucket)
	}
}

func TestPutReplacesObject(t *testing.T) {
	t.Parallel()
	store, _ := newStore(t)
	put(t, store, "k", []byte("first version"))
	second := []byte("second, longer version")
	put(t, store, "k", second)
	if got := get(t, store, "k"); !equalBytes(got, second) {
		t.Errorf("Get(k) after two Puts = %q; want %q", got, second)
	}
}

// TestPutETagIsOpaque: whatever token the server answers, MD5-shaped or
// not, Put returns it as the ETag and does not second-guess it (the signed
// payload hash is the integrity check, see TestCorruptUploadRefused).
func TestPutETagIsOpaque(t *testing.T) {
	t.Parallel()
	srv := s3test.Get(t)
	bucket := srv.NewBucket(t)
	for _, serverETag := range []string{"0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef-2", "opaque"} {
		cfg, _ := withRecorder(srv.Config(bucket), replaceETag(serverETag))
		store := openStore(t, cfg)
		written, err := store.Put(context.Background(), "k", []byte("body"), sync.PutOptions{})
		if err != nil || written.ETag != serverETag {
			t.Errorf("Put with server ETag %q = %q, %v; want the server's ETag", serverETag, written.ETag, err)
		}
	}
}

func TestNoRequestAsksFor100Continue(t *testing.T) {
	t.Parallel()
	srv := s3test.Get(t)
	cfg, rec := withRecorder(srv.Config(srv.NewBucket(t)), nil)
	store := openStore(t, cfg)
	ctx := context.Background()
	body := randomBytes(t, 16<<20)
	put(t, store, "big", body)
	uploadID, err := store.CreateMultipart(ctx, "multi", sync.PutOptions{})
	if err != nil {
		t.Fatalf("CreateMultipart = %v", err)
	}
	if _, err := store.UploadPart(ctx, "multi", uploadID, 1, body[:6<<20], sha256.Sum256(body[:6<<20])); err != nil {
		t.Fatalf("UploadPart = %v", err)
	}
	if err := store.AbortMultipart(ctx, "multi", uploadID); err != nil {
		t.Fatalf("AbortMultipart = %v", err)
	}
	puts := rec.count(func(r recordedRequest) bool { return r.method == http.MethodPut })
	if puts != 2 {
		t.Errorf("recorded %d PUT requests; want 2 (PutObject, UploadPart)", puts)
	}
	if n := rec.count(func(r recordedRequest) bool { return r.header.Get("Expect") != "" }); n != 0 {
		t.Errorf("%d requests carry an Expect header; want none (100-continue stalls some servers)", n)
	}
	if n := rec.count(func(r recordedRequest) bool {
		return r.method == http.MethodPut && len(r.header.Get("X-Amz-Content-Sha256")) != 2*sha256.Size
	}); n != 0 {
		t.Errorf("%d PUT requests lack a signed payload SHA-256; want every upload to carry one", n)
	}
}

func TestListPaginatesByThousand(t *testing.T) {
	t.Parallel()
	srv := s3test.Get(t)
	cfg, rec := withRecorder(srv.Config(srv.NewBucket(t)), nil)
	store := openStore(t, cfg)
	const count = 2500
	want := make([]string, count)
	for i := range want {
		want[i] = fmt.Sprintf("p/%05d", i)
	}
	group, ctx := errgroup.WithContext(context.Background())
	group.SetLimit(8)
	for _, key := range append(slices.Clone(want), "o", "q/outside", "pa", "p.txt") {
		group.Go(func() error {
			_, err := store.Put(ctx, key, []byte(key), sync.PutOptions{})
			return err
		})
	}
	if err := group.Wait(); err != nil {
		t.Fatalf("Put %d objects: %v", count, err)
	}
	before := rec.count(isListObjectsV2)
	var got []string
	err := store.List(context.Background(), "p/", func(obj sync.Object) error {
		if wantETag := md5Hex([]byte(obj.Key)); obj.ETag != wantETag || obj.Size != int64(len(obj.Key)) {
			return fmt.Errorf("object %s: ETag %q, size %d; want %q, %d", obj.Key, obj.ETag, obj.Size, wantETag, len(obj.Key))
		}
		got = append(got, obj.Key)
		return nil
	})
	if err != nil {
		t.Fatalf("List(p/) = %v", err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("List(p/) returned %d keys; want the %d keys p/00000..p/%05d in order", len(got), count, count-1)
	}
	if pages := rec.count(isListObjectsV2) - before; pages != 3 {
		t.Errorf("List(p/) of %d objects sent %d ListObjectsV2 requests; want 3", count, pages)
	}
}

// TestListFolder lists one level of a prefix on the gateway: the objects
// directly under it, and each folder below it once, whatever it holds,
// multi-byte names included.
func TestListFolder(t *testing.T) {
	t.Parallel()
	store, _ := newStore(t)
	for _, key := range []string{"p/top", "p/ab/1", "p/ab/2", "p/ab/deep/3", "p/é/4", "p/z/5", "pa/6", "q/7"} {
		put(t, store, key, []byte(key))
	}
	var objects, folders []string
	err := store.ListFolder(context.Background(), "p/",
		func(o sync.Object) error { objects = append(objects, o.Key); return nil },
		func(f string) error { folders = append(folders, f); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"p/top"}; !slices.Equal(objects, want) {
		t.Errorf("ListFolder objects %q; want %q", objects, want)
	}
	if want := []string{"p/ab/", "p/z/", "p/é/"}; !slices.Equal(folders, want) {
		t.Errorf("ListFolder folders %q; want %q", folders, want)
	}
}

func TestListStopsOnCallbackError(t *testing.T) {
	t.Parallel()
	store, _ := newStore(t)
	for _, key := range []string{"a", "b", "c"} {
		put(t, store, key, []byte(key))
	}
	stop := errors.New("stop here")
	calls := 0
	err := store.List(context.Background(), "", func(sync.Object) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("List with a failing callback = %v after %d calls; want %v after 1", err, calls, stop)
	}
}

func TestMissingObjects(t *testing.T) {
	t.Parallel()
	store, cfg := newStore(t)
	ctx := context.Background()
	_, _, err := store.Get(ctx, "missing/key")
	if !errors.Is(err, sync.ErrNotFound) {
		t.Errorf("Get(missing) = %v; want ErrNotFound", err)
	}
	if want := "get s3://" + cfg.Bucket + "/missing/key: "; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Get(missing) error = %q; want it to start with %q", err, want)
	}
	if _, err := store.Head(ctx, "missing/key"); !errors.Is(err, sync.ErrNotFound) {
		t.Errorf("Head(missing) = %v; want ErrNotFound", err)
	}
}

func TestDelete(t *testing.T) {
	t.Parallel()
	store, _ := newStore(t)
	for _, key := range []string{"a", "b", "c"} {
		put(t, store, key, []byte(key))
	}
	if err := store.Delete(context.Background(), "a", "c", "never-existed"); err != nil {
		t.Fatalf("Delete(a, c, never-existed) = %v", err)
	}
	if got, want := keys(t, store, ""), []string{"b"}; !slices.Equal(got, want) {
		t.Errorf("keys after Delete(a, c) = %v; want %v", got, want)
	}
	if err := store.Delete(context.Background()); err != nil {
		t.Errorf("Delete() = %v; want nil", err)
	}
}

func TestDeleteMoreThanOneBatch(t *testing.T) {
	t.Parallel()
	srv := s3test.Get(t)
	cfg, rec := withRecorder(srv.Config(srv.NewBucket(t)), nil)
	store := openStore(t, cfg)
	var names []string
	for i := range 1001 {
		names = append(names, fmt.Sprintf("gone/%04d", i))
	}
	put(t, store, names[0], []byte("x"))
	put(t, store, names[1000], []byte("y"))
	if err := store.Delete(context.Background(), names...); err != nil {
		t.Fatalf("Delete(1001 keys) = %v", err)
	}
	if got := keys(t, store, ""); len(got) != 0 {
		t.Errorf("keys after Delete = %v; want none", got)
	}
	isDelete := func(r recordedRequest) bool { _, ok := r.query["delete"]; return ok && r.method == http.MethodPost }
	if n := rec.count(isDelete); n != 2 {
		t.Errorf("Delete(1001 keys) sent %d DeleteObjects requests; want 2", n)
	}
}

func TestCopy(t *testing.T) {
	t.Parallel()
	store, _ := newStore(t)
	ctx := context.Background()
	body := randomBytes(t, 100<<10)
	src := "dir/source file+plus&amp=ü"
	srcETag := put(t, store, src, body)
	written, err := store.Copy(ctx, src, "copies/dst", sync.PutOptions{})
	etag := written.ETag
	if err != nil {
		t.Fatalf("Copy = %v", err)
	}
	if etag != srcETag {
		t.Errorf("Copy ETag = %q; want the source's %q", etag, srcETag)
	}
	if got := get(t, store, "copies/dst"); !equalBytes(got, body) {
		t.Errorf("Get(copy) differs from the source")
	}
	if _, err := store.Copy(ctx, "missing", "dst2", sync.PutOptions{}); !errors.Is(err, sync.ErrNotFound) {
		t.Errorf("Copy(missing) = %v; want ErrNotFound", err)
	}
}

func TestCopyLargeUsesParts(t *testing.T) {
	t.Parallel()
	store, _ := newStore(t)
	const partSize = 5 << 20
	s3store.SetCopyLimits(store, 1<<20, partSize)
	body := randomBytes(t, 2*partSize+12345)
	put(t, store, "src", body)
	written, err := store.Copy(context.Background(), "src", "dst", sync.PutOptions{})
	etag := written.ETag
	if err != nil {
		t.Fatalf("Copy = %v", err)
	}
	want := sync.MultipartETag(partMD5s(body, partSize))
	if etag != want {
		t.Errorf("multipart Copy ETag = %q; want %q", etag, want)
	}
	if got := get(t, store, "dst"); !equalBytes(got, body) {
		t.Errorf("Get(multipart copy) differs from the source")
	}
}

func TestCheckAndCreateBucket(t *testing.T) {
	t.Parallel()
	srv := s3test.Get(t)
	ctx := context.Background()
	name := fmt.Sprintf("s3seal-create-%d", time.Now().UnixNano())
	store := openStore(t, srv.Config(name))
	err := store.CheckBucket(ctx)
	if !errors.Is(err, sync.ErrNoSuchBucket) {
		t.Errorf("CheckBucket(missing) = %v; want ErrNoSuchBucket", err)
	}
	if _, err := store.Put(ctx, "k", []byte("x"), sync.PutOptions{}); !errors.Is(err, sync.ErrNoSuchBucket) {
		t.Errorf("Put into missing bucket = %v; want ErrNoSuchBucket", err)
	}
	for i := range 2 {
		if err := store.CreateBucket(ctx); err != nil {
			t.Fatalf("CreateBucket #%d = %v; want nil (creating an owned bucket again is success)", i+1, err)
		}
	}
	if err := store.CheckBucket(ctx); err != nil {
		t.Errorf("CheckBucket after CreateBucket = %v; want nil", err)
	}
	if info, err := os.Stat(filepath.Join(srv.Dir, name)); err != nil || !info.IsDir() {
		t.Errorf("bucket %s has no directory in the backend: %v", name, err)
	}
	buckets, err := store.Buckets(ctx)
	if err != nil || !slices.Contains(buckets, name) {
		t.Errorf("Buckets() = %v, %v; want a list containing %s", buckets, err, name)
	}
}

func TestWrongSecretIsBadCredentials(t *testing.T) {
	t.Parallel()
	srv := s3test.Get(t)
	cfg := srv.Config(srv.NewBucket(t))
	cfg.SecretKey = "not-the-" + cfg.SecretKey
	store := openStore(t, cfg)
	err := store.CheckBucket(context.Background())
	if !errors.Is(err, sync.ErrBadCredentials) {
		t.Errorf("CheckBucket with a wrong secret = %v; want ErrBadCredentials", err)
	}
	if err != nil && strings.Contains(err.Error(), cfg.SecretKey) {
		t.Errorf("CheckBucket error %q contains the secret key", err)
	}
	if _, err := store.Put(context.Background(), "k", []byte("x"), sync.PutOptions{}); !errors.Is(err, sync.ErrBadCredentials) {
		t.Errorf("Put with a wrong secret = %v; want ErrBadCredentials", err)
	}
}

// TestClosedPortIsUnreachable checks that a closed port is ErrUnreachable,
// and is found so at once: CheckBucket dials once, with no retry and no
// backoff to wait for, however many attempts requests have.
func TestClosedPortIsUnreachable(t *testing.T) {
	t.Parallel()
	var dials atomic.Int32
	dialer := &net.Dialer{}
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, address string) (net.Conn, error) {
			dials.Add(1)
			return dialer.DialContext(ctx, network, address)
		},
	}}
	store := openStore(t, s3store.Config{
		Bucket:      "any-bucket",
		Endpoint:    "http://127.0.0.1:1",
		Region:      "us-east-1",
		AccessKey:   "key",
		SecretKey:   "secret",
		MaxAttempts: 2,
		HTTPClient:  client,
	})
	err := store.CheckBucket(context.Background())
	if !errors.Is(err, sync.ErrUnreachable) {
		t.Errorf("CheckBucket on a closed port = %v; want ErrUnreachable", err)
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("CheckBucket on a closed port dialed %d times with 2 attempts; want 1", n)
	}
}

func TestCanceledContextIsNotUnreachable(t *testing.T) {
	t.Parallel()
	store, _ := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := store.Put(ctx, "k", []byte("x"), sync.PutOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a canceled context = %v; want context.Canceled", err)
	}
	for _, sentinel := range []error{sync.ErrUnreachable, sync.ErrBadCredentials, sync.ErrNotFound} {
		if errors.Is(err, sentinel) {
			t.Errorf("Put with a canceled context = %v; want it not to match %v", err, sentinel)
		}
	}
}

// TestUnknownHostIsUnreachable: a name that does not resolve fails the
// bucket check after one lookup, not after the retries, as ErrUnreachable.
// The dialer answers as the resolver would for an unknown name, so no
// lookup leaves this machine.
func TestUnknownHostIsUnreachable(t *testing.T) {
	t.Parallel()
	var dials atomic.Int32
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, address string) (net.Conn, error) {
			dials.Add(1)
			host, _, _ := net.SplitHostPort(address)
			return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}}
		},
	}}
	store := openStore(t, s3store.Config{
		Bucket: "any-bucket", Endpoint: "https://s3.example.invalid", Region: "us-east-1",
		AccessKey: "key", SecretKey: "secret", MaxAttempts: 3, HTTPClient: client,
	})
	err := store.CheckBucket(context.Background())
	if !errors.Is(err, sync.ErrUnreachable) || !strings.Contains(err.Error(), "no such host") {
		t.Errorf("CheckBucket on an unknown host = %v; want ErrUnreachable saying no such host", err)
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("CheckBucket on an unknown host dialed %d times with 3 attempts; want 1", n)
	}
}
