package sync

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	gosync "sync"
	"time"
	"unicode/utf8"

	"golang.org/x/sync/errgroup"
)

// listing is the result of one ListObjectsV2 pass over the prefix, packed
// to keep memory small at hundreds of thousands of objects: the keys (less
// the listing prefix they share), ETags (16 bytes when they are an MD5 in
// hex, as single-part ETags are; that is only packing, the ETag comes back
// as it was listed) and LastModified times (4 bytes of unix seconds, the
// precision S3 lists) of all objects back to back in one byte slice, and a
// 16-byte item per object, sorted by key and found by binary search. That is
// about 69 bytes per object for hidden names and nothing for the garbage
// collector to trace, where a map of strings costs about 250.
type listing struct {
	prefix string // shared by the keys of items without keyFull
	data   []byte
	items  []listItem
}

type listItem struct {
	off    uint32 // the key starts at data[off], the ETag follows it, then the time
	keyLen uint16 // S3 keys are at most 1,024 bytes
	tagLen uint8
	flags  uint8
	size   int64
}

const (
	keyFull = 1 << iota // the key is stored whole: it does not start with the prefix
	tagMD5              // the ETag is stored as 16 bytes, written as 32 lowercase hex digits
)

// modifiedLen is the size of a stored LastModified: big-endian unix
// seconds, 0 for none. Times before 1970 are stored as 1 s, after 2106 as
// the largest; only their order against upload times is used.
const modifiedLen = 4

var errListingTooLarge = errors.New("list remote objects: the listing exceeds 4 GiB of keys")

func newListing(prefix string) *listing { return &listing{prefix: prefix} }

// listRemote reads every object under the prefix with ListObjectsV2.
func listRemote(ctx context.Context, store Bucket, prefix string) (*listing, error) {
	l := newListing(listPrefix(prefix))
	err := listEach(ctx, store, listPrefix(prefix), func(o Object) error {
		return l.add(o.Key, o.ETag, o.Size, o.LastModified)
	})
	if err != nil {
		return nil, fmt.Errorf("list remote objects: %w", err)
	}
	l.sort()
	return l, nil
}

func (l *listing) add(key, etag string, size int64, modified time.Time) error {
	it := listItem{off: uint32(len(l.data)), size: size}
	if rest, ok := strings.CutPrefix(key, l.prefix); ok {
		key = rest
	} else {
		it.flags |= keyFull
	}
	if len(key) > math.MaxUint16 || len(etag) > math.MaxUint8 {
		return fmt.Errorf("list remote objects: key or ETag of %d and %d bytes is too long: %.64q", len(key), len(etag), key)
	}
	if len(l.data)+len(key)+len(etag)+modifiedLen > math.MaxUint32 {
		return errListingTooLarge
	}
	it.keyLen = uint16(len(key))
	l.data = append(l.data, key...)
	if isLowerHex(etag, 2*16) {
		it.flags |= tagMD5
		it.tagLen = 16
		l.data, _ = hex.AppendDecode(l.data, []byte(etag)) // valid: checked above
	} else {
		it.tagLen = uint8(len(etag))
		l.data = append(l.data, etag...)
	}
	l.data = binary.BigEndian.AppendUint32(l.data, packTime(modified))
	l.items = append(l.items, it)
	return nil
}

// packTime and unpackTime store a LastModified in modifiedLen bytes.
func packTime(t time.Time) uint32 {
	if t.IsZero() {
		return 0
	}
	return uint32(min(max(t.Unix(), 1), math.MaxUint32))
}

func unpackTime(sec uint32) time.Time {
	if sec == 0 {
		return time.Time{}
	}
	return time.Unix(int64(sec), 0).UTC()
}

// isLowerHex reports whether s is n lowercase hex digits, the form
// hex.EncodeToString gives back.
func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// sort orders the items by key and keeps only the last listing of a key
// that was listed more than once. S3 lists each key once and in that order
// already, so this is one pass that finds nothing to do, unless a store
// lists otherwise.
func (l *listing) sort() {
	less := func(i, j int) bool { return l.compareItems(i, j) < 0 }
	if !sort.SliceIsSorted(l.items, less) {
		sort.SliceStable(l.items, less)
	}
	kept := l.items[:0]
	for i, it := range l.items {
		if i+1 < len(l.items) && l.compareItems(i, i+1) == 0 {
			continue // a later listing of the same key follows
		}
		kept = append(kept, it)
	}
	l.items = kept
}

// compareItems compares the keys of items i and j.
func (l *listing) compareItems(i, j int) int {
	if (l.items[i].flags|l.items[j].flags)&keyFull == 0 {
		return bytes.Compare(l.stored(i), l.stored(j)) // the same prefix
	}
	return strings.Compare(l.key(i), l.key(j))
}

// stored is the key of item i as stored: without the prefix unless keyFull.
func (l *listing) stored(i int) []byte {
	it := l.items[i]
	return l.data[it.off : it.off+uint32(it.keyLen)]
}

// key is the whole key of item i.
func (l *listing) key(i int) string {
	if l.items[i].flags&keyFull != 0 {
		return string(l.stored(i))
	}
	return l.prefix + string(l.stored(i))
}

// compare compares the key of item i with key without allocating.
func (l *listing) compare(i int, key string) int {
	k := l.stored(i)
	if l.items[i].flags&keyFull == 0 {
		head := key[:min(len(key), len(l.prefix))]
		if c := strings.Compare(l.prefix[:len(head)], head); c != 0 || len(head) < len(l.prefix) {
			if c == 0 {
				return 1 // key is a proper prefix of the prefix: shorter sorts first
			}
			return c
		}
		key = key[len(l.prefix):]
	}
	switch { // string(b) in a comparison does not allocate
	case string(k) < key:
		return -1
	case string(k) > key:
		return 1
	}
	return 0
}

func (l *listing) remote(i int) Remote {
	it := l.items[i]
	start := it.off + uint32(it.keyLen)
	end := start + uint32(it.tagLen)
	tag := l.data[start:end]
	r := Remote{Size: it.size, LastModified: unpackTime(binary.BigEndian.Uint32(l.data[end : end+modifiedLen]))}
	if it.flags&tagMD5 != 0 {
		r.ETag = hex.EncodeToString(tag)
	} else {
		r.ETag = string(tag)
	}
	return r
}

// Len is the number of objects listed.
func (l *listing) Len() int { return len(l.items) }

// Get returns the listed object with key.
func (l *listing) Get(key string) (Remote, bool) {
	i := sort.Search(len(l.items), func(i int) bool { return l.compare(i, key) >= 0 })
	if i < len(l.items) && l.compare(i, key) == 0 {
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

// listConcurrency is how many listings of folder groups listEach keeps in
// flight: a listing is a chain of pages, each waiting for the last, so a
// single one runs at one page per round trip however fast the server is.
const listConcurrency = 8

// maxListGroups bounds the folder groups listEach keeps in memory; a
// bucket with more distinct first characters of folders below the prefix
// is listed in one chain.
const maxListGroups = 4096

// listEach calls fn for every object whose key starts with prefix, in no
// particular order, never concurrently. Without b.Folders it is one
// listing. With it, one delimited listing of prefix gives the objects
// directly under it and the folders below it; the folders are grouped by
// their first character (the 32 of hidden names' base32 gives 32 groups of
// 32 folders) and the groups are listed listConcurrency at a time, so a
// listing of millions of objects is not one chain of thousands of pages.
// A small bucket costs a few requests more, sent side by side.
func listEach(ctx context.Context, b Bucket, prefix string, fn func(Object) error) error {
	if b.Folders == nil {
		return b.List(ctx, prefix, fn)
	}
	groups := make(map[string]bool)
	err := b.Folders.ListFolder(ctx, prefix, fn, func(folder string) error {
		rest, ok := strings.CutPrefix(folder, prefix)
		if !ok || rest == "" {
			return fmt.Errorf("the server listed folder %.64q, which is not below %.64q", folder, prefix)
		}
		_, size := utf8.DecodeRuneInString(rest)
		if len(groups) < maxListGroups+1 {
			groups[rest[:size]] = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	// The objects directly under prefix were listed above: the group
	// listings skip them.
	below := func(o Object) bool {
		rest, ok := strings.CutPrefix(o.Key, prefix)
		return !ok || strings.Contains(rest, "/")
	}
	if len(groups) > maxListGroups {
		return b.List(ctx, prefix, func(o Object) error {
			if !below(o) {
				return nil
			}
			return fn(o)
		})
	}
	var mu gosync.Mutex // serializes fn
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(listConcurrency)
	for _, first := range slices.Sorted(maps.Keys(groups)) {
		g.Go(func() error {
			return b.List(gctx, prefix+first, func(o Object) error {
				if !below(o) {
					return nil
				}
				mu.Lock()
				defer mu.Unlock()
				return fn(o)
			})
		})
	}
	return g.Wait()
}
