package catalog

import (
	"database/sql"
	"errors"
	"fmt"
)

// Run is one sync that changed the catalog, as history lists it. Its row is
// written before the catalog is pushed, so the mirror version that first
// holds it holds the tree the sync left; MirrorVersion, that version's
// VersionId, is learnt after the push and recorded locally (it reaches the
// bucket with the next push). A run whose MirrorVersion is "" is the newest
// one of the catalog it is read from, or one whose push failed.
type Run struct {
	ID            int64 // from 1, in order
	FinishedAt    int64 // unix nanoseconds, this machine's clock
	Files         int   // files in the catalog after the run
	Changed       int   // files uploaded or copied
	Deleted       int   // files deleted (with --delete)
	Bytes         int64 // plaintext bytes of the changed files
	MirrorVersion string
}

// runColumns lists the runs table's columns in the order scanRun uses.
const runColumns = "id, finished_at, files, changed, deleted, bytes, mirror_version"

// AddRun records a run and returns its ID. It changes what a Snapshot
// holds, so it advances the Generation.
func (db *DB) AddRun(r Run) (int64, error) {
	tx, err := db.sql.Begin()
	if err != nil {
		return 0, fmt.Errorf("record run: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.Exec("INSERT INTO runs (id, finished_at, files, changed, deleted, bytes, mirror_version) "+
		"VALUES ((SELECT coalesce(max(id), 0) + 1 FROM runs), ?, ?, ?, ?, ?, '')",
		r.FinishedAt, r.Files, r.Changed, r.Deleted, r.Bytes)
	if err != nil {
		return 0, fmt.Errorf("record run: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("record run: %w", err)
	}
	if _, err := tx.Exec(bumpGeneration); err != nil {
		return 0, fmt.Errorf("record run: %w", err)
	}
	return id, tx.Commit()
}

// SetRunMirror records the VersionId of the mirror version that first held
// run id. It does not advance the Generation: the catalog's files did not
// change, and the note reaches the bucket with the next push.
func (db *DB) SetRunMirror(id int64, version string) error {
	res, err := db.sql.Exec("UPDATE runs SET mirror_version = ? WHERE id = ?", version, id)
	if err != nil {
		return fmt.Errorf("record mirror version of run %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("record mirror version of run %d: %d rows (%v)", id, n, err)
	}
	return nil
}

// Runs returns every run, oldest first.
func (db *DB) Runs() ([]Run, error) {
	rows, err := db.sql.Query("SELECT " + runColumns + " FROM runs ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("read runs: %w", err)
	}
	defer rows.Close()
	var runs []Run
	for rows.Next() {
		var r Run
		if err := rows.Scan(&r.ID, &r.FinishedAt, &r.Files, &r.Changed, &r.Deleted, &r.Bytes, &r.MirrorVersion); err != nil {
			return nil, fmt.Errorf("read runs: %w", err)
		}
		runs = append(runs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read runs: %w", err)
	}
	return runs, nil
}

// LastRun returns the newest run, if any.
func (db *DB) LastRun() (Run, bool, error) {
	var r Run
	err := db.sql.QueryRow("SELECT "+runColumns+" FROM runs ORDER BY id DESC LIMIT 1").
		Scan(&r.ID, &r.FinishedAt, &r.Files, &r.Changed, &r.Deleted, &r.Bytes, &r.MirrorVersion)
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, false, nil
	}
	if err != nil {
		return Run{}, false, fmt.Errorf("read runs: %w", err)
	}
	return r, true, nil
}
