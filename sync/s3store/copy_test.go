package s3store

import (
	"net/url"
	"testing"
)

func TestCopySource(t *testing.T) {
	store := &Store{bucket: "bkt"}
	tests := []struct{ key, want string }{
		{"a/b.txt", "bkt/a/b.txt"},
		{"dir/with space+plus", "bkt/dir/with%20space%2Bplus"},
		{"ü?#%", "bkt/%C3%BC%3F%23%25"},
		{"", "bkt/"},
	}
	for _, test := range tests {
		if got := store.copySource(test.key); got != test.want {
			t.Errorf("copySource(%q) = %q; want %q", test.key, got, test.want)
		}
	}
}

// FuzzCopySource checks that every key survives the percent-encoding of
// x-amz-copy-source and that the header holds only safe characters.
func FuzzCopySource(f *testing.F) {
	for _, seed := range []string{"a/b", "with space", "ü/%2F/+", "../x?y#z"} {
		f.Add(seed)
	}
	store := &Store{bucket: "bkt"}
	f.Fuzz(func(t *testing.T, key string) {
		source := store.copySource(key)
		for i := 0; i < len(source); i++ {
			if c := source[i]; !isUnreserved(c) && c != '/' && c != '%' {
				t.Fatalf("copySource(%q) = %q contains %q", key, source, c)
			}
		}
		decoded, err := url.PathUnescape(source)
		if err != nil || decoded != "bkt/"+key {
			t.Fatalf("PathUnescape(copySource(%q)) = %q, %v; want %q", key, decoded, err, "bkt/"+key)
		}
	})
}
