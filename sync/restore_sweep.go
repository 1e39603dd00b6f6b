package sync

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/s3seal/s3seal/catalog"
)

// partialPrefix starts the name of a file being restored (see tempName):
// ".s3seal-restore-" and 12 lowercase hex digits.
const partialPrefix = ".s3seal-restore-"

// isPartialName reports whether name is one tempName makes.
func isPartialName(name string) bool {
	rest, ok := strings.CutPrefix(name, partialPrefix)
	if !ok || len(rest) != 12 {
		return false
	}
	for _, c := range rest {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// sweepPartials removes the partial files an interrupted restore left under
// root: regular files whose name tempName could have made, in the folders
// the catalog's rows live in. Nothing else is touched, and nothing outside
// root can be. A file it cannot remove is reported as a warning.
func sweepPartials(root *os.Root, rows []catalog.File, r *reporter) {
	dirs := make(map[string]bool)
	for _, f := range rows {
		if CheckPath(f.Path) == nil {
			dirs[path.Dir(f.Path)] = true
		}
	}
	for dir := range dirs {
		for _, name := range partialsIn(root, dir) {
			p := path.Join(dir, name)
			fi, err := root.Lstat(p)
			if err != nil || !fi.Mode().IsRegular() {
				continue
			}
			if err := root.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				r.report(Event{Kind: EventWarn, Path: p, Err: fmt.Errorf("remove a partial file an interrupted restore left: %w", err)})
			}
		}
	}
}

// partialsIn returns the names in root's folder dir that isPartialName
// accepts; none if dir cannot be read (it does not exist yet, say).
func partialsIn(root *os.Root, dir string) []string {
	d, err := root.Open(dir)
	if err != nil {
		return nil
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil
	}
	var partials []string
	for _, name := range names {
		if isPartialName(name) {
			partials = append(partials, name)
		}
	}
	return partials
}
