package sync

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestFilterSkip(t *testing.T) {
	tests := []struct {
		includes, excludes []string
		rel                string
		dir                bool
		want               bool
	}{
		// A name pattern matches at any depth, files and folders.
		{nil, []string{"*.tmp"}, "a.tmp", false, true},
		{nil, []string{"*.tmp"}, "x/y/a.tmp", false, true},
		{nil, []string{"*.tmp"}, "x/y/a.tmpl", false, false},
		{nil, []string{"node_modules"}, "web/node_modules", true, true},
		// A pattern with a slash is anchored at the top.
		{nil, []string{"/build"}, "build", true, true},
		{nil, []string{"/build"}, "src/build", true, false},
		{nil, []string{"photos/**/*.raw"}, "photos/2024/01/a.raw", false, true},
		{nil, []string{"photos/**/*.raw"}, "photos/a.raw", false, true},
		{nil, []string{"photos/**/*.raw"}, "other/photos/a.raw", false, false},
		{nil, []string{"**/cache/*"}, "a/b/cache/f", false, true},
		{nil, []string{"**/cache/*"}, "cache/f", false, true},
		{nil, []string{"**/cache/*"}, "a/cachex/f", false, false},
		// A trailing slash matches folders only.
		{nil, []string{"tmp/"}, "tmp", false, false},
		{nil, []string{"tmp/"}, "a/tmp", true, true},
		// Includes make exceptions.
		{[]string{"important.log"}, []string{"*.log"}, "a/b/important.log", false, false},
		{[]string{"important.log"}, []string{"*.log"}, "a/b/other.log", false, true},
		{[]string{"keep/"}, []string{"*"}, "x/keep", true, false},
		{[]string{"keep/"}, []string{"*"}, "x/keep.txt", false, true},
		// Nothing excluded: includes alone change nothing.
		{[]string{"*.jpg"}, nil, "a.png", false, false},
	}
	for _, tt := range tests {
		f, err := NewFilter(tt.includes, tt.excludes)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Skip(tt.rel, tt.dir); got != tt.want {
			t.Errorf("Filter(include %q, exclude %q).Skip(%q, dir=%v) = %v; want %v", tt.includes, tt.excludes, tt.rel, tt.dir, got, tt.want)
		}
	}
}

func TestNewFilterRejectsBadGlob(t *testing.T) {
	for _, bad := range []string{"[abc", "/", "{a,b"} {
		if _, err := NewFilter(nil, []string{bad}); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("NewFilter(exclude %q) error = %v; want one naming the pattern", bad, err)
		}
	}
}

func TestReadPatterns(t *testing.T) {
	in := "# comment\n\n*.tmp  \r\n!keep.tmp\n**/cache/\n"
	inc, exc, err := ReadPatterns(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"keep.tmp"}; !reflect.DeepEqual(inc, want) {
		t.Errorf("ReadPatterns includes = %q; want %q", inc, want)
	}
	if want := []string{"*.tmp", "**/cache/"}; !reflect.DeepEqual(exc, want) {
		t.Errorf("ReadPatterns excludes = %q; want %q", exc, want)
	}
}

// TestScanPrunesExcludedFolders checks that Scan never asks about paths
// under an excluded folder: they are not listed at all.
func TestScanPrunesExcludedFolders(t *testing.T) {
	root := t.TempDir()
	for _, rel := range []string{"a/keep.txt", "a/skip.tmp", "big/x/y.bin", "big/z.bin", "top.txt"} {
		path := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(rel), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	f, err := NewFilter(nil, []string{"*.tmp", "/big"})
	if err != nil {
		t.Fatal(err)
	}
	var asked []string
	skip := func(rel string, dir bool) bool {
		asked = append(asked, rel)
		return f.Skip(rel, dir)
	}
	entries, err := scanAll(context.Background(), root, skip, func(Event) {})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Path)
	}
	if want := []string{"a/keep.txt", "top.txt"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Scan with excludes found %q; want %q", got, want)
	}
	for _, rel := range asked {
		if strings.HasPrefix(rel, "big/") {
			t.Errorf("Scan asked about %q inside the excluded folder big", rel)
		}
	}
}
