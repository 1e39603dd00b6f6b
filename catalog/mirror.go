package catalog

import (
	"database/sql"
	"errors"
	"fmt"
)

// bumpGeneration runs in every transaction that changes what a Snapshot
// copies (files and settings).
const bumpGeneration = "UPDATE local SET value = value + 1 WHERE key = 'generation'"

const selectGeneration = "SELECT value FROM local WHERE key = 'generation'"

// Generation returns a number that changes with every committed change to
// the rows a Snapshot copies, and only then. In-flight uploads and the
// mirror record do not count.
func (db *DB) Generation() (int64, error) {
	var g int64
	if err := db.sql.QueryRow(selectGeneration).Scan(&g); err != nil {
		return 0, fmt.Errorf("read generation of catalog %s: %w", db.path, err)
	}
	return g, nil
}

// Mirrored returns what SetMirrored last recorded: the Generation of the
// snapshot last pushed as the target's mirror and that object's ETag. ok is
// false if nothing was recorded. The record stays on this machine; it is
// never part of a snapshot.
func (db *DB) Mirrored() (generation int64, etag string, ok bool, err error) {
	err = db.sql.QueryRow(`SELECT g.value, e.value FROM local g, local e
		WHERE g.key = 'mirrored' AND e.key = 'mirror_etag'`).Scan(&generation, &etag)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", false, nil
	}
	if err != nil {
		return 0, "", false, fmt.Errorf("read mirror record of catalog %s: %w", db.path, err)
	}
	return generation, etag, true, nil
}

// SetMirrored records that the snapshot of the given generation is the
// target's mirror, stored with etag. It does not change the Generation.
func (db *DB) SetMirrored(generation int64, etag string) error {
	tx, err := db.sql.Begin()
	if err == nil {
		defer tx.Rollback()
		_, err = tx.Exec("INSERT OR REPLACE INTO local (key, value) VALUES ('mirrored', ?), ('mirror_etag', ?)", generation, etag)
	}
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		return fmt.Errorf("record mirror in catalog %s: %w", db.path, err)
	}
	return nil
}
