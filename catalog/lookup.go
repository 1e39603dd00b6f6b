package catalog

import (
	"fmt"
	"strings"
)

// lookupBatch is the most paths one LookupMany query names; SQLite allows
// 32,766 parameters, and a few hundred already make the per-statement cost
// negligible next to the index lookups.
const lookupBatch = 500

// LookupMany returns the rows for paths, keyed by path; paths without a row
// are absent from the map. It costs one query per 500 paths instead of one
// per path, which is what makes a no-change run of many files cheap.
func (db *DB) LookupMany(paths []string) (map[string]File, error) {
	found := make(map[string]File, len(paths))
	for start := 0; start < len(paths); start += lookupBatch {
		batch := paths[start:min(start+lookupBatch, len(paths))]
		if err := db.lookupBatch(batch, found); err != nil {
			return nil, err
		}
	}
	return found, nil
}

func (db *DB) lookupBatch(paths []string, found map[string]File) error {
	args := make([]any, len(paths))
	for i, p := range paths {
		args[i] = []byte(p)
	}
	query := "SELECT " + fileColumns + " FROM files WHERE path IN (?" + strings.Repeat(",?", len(paths)-1) + ")"
	rows, err := db.sql.Query(query, args...)
	if err != nil {
		return fmt.Errorf("look up %d paths in catalog %s: %w", len(paths), db.path, err)
	}
	defer rows.Close()
	for rows.Next() {
		f, err := scanFile(rows)
		if err != nil {
			return fmt.Errorf("look up %d paths in catalog %s: %w", len(paths), db.path, err)
		}
		found[f.Path] = f
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("look up %d paths in catalog %s: %w", len(paths), db.path, err)
	}
	return nil
}

// HasSize reports whether some row has plaintext size size. A new file
// whose size no row has cannot be a copy of an uploaded file, so the engine
// asks this before spending a read of the file on FindByMD5.
func (db *DB) HasSize(size int64) (bool, error) {
	var found int
	err := db.sql.QueryRow("SELECT EXISTS (SELECT 1 FROM files WHERE size = ?)", size).Scan(&found)
	if err != nil {
		return false, fmt.Errorf("look up size in catalog %s: %w", db.path, err)
	}
	return found == 1, nil
}
