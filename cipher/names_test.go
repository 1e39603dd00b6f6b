package cipher

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

func TestNamingPlain(t *testing.T) {
	tests := []struct {
		prefix, relPath, want string
	}{
		{"", "a.txt", "a.txt"},
		{"", "dir/sub/a.txt", "dir/sub/a.txt"},
		{"archive", "a.txt", "archive/a.txt"},
		{"home/archive", "dir/a b.txt", "home/archive/dir/a b.txt"},
	}
	for _, tt := range tests {
		if got := (Naming{}).ObjectKey(tt.prefix, tt.relPath); got != tt.want {
			t.Errorf("ObjectKey(%q, %q) = %q; want %q", tt.prefix, tt.relPath, got, tt.want)
		}
	}
}

func TestMetaKey(t *testing.T) {
	tests := []struct {
		prefix, name, want string
	}{
		{"", "catalog.age", ".s3seal/catalog.age"},
		{"archive", "key.age", "archive/.s3seal/key.age"},
	}
	for _, tt := range tests {
		if got := MetaKey(tt.prefix, tt.name); got != tt.want {
			t.Errorf("MetaKey(%q, %q) = %q; want %q", tt.prefix, tt.name, got, tt.want)
		}
	}
}

func TestIsMetaPath(t *testing.T) {
	tests := []struct {
		relPath string
		want    bool
	}{
		{".s3seal", true},
		{".s3seal/catalog.age", true},
		{".s3sealed/x", false},
		{"dir/.s3seal/x", false},
		{"a.txt", false},
	}
	for _, tt := range tests {
		if got := IsMetaPath(tt.relPath); got != tt.want {
			t.Errorf("IsMetaPath(%q) = %v; want %v", tt.relPath, got, tt.want)
		}
	}
}

// TestNamingHiddenKnownAnswer pins the hidden-name format: changing it would
// orphan every object already uploaded. The expected names were computed
// independently (Python hmac + base64.b32encode, lowercased).
func TestNamingHiddenKnownAnswer(t *testing.T) {
	tests := []struct {
		key             []byte
		prefix, relPath string
		want            string
	}{
		{sequentialKey(), "", "docs/report.pdf", "ip/ws6276m4kbp7tgxhby6kjpw5ng55tk"},
		{sequentialKey(), "archive", "docs/report.pdf", "archive/ip/ws6276m4kbp7tgxhby6kjpw5ng55tk"},
		{bytes.Repeat([]byte{7}, 32), "b", "photos/2024/cat.jpg", "b/f2/x6lu4mgbhckeohi7vwglx2enemr25q"},
	}
	for _, tt := range tests {
		got := Naming{Hidden: true, Key: tt.key}.ObjectKey(tt.prefix, tt.relPath)
		if got != tt.want {
			t.Errorf("hidden ObjectKey(%q, %q) = %q; want %q", tt.prefix, tt.relPath, got, tt.want)
		}
	}
}

func sequentialKey() []byte {
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i)
	}
	return key
}

func TestNamingHiddenProperties(t *testing.T) {
	key, err := NewNameKey()
	if err != nil {
		t.Fatalf("NewNameKey: %v", err)
	}
	otherKey, err := NewNameKey()
	if err != nil {
		t.Fatalf("NewNameKey: %v", err)
	}
	if len(key) != 32 || bytes.Equal(key, otherKey) {
		t.Fatalf("NewNameKey gave %d bytes, equal twice: %v; want 32 fresh bytes", len(key), bytes.Equal(key, otherKey))
	}
	hidden := Naming{Hidden: true, Key: key}
	other := Naming{Hidden: true, Key: otherKey}
	opaque := regexp.MustCompile(`^archive/[a-z2-7]{2}/[a-z2-7]{30}$`)
	paths := []string{"", "a", "a.txt", "dir/a.txt", strings.Repeat("deep/", 50) + "long-name.tar.gz"}
	seen := map[string]string{}
	for _, p := range paths {
		got := hidden.ObjectKey("archive", p)
		if !opaque.MatchString(got) {
			t.Errorf("hidden ObjectKey(%q) = %q; want archive/, 2 characters of [a-z2-7], / and 30 more", p, got)
		}
		if again := hidden.ObjectKey("archive", p); again != got {
			t.Errorf("hidden ObjectKey(%q) = %q then %q; want the same", p, got, again)
		}
		if withOther := other.ObjectKey("archive", p); withOther == got {
			t.Errorf("hidden ObjectKey(%q) = %q under two different keys", p, got)
		}
		if previous, dup := seen[got]; dup {
			t.Errorf("paths %q and %q share the hidden key %q", previous, p, got)
		}
		seen[got] = p
	}
}

func TestNamingHiddenShortKeyPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("hidden ObjectKey with a 16-byte key did not panic")
		}
	}()
	Naming{Hidden: true, Key: make([]byte, 16)}.ObjectKey("p", "a.txt")
}
