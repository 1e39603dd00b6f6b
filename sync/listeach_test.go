package sync_test

import (
	"context"
	"fmt"
	"slices"
	gosync "sync"
	"testing"

	"github.com/s3seal/s3seal/sync"
	"github.com/s3seal/s3seal/sync/memstore"
)

// TestListEachByFolder lists a prefix split by folder and checks that it
// gives exactly the objects one listing gives: objects directly under the
// prefix, in folders of every first character (hidden names' base32, a
// multi-byte one, an empty folder name), deep ones, and none from outside
// the prefix. Then the same with more first characters than listEach
// keeps, which it lists in one chain.
func TestListEachByFolder(t *testing.T) {
	for _, many := range []bool{false, true} {
		store := memstore.New("b")
		keys := []string{"p/top", "p/zz", "p/ab/x", "p/ab/y", "p/ac/z", "p/b7/q", "p/é/1", "p/éa/2",
			"p//double", "p/meta/catalog", "p/deep/a/b/c", "p", "pq/x", "q/p/x"}
		for i := range 300 {
			keys = append(keys, fmt.Sprintf("p/%c%c/%d", 'a'+i%26, '2'+i%6, i))
		}
		if many {
			for r := range rune(4200) {
				keys = append(keys, fmt.Sprintf("p/%c/many", 0x4e00+r))
			}
		}
		for _, k := range keys {
			if _, err := store.Put(context.Background(), k, []byte(k), sync.PutOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		b := store.Bucket()
		var want []string
		if err := b.List(context.Background(), "p/", func(o sync.Object) error { want = append(want, o.Key); return nil }); err != nil {
			t.Fatal(err)
		}
		b.Folders = store
		var mu gosync.Mutex
		var got []string
		err := sync.ListEach(context.Background(), b, "p/", func(o sync.Object) error {
			if !mu.TryLock() {
				t.Error("fn called concurrently")
				return nil
			}
			defer mu.Unlock()
			got = append(got, o.Key)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("many=%v: listed by folder %d keys, one listing %d; differ: got %q", many, len(got), len(want), diff(got, want))
		}
	}
}

// diff returns the keys in one of a and b and not the other.
func diff(a, b []string) []string {
	var out []string
	for _, k := range a {
		if !slices.Contains(b, k) {
			out = append(out, "+"+k)
		}
	}
	for _, k := range b {
		if !slices.Contains(a, k) {
			out = append(out, "-"+k)
		}
	}
	return out
}
