package sync

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/s3seal/s3seal/catalog"
)

func TestDeletions(t *testing.T) {
	rows := func(paths ...string) []catalog.File {
		var out []catalog.File
		for _, p := range paths {
			out = append(out, catalog.File{Path: p, ObjectKey: "p/" + p})
		}
		return out
	}
	entries := func(paths ...string) func(string) bool {
		scanned := newPathSet()
		for _, p := range paths {
			scanned.add(p)
		}
		return scanned.has
	}
	filter, err := NewFilter(nil, []string{"*.tmp", "/cache"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   DeleteInput
		want []string
	}{
		{"nothing gone", DeleteInput{Rows: rows("a", "b/c"), Scanned: entries("a", "b/c")}, nil},
		{"deleted file", DeleteInput{Rows: rows("a", "b/c", "d"), Scanned: entries("a")}, []string{"b/c", "d"}},
		{"empty source deletes all", DeleteInput{Rows: rows("a", "b")}, []string{"a", "b"}},
		{"excluded file is kept", DeleteInput{Rows: rows("a", "x.tmp", "d/y.tmp"), Scanned: entries("a"), Skip: filter.Skip}, nil},
		{"file under excluded folder is kept", DeleteInput{Rows: rows("cache/a/b", "cachex"), Skip: filter.Skip}, []string{"cachex"}},
		{"unreadable folder keeps its files", DeleteInput{Rows: rows("locked/a", "locked/b/c", "lockedx", "e"),
			Scanned: entries("e"), Reported: []string{"locked"}}, []string{"lockedx"}},
		{"file now a symlink is kept", DeleteInput{Rows: rows("link"), Reported: []string{"link"}}, nil},
	}
	for _, tt := range tests {
		var got []string
		for _, f := range Deletions(tt.in) {
			got = append(got, f.Path)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: Deletions = %q; want %q", tt.name, got, tt.want)
		}
	}
}

// TestPathSet checks the set a --delete run finds the deleted files by:
// every path added is found, whatever the order it came in, and paths not
// added are not (a 64-bit collision among these is as good as impossible).
func TestPathSet(t *testing.T) {
	s := newPathSet()
	for i := 2000; i > 0; i-- {
		s.add(fmt.Sprintf("d%d/f%d", i%7, i))
	}
	for i := 1; i <= 2000; i++ {
		if p := fmt.Sprintf("d%d/f%d", i%7, i); !s.has(p) {
			t.Fatalf("pathSet.has(%q) = false after add; want true", p)
		}
		if p := fmt.Sprintf("d%d/f%d", (i+1)%7, i); s.has(p) {
			t.Fatalf("pathSet.has(%q) = true, never added; want false", p)
		}
	}
}
