package catalog

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestDefaultPath(t *testing.T) {
	home := t.TempDir()
	data := t.TempDir()
	t.Setenv("HOME", home)
	pairHash := func(source, target string) string {
		sum := sha256.Sum256([]byte(source + "\x00" + target))
		return hex.EncodeToString(sum[:])[:16]
	}
	tests := []struct {
		name, xdg, source, target string
		want                      string
	}{
		{"XDG_DATA_HOME", data, "/home/u/archive", "s3://my-bucket/archive",
			filepath.Join(data, "s3seal", "catalogs", "my-bucket-archive-"+pairHash("/home/u/archive", "s3://my-bucket/archive")+".db")},
		{"no XDG_DATA_HOME", "", "/srv/photos", "s3://b/p/q",
			filepath.Join(home, ".local", "share", "s3seal", "catalogs", "b-p-q-"+pairHash("/srv/photos", "s3://b/p/q")+".db")},
		{"relative XDG_DATA_HOME is ignored", "rel/data", "/srv/photos", "s3://b",
			filepath.Join(home, ".local", "share", "s3seal", "catalogs", "b-"+pairHash("/srv/photos", "s3://b")+".db")},
		{"source is cleaned", data, "/srv//photos/", "s3://b",
			filepath.Join(data, "s3seal", "catalogs", "b-"+pairHash("/srv/photos", "s3://b")+".db")},
		{"odd target bytes", data, "/x", "s3://b/ü ber/../\n",
			filepath.Join(data, "s3seal", "catalogs", "b-ber-"+pairHash("/x", "s3://b/ü ber/../\n")+".db")},
		{"no readable part", data, "/x", "s3://",
			filepath.Join(data, "s3seal", "catalogs", "catalog-"+pairHash("/x", "s3://")+".db")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("XDG_DATA_HOME", tt.xdg)
			got, err := DefaultPath(tt.source, tt.target)
			if err != nil || got != tt.want {
				t.Errorf("DefaultPath(%q, %q) = %q, %v; want %q", tt.source, tt.target, got, err, tt.want)
			}
		})
	}
}

func TestDefaultPathSeparatesPairs(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	pairs := [][2]string{
		{"/a", "s3://bucket/x"},
		{"/b", "s3://bucket/x"},
		{"/a", "s3://bucket/y"},
		{"/a/b", "s3://bucket/x"},
		{"/a", "s3://bucket/x/"},
	}
	seen := map[string][2]string{}
	name := regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}-[0-9a-f]{16}\.db$`)
	for _, p := range pairs {
		got, err := DefaultPath(p[0], p[1])
		if err != nil {
			t.Fatal(err)
		}
		if other, dup := seen[got]; dup {
			t.Errorf("DefaultPath(%q) = DefaultPath(%q) = %q; want different catalogs", p, other, got)
		}
		seen[got] = p
		if base := filepath.Base(got); !name.MatchString(base) {
			t.Errorf("DefaultPath(%q) file name %q does not match %v", p, base, name)
		}
	}
	long, err := DefaultPath("/a", "s3://"+strings.Repeat("very-long-bucket/", 20))
	if base := filepath.Base(long); err != nil || !name.MatchString(base) {
		t.Errorf("DefaultPath(long target) = %q, %v; want a name matching %v", long, err, name)
	}
}

func TestDefaultPathNeedsAbsoluteSource(t *testing.T) {
	for _, source := range []string{"", "relative/dir", "./x"} {
		if got, err := DefaultPath(source, "s3://b"); err == nil {
			t.Errorf("DefaultPath(%q) = %q, nil; want an error", source, got)
		}
	}
}

// TestDefaultPathsFor finds the default catalogs of a target, whatever
// their source, and not those of a target with another slug.
func TestDefaultPathsFor(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	var want []string
	for _, source := range []string{"/a", "/b"} {
		p, err := DefaultPath(source, "s3://bucket/x")
		if err != nil {
			t.Fatal(err)
		}
		openAt(t, p)
		want = append(want, p)
	}
	other, _ := DefaultPath("/a", "s3://bucket/xy")
	openAt(t, other)
	got, err := DefaultPathsFor("s3://bucket/x")
	slices.Sort(want)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("DefaultPathsFor = %q, %v; want %q", got, err, want)
	}
}
