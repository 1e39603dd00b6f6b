package catalog

import (
	"fmt"
	"reflect"
	"testing"
)

func TestLookupManyMatchesLookup(t *testing.T) {
	db := openTest(t)
	files := putSamples(t, db, 1203) // more than two query batches
	var paths []string
	for i, f := range files {
		if i%3 != 0 {
			paths = append(paths, f.Path)
		}
		paths = append(paths, fmt.Sprintf("absent/%d", i))
	}
	got, err := db.LookupMany(paths)
	if err != nil {
		t.Fatalf("LookupMany(%d paths) = %v", len(paths), err)
	}
	want := 0
	for i, f := range files {
		row, ok := got[f.Path]
		if i%3 == 0 {
			if ok {
				t.Errorf("LookupMany returned %q, which was not asked for", f.Path)
			}
			continue
		}
		want++
		if !ok || !reflect.DeepEqual(row, f) {
			t.Errorf("LookupMany()[%q] = %+v, %v; want %+v", f.Path, row, ok, f)
		}
	}
	if len(got) != want {
		t.Errorf("LookupMany returned %d rows; want %d", len(got), want)
	}
}

func TestHasSize(t *testing.T) {
	db := openTest(t)
	putSamples(t, db, 5) // sizes 0, 1000, ..., 4000
	for _, tt := range []struct {
		size int64
		want bool
	}{{0, true}, {3000, true}, {3001, false}, {5000, false}} {
		if got, err := db.HasSize(tt.size); err != nil || got != tt.want {
			t.Errorf("HasSize(%d) = %v, %v; want %v", tt.size, got, err, tt.want)
		}
	}
}
