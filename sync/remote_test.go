package sync_test

import (
	"context"
	"strings"
	"testing"

	"github.com/s3seal/s3seal/sync"
	"github.com/s3seal/s3seal/sync/memstore"
)

// longListing is a memory bucket whose listing adds an object with an ETag
// or a key longer than any S3 gives, as a hostile server might.
type longListing struct {
	*memstore.Store
	key, etag string
}

func (l *longListing) List(ctx context.Context, prefix string, fn func(sync.Object) error) error {
	if err := l.Store.List(ctx, prefix, fn); err != nil {
		return err
	}
	return fn(sync.Object{Key: prefix + l.key, ETag: l.etag, Size: 1})
}

// TestSyncRefusesOverlongListing: the listing a sync keeps on disk for the
// run is the server's word, so a key or ETag past what S3 gives refuses the
// run instead of being stored.
func TestSyncRefusesOverlongListing(t *testing.T) {
	for _, tc := range []struct{ name, key, etag string }{
		{"etag", "x", strings.Repeat("e", 256)},
		{"key", strings.Repeat("k", 1<<16), "e"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &longListing{Store: memstore.New("mem"), key: tc.key, etag: tc.etag}
			fx := newFixture(t, sync.Bucket{Name: "mem", Objects: l, Multipart: l.Store, Copier: l.Store, UploadLister: l.Store, BucketCreator: l.Store})
			fx.write("a", []byte("a"))
			_, _, err := fx.sync(context.Background())
			if err == nil || !strings.Contains(err.Error(), "too long") {
				t.Fatalf("Sync = %v, want a refused listing", err)
			}
			// Within the bounds, the same listing is taken.
			l.key, l.etag = tc.key[:min(len(tc.key), 1<<16-1-len(prefix)-1)], tc.etag[:min(len(tc.etag), 255)]
			fx.mustSync()
		})
	}
}
