package catalog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"testing"
)

// TestListing fills a Listing with more objects than two lookup batches,
// one listed twice, and finds each by key, the last listing of a key
// winning; Close removes its folder.
func TestListing(t *testing.T) {
	db := openTest(t)
	l, err := db.NewListing()
	if err != nil {
		t.Fatal(err)
	}
	const n = 1203
	var keys []string
	for i := range n {
		o := Listed{Key: fmt.Sprintf("p/%05d", i), ETag: fmt.Sprintf("etag-%d", i), Size: int64(i), Modified: int64(1e9 + i)}
		if err := l.Add(o); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, o.Key, fmt.Sprintf("absent/%d", i))
	}
	if err := l.Add(Listed{Key: "p/00007", ETag: "newer", Size: 70}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.LookupMany(keys); err == nil {
		t.Errorf("LookupMany before Done = nil; want an error")
	}
	if err := l.Done(); err != nil {
		t.Fatal(err)
	}
	got, err := l.LookupMany(keys)
	if err != nil {
		t.Fatalf("LookupMany(%d keys) = %v", len(keys), err)
	}
	if len(got) != n {
		t.Errorf("LookupMany found %d objects; want %d", len(got), n)
	}
	if o := got["p/00042"]; o != (Listed{Key: "p/00042", ETag: "etag-42", Size: 42, Modified: 1e9 + 42}) {
		t.Errorf("LookupMany()[p/00042] = %+v; want what was added", o)
	}
	if o := got["p/00007"]; o.ETag != "newer" || o.Size != 70 {
		t.Errorf("a key listed twice gives %+v; want the last listing", o)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(l.dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after Close, the listing's folder: %v; want it gone", err)
	}
}
