package catalog

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// tempInfix separates a catalog's file name from the names of its
// temporary folders: CATALOG.s3seal-tmp-KIND-RANDOM.
const tempInfix = ".s3seal-tmp-"

// TempDir creates a new folder, mode 0700, for temporary copies of this
// catalog's contents (snapshots to encrypt, decrypted imports), next to the
// catalog file and named after it, so that they live where the catalog does
// and never in the system's temporary folder. kind names the use ("mirror",
// "import"). The caller removes the folder when done; one left behind by a
// killed process is removed by the next Open of the catalog, which is safe
// because only the holder of the catalog's lock creates them.
func (db *DB) TempDir(kind string) (string, error) {
	dir, err := os.MkdirTemp(filepath.Dir(db.path), filepath.Base(db.path)+tempInfix+kind+"-")
	if err != nil {
		return "", fmt.Errorf("temporary folder for catalog %s: %w", db.path, err)
	}
	return dir, nil
}

// IsTempName reports whether name, a file name in a catalog's folder, is
// one of the temporary folders TempDir makes for the catalog whose file name
// is base.
func IsTempName(base, name string) bool {
	return strings.HasPrefix(name, base+tempInfix)
}

// sweepTemp removes the temporary folders that processes killed while
// holding the catalog at path left next to it. Call it with the lock held.
func sweepTemp(path string) error {
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		return err
	}
	for _, entry := range entries {
		if entry.IsDir() && IsTempName(filepath.Base(path), entry.Name()) {
			if err := os.RemoveAll(filepath.Join(filepath.Dir(path), entry.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}
