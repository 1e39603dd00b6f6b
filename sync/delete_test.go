package sync

import (
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
	entries := func(paths ...string) []Entry {
		var out []Entry
		for _, p := range paths {
			out = append(out, Entry{Path: p})
		}
		return out
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
