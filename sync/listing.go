package sync

import (
	"context"
	"fmt"
	"sort"

	"github.com/s3seal/s3seal/sync/s3store"
)

// listing is the result of one ListObjectsV2 pass over the prefix, packed
// to keep memory small at hundreds of thousands of objects: the keys and
// ETags of all objects back to back in one byte slice, and a fixed-size
// item per object, sorted by key and found by binary search. That is about
// 100 bytes per object and nothing for the garbage collector to trace,
// where a map of strings costs about three times as much.
type listing struct {
	data  []byte
	items []listItem
}

type listItem struct {
	off    int    // the key starts at data[off], the ETag follows it
	keyLen uint16 // S3 keys are at most 1,024 bytes
	tagLen uint16
	size   int64
}

// listRemote reads every object under the prefix with ListObjectsV2.
func listRemote(ctx context.Context, store Store, prefix string) (*listing, error) {
	l := &listing{}
	err := store.List(ctx, listPrefix(prefix), func(o s3store.Object) error {
		return l.add(o.Key, o.ETag, o.Size)
	})
	if err != nil {
		return nil, fmt.Errorf("list remote objects: %w", err)
	}
	l.sort()
	return l, nil
}

func (l *listing) add(key, etag string, size int64) error {
	if len(key) > 0xffff || len(etag) > 0xffff {
		return fmt.Errorf("list remote objects: key or ETag of %d and %d bytes is too long: %.64q", len(key), len(etag), key)
	}
	l.items = append(l.items, listItem{off: len(l.data), keyLen: uint16(len(key)), tagLen: uint16(len(etag)), size: size})
	l.data = append(l.data, key...)
	l.data = append(l.data, etag...)
	return nil
}

// sort orders the items by key and keeps only the last listing of a key
// that was listed more than once. S3 lists each key once and in that order
// already, so this is one pass that finds nothing to do, unless a store
// lists otherwise.
func (l *listing) sort() {
	less := func(i, j int) bool { return string(l.keyBytes(i)) < string(l.keyBytes(j)) }
	if !sort.SliceIsSorted(l.items, less) {
		sort.SliceStable(l.items, less)
	}
	kept := l.items[:0]
	for i, it := range l.items {
		if i+1 < len(l.items) && string(l.keyBytes(i)) == string(l.keyBytes(i+1)) {
			continue // a later listing of the same key follows
		}
		kept = append(kept, it)
	}
	l.items = kept
}

func (l *listing) keyBytes(i int) []byte {
	it := l.items[i]
	return l.data[it.off : it.off+int(it.keyLen)]
}

func (l *listing) key(i int) string { return string(l.keyBytes(i)) }

func (l *listing) remote(i int) Remote {
	it := l.items[i]
	start := it.off + int(it.keyLen)
	return Remote{ETag: string(l.data[start : start+int(it.tagLen)]), Size: it.size}
}

// Len is the number of objects listed.
func (l *listing) Len() int { return len(l.items) }

// Get returns the listed object with key.
func (l *listing) Get(key string) (Remote, bool) {
	// string(b) in a comparison does not allocate.
	i := sort.Search(len(l.items), func(i int) bool { return string(l.keyBytes(i)) >= key })
	if i < len(l.items) && string(l.keyBytes(i)) == key {
		return l.remote(i), true
	}
	return Remote{}, false
}

// Each calls fn for every object in key order until fn returns false.
func (l *listing) Each(fn func(key string, r Remote) bool) {
	for i := range l.items {
		if !fn(l.key(i), l.remote(i)) {
			return
		}
	}
}
