package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// applicationID marks a SQLite file as an s3seal catalog ("s3sc" in ASCII),
// in the header field SQLite reserves for that purpose.
const applicationID = 0x73337363

// migrations[i] brings a catalog from user_version i to i+1. Entries are
// never edited once released; a schema change appends one. ReplaceFrom
// copies fileColumns from snapshots of any older version, so a later
// migration that renames or drops a column must teach it about older
// snapshots, and one that adds a files column must say what older snapshots
// give for it (see snapshotFileColumns).
var migrations = []string{
	// 1: files, settings, in-flight uploads.
	`CREATE TABLE files (
		path        BLOB    NOT NULL PRIMARY KEY CHECK (length(path) > 0),
		size        INTEGER NOT NULL CHECK (size >= 0),
		mode        INTEGER NOT NULL CHECK (mode BETWEEN 0 AND 4294967295),
		mtime_ns    INTEGER NOT NULL,
		ctime_ns    INTEGER NOT NULL,
		inode       INTEGER NOT NULL,
		dev         INTEGER NOT NULL,
		plain_md5   BLOB    NOT NULL CHECK (length(plain_md5) = 16),
		object_key  TEXT    NOT NULL,
		etag        TEXT    NOT NULL,
		cipher_size INTEGER NOT NULL CHECK (cipher_size >= 0),
		uploaded_at INTEGER NOT NULL
	) STRICT, WITHOUT ROWID;
	CREATE INDEX files_plain_md5 ON files (plain_md5);
	CREATE TABLE settings (
		key   TEXT NOT NULL PRIMARY KEY,
		value BLOB NOT NULL
	) STRICT, WITHOUT ROWID;
	CREATE TABLE uploads (
		path       BLOB    NOT NULL PRIMARY KEY CHECK (length(path) > 0),
		object_key TEXT    NOT NULL,
		upload_id  TEXT    NOT NULL,
		part_size  INTEGER NOT NULL,
		file_key   BLOB,
		nonce      BLOB,
		header     BLOB,
		size       INTEGER NOT NULL,
		mtime_ns   INTEGER NOT NULL,
		ctime_ns   INTEGER NOT NULL,
		inode      INTEGER NOT NULL,
		started_at INTEGER NOT NULL
	) STRICT, WITHOUT ROWID;`,
	// 2: state of this machine's copy, never in a snapshot. "generation"
	// counts the write transactions to files and settings (what a snapshot
	// holds); "mirrored", "mirror_etag" and "mirror_keys" describe the last
	// pushed mirror (see Mirror).
	`CREATE TABLE local (
		key   TEXT NOT NULL PRIMARY KEY,
		value ANY
	) STRICT, WITHOUT ROWID;
	INSERT INTO local (key, value) VALUES ('generation', 0);`,
	// 3: SHA-256 of the plaintext, which restore and deep audit verify.
	// NULL in rows recorded before it; filled the next time the file is
	// read. ReplaceFrom reads snapshots without the column as all NULL.
	`ALTER TABLE files ADD COLUMN plain_sha256 BLOB
		CHECK (plain_sha256 IS NULL OR length(plain_sha256) = 32);`,
	// 4: a hash of every part an in-flight upload has put on the wire,
	// written before the part is sent (see UploadPart). parts_recorded
	// tells uploads that keep them from uploads begun by an older version,
	// whose parts were sent unrecorded and which cannot be resumed safely.
	`ALTER TABLE uploads ADD COLUMN parts_recorded INTEGER NOT NULL DEFAULT 0
		CHECK (parts_recorded IN (0, 1));
	CREATE TABLE upload_parts (
		path   BLOB    NOT NULL,
		number INTEGER NOT NULL CHECK (number BETWEEN 1 AND 10000),
		sha256 BLOB    NOT NULL CHECK (length(sha256) = 32),
		PRIMARY KEY (path, number)
	) STRICT, WITHOUT ROWID;`,
	// 5: history. version_id is the VersionId of the object version a row
	// points to on a versioned bucket ('' elsewhere, and in rows and
	// snapshots from before), retain_until the Object Lock retention it was
	// given (unix seconds, 0 = none). runs holds one row per sync that
	// changed the catalog: what it did, and the VersionId of the mirror
	// version that first held the row (see Run).
	`ALTER TABLE files ADD COLUMN version_id TEXT NOT NULL DEFAULT '';
	ALTER TABLE files ADD COLUMN retain_until INTEGER NOT NULL DEFAULT 0;
	CREATE TABLE runs (
		id             INTEGER NOT NULL PRIMARY KEY CHECK (id > 0),
		finished_at    INTEGER NOT NULL,
		files          INTEGER NOT NULL CHECK (files >= 0),
		changed        INTEGER NOT NULL CHECK (changed >= 0),
		deleted        INTEGER NOT NULL CHECK (deleted >= 0),
		bytes          INTEGER NOT NULL CHECK (bytes >= 0),
		mirror_version TEXT    NOT NULL DEFAULT ''
	) STRICT;`,
}

// schemaVersion is the user_version this binary writes and understands.
var schemaVersion = len(migrations)

// querier is what both *sql.DB and *sql.Conn offer.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

// migrate runs every migration newer than the database's user_version, each
// in its own transaction together with the version bump, so an interrupted
// migration leaves the previous version intact. Running it again is a no-op.
func migrate(ctx context.Context, q querier) error {
	version, err := pragmaInt(ctx, q, "main", "user_version")
	if err != nil {
		return err
	}
	for v := version; v < schemaVersion; v++ {
		tx, err := q.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: %w", v+1, err)
		}
		// PRAGMA arguments cannot be bound; both values are our constants.
		bump := fmt.Sprintf("PRAGMA main.user_version = %d; PRAGMA main.application_id = %d", v+1, applicationID)
		if _, err := tx.ExecContext(ctx, bump); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: %w", v+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %d: %w", v+1, err)
		}
	}
	return nil
}

// pragmaInt reads an integer PRAGMA of the named schema ("main" or an
// attached name, never user input).
func pragmaInt(ctx context.Context, q querier, schema, name string) (int, error) {
	var v int
	if err := q.QueryRowContext(ctx, fmt.Sprintf("PRAGMA %s.%s", schema, name)).Scan(&v); err != nil {
		return 0, fmt.Errorf("read %s: %w", name, err)
	}
	return v, nil
}

// checkIntegrity runs PRAGMA quick_check on schema and returns an error
// wrapping ErrCorrupt if it finds a problem or cannot read the file.
func checkIntegrity(ctx context.Context, q querier, schema string) error {
	var result string
	err := q.QueryRowContext(ctx, fmt.Sprintf("PRAGMA %s.quick_check(1)", schema)).Scan(&result)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if result != "ok" {
		return fmt.Errorf("%w: quick_check: %s", ErrCorrupt, result)
	}
	return nil
}

// checkIdentity verifies that schema holds an s3seal catalog this binary can
// read: an application_id of ours and a user_version not newer than ours.
// A database with no tables at all (new or empty) passes as version 0; any
// other database is not ours and is reported as ErrCorrupt rather than
// migrated, so Open never writes into somebody else's file.
func checkIdentity(ctx context.Context, q querier, schema string) (version int, err error) {
	version, err = pragmaInt(ctx, q, schema, "user_version")
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	appID, err := pragmaInt(ctx, q, schema, "application_id")
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if version == 0 && appID == 0 {
		var objects int
		err := q.QueryRowContext(ctx, fmt.Sprintf("SELECT count(*) FROM %s.sqlite_schema", schema)).Scan(&objects)
		if err != nil {
			return 0, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		if objects > 0 {
			return 0, fmt.Errorf("%w: a SQLite database that is not an s3seal catalog", ErrCorrupt)
		}
		return 0, nil
	}
	if appID != applicationID {
		return 0, fmt.Errorf("%w: a SQLite database that is not an s3seal catalog (application_id %#x)", ErrCorrupt, appID)
	}
	if version > schemaVersion {
		return 0, fmt.Errorf("%w: schema version %d is newer than this s3seal understands (%d)", ErrCorrupt, version, schemaVersion)
	}
	return version, nil
}

// sqliteCode returns the primary SQLite result code in err, or -1.
func sqliteCode(err error) int {
	var sqlErr *sqlite.Error
	if !errors.As(err, &sqlErr) {
		return -1
	}
	return sqlErr.Code() & 0xff
}

// isDamaged reports whether err is SQLite saying the file is damaged or not
// a database at all.
func isDamaged(err error) bool {
	switch sqliteCode(err) {
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return true
	}
	return false
}
