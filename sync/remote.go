package sync

import (
	"context"
	"fmt"

	"github.com/s3seal/s3seal/catalog"
)

// remoteIndex is the listing a sync decides by: every object under the
// prefix, kept on disk in a catalog.Listing rather than in memory, so that
// a sync of millions of files holds only the batch it is deciding. The
// zero value (no listing) is an empty bucket, as a bucket this run created.
type remoteIndex struct {
	listed *catalog.Listing
}

// maxListedKey and maxListedETag bound a listed object's key and ETag; a
// listing over them is refused.
const (
	maxListedKey  = 1<<16 - 1
	maxListedETag = 1<<8 - 1
)

// listRemoteIndex lists every object under the prefix with ListObjectsV2
// into a new Listing next to db's catalog.
func listRemoteIndex(ctx context.Context, db *catalog.DB, store Bucket, prefix string) (*remoteIndex, error) {
	listed, err := db.NewListing()
	if err != nil {
		return nil, fmt.Errorf("list remote objects: %w", err)
	}
	err = listEach(ctx, store, listPrefix(prefix), func(o Object) error {
		// The listing is the server's word: bound what it may make this
		// run keep on disk, as S3 bounds keys (1,024 bytes) and ETags.
		if len(o.Key) > maxListedKey || len(o.ETag) > maxListedETag {
			return fmt.Errorf("key or ETag of %d and %d bytes is too long: %.64q", len(o.Key), len(o.ETag), o.Key)
		}
		return listed.Add(catalog.Listed{Key: o.Key, ETag: o.ETag, Size: o.Size, Modified: int64(packTime(o.LastModified))})
	})
	if err == nil {
		err = listed.Done()
	}
	if err != nil {
		listed.Close()
		return nil, fmt.Errorf("list remote objects: %w", err)
	}
	return &remoteIndex{listed: listed}, nil
}

// lookup returns the listed objects among keys, by key. It is safe for
// concurrent use.
func (x *remoteIndex) lookup(keys []string) (map[string]Remote, error) {
	found := make(map[string]Remote, len(keys))
	if x.listed == nil {
		return found, nil
	}
	objs, err := x.listed.LookupMany(keys)
	if err != nil {
		return nil, err
	}
	for key, o := range objs {
		found[key] = Remote{ETag: o.ETag, Size: o.Size, LastModified: unpackTime(uint32(o.Modified))}
	}
	return found, nil
}

// get returns the listed object with key.
func (x *remoteIndex) get(key string) (*Remote, error) {
	found, err := x.lookup([]string{key})
	if r, ok := found[key]; ok {
		return &r, err
	}
	return nil, err
}

// close removes the listing's file.
func (x *remoteIndex) close() error {
	if x.listed == nil {
		return nil
	}
	return x.listed.Close()
}
