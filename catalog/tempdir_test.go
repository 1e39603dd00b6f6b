package catalog

import (
	"os"
	"path/filepath"
	"testing"
)

// TestTempDirNextToCatalogAndSweptOnOpen makes a temporary folder as a
// mirror push does, leaves it behind as a killed process would, and reopens
// the catalog: the folder, private and next to the catalog, is gone; the
// temporary folder of another catalog in the same folder is not.
func TestTempDirNextToCatalogAndSweptOnOpen(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, "a.db")
	db := openAt(t, path)
	dir, err := db.TempDir("mirror")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(dir) != root {
		t.Errorf("TempDir = %s; want a folder next to the catalog in %s", dir, root)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("TempDir %s: %v, %v; want a folder with mode 0700", dir, fi.Mode(), err)
	}
	if err := os.WriteFile(filepath.Join(dir, "catalog.db"), []byte("plaintext"), 0o600); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(root, "b.db"+tempInfix+"mirror-1")
	if err := os.Mkdir(other, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	openAt(t, path)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("after reopening the catalog its stale temporary folder is still there (%v)", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("opening a.db removed b.db's temporary folder: %v", err)
	}
}
