package s3store_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/s3seal/s3seal/sync"
	"github.com/s3seal/s3seal/sync/s3store/s3test"
)

// TestGetRangeIsPinned reads ranges of an object on a versioned bucket:
// by ETag and version they give the object's bytes, and once the object
// is replaced, a range asked of the old ETag is ErrObjectChanged (not the
// new object's bytes), while one of the old version still reads it.
func TestGetRangeIsPinned(t *testing.T) {
	ctx := context.Background()
	srv := s3test.Get(t)
	store := openStore(t, srv.Config(srv.NewLockedBucket(t)))
	first, second := randomBytes(t, 1000), randomBytes(t, 1000)
	old, err := store.Put(ctx, "k", first, sync.PutOptions{})
	if err != nil || old.VersionID == "" {
		t.Fatalf("Put on a versioned bucket = %+v, %v; want a version", old, err)
	}

	buf := make([]byte, 200)
	got, err := store.GetRange(ctx, old, 100, buf)
	if err != nil || !bytes.Equal(buf[:got], first[100:300]) {
		t.Fatalf("GetRange(100, 200 bytes) = %d bytes, %v; want the object's bytes 100-299", got, err)
	}
	if got, err := store.GetRange(ctx, old, 900, buf); err != nil || !bytes.Equal(buf[:got], first[900:]) {
		t.Errorf("GetRange(900, 200 bytes) = %d bytes, %v; want the last 100", got, err)
	}

	put(t, store, "k", second)
	current := old
	current.VersionID = ""
	if got, err := store.GetRange(ctx, current, 0, buf[:100]); !errors.Is(err, sync.ErrObjectChanged) {
		t.Errorf("GetRange of the replaced ETag = %d bytes, %v; want an error matching ErrObjectChanged", got, err)
	}
	if got, err := store.GetRange(ctx, old, 0, buf[:100]); err != nil || !bytes.Equal(buf[:got], first[:100]) {
		t.Errorf("GetRange of the old version = %d bytes, %v; want its first 100", got, err)
	}
}
