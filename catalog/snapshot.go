package catalog

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	sqlite3 "modernc.org/sqlite/lib"
)

// snapshotSchema is the name the snapshot database is attached under.
const snapshotSchema = "snapshot"

// Snapshot writes a consistent copy of the catalog's files and settings to
// dstPath, which must not exist yet. The copy is a plain SQLite database in
// rollback-journal mode, created with mode 0600, with the same schema as the
// catalog and an empty uploads table. In-flight uploads, and so their file
// keys, are never written to it: the copy is a fresh database filled by
// INSERT ... SELECT in one read transaction, not a byte copy. Rows still
// buffered in a Batch are not included; flush it first. It returns the
// catalog's Generation at the moment of the copy. On error dstPath is
// removed.
func (db *DB) Snapshot(dstPath string) (generation int64, err error) {
	f, err := os.OpenFile(dstPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, fmt.Errorf("snapshot catalog %s: %w", db.path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(dstPath)
		return 0, fmt.Errorf("snapshot catalog %s to %s: %w", db.path, dstPath, err)
	}
	generation, err = db.snapshotInto(context.Background(), dstPath)
	if err != nil {
		os.Remove(dstPath)
		os.Remove(dstPath + "-journal")
		return 0, fmt.Errorf("snapshot catalog %s to %s: %w", db.path, dstPath, err)
	}
	return generation, nil
}

// snapshotInto gives the empty file dstPath the catalog schema through a
// connection of its own, then attaches it and copies the rows.
func (db *DB) snapshotInto(ctx context.Context, dstPath string) (generation int64, err error) {
	dst, err := sql.Open("sqlite", fileURI(dstPath, ""))
	if err != nil {
		return 0, err
	}
	dst.SetMaxOpenConns(1)
	err = migrate(ctx, dst)
	if closeErr := dst.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return 0, fmt.Errorf("create schema: %w", err)
	}

	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "ATTACH DATABASE ? AS "+snapshotSchema, fileURI(dstPath, "mode=rw")); err != nil {
		return 0, fmt.Errorf("attach: %w", err)
	}
	defer detach(ctx, conn)
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, selectGeneration).Scan(&generation); err != nil {
		return 0, fmt.Errorf("read generation: %w", err)
	}
	copies := []string{
		"INSERT INTO snapshot.files (" + fileColumns + ") SELECT " + fileColumns + " FROM main.files ORDER BY path",
		"INSERT INTO snapshot.settings (key, value) SELECT key, value FROM main.settings ORDER BY key",
		"INSERT INTO snapshot.runs (" + runColumns + ") SELECT " + runColumns + " FROM main.runs ORDER BY id",
	}
	for _, query := range copies {
		if _, err := tx.ExecContext(ctx, query); err != nil {
			return 0, fmt.Errorf("copy rows: %w", err)
		}
	}
	return generation, tx.Commit()
}

// ReplaceFrom replaces the catalog's files and settings with those of the
// snapshot database at srcPath, and clears its in-flight uploads, in one
// transaction. srcPath is opened read-only as an immutable file: it is never
// modified, nothing is created beside it, and a "-wal" file beside it is
// ignored (a snapshot never has one). It must be an
// s3seal catalog, intact (PRAGMA quick_check), of a schema version this
// binary understands, with rows that satisfy the schema; if it is not, the
// error wraps ErrCorrupt. On any error the catalog is unchanged. Rows
// buffered in a Batch are not discarded: they are written on its next flush.
func (db *DB) ReplaceFrom(srcPath string) error {
	if err := db.replaceFrom(context.Background(), srcPath); err != nil {
		return fmt.Errorf("replace catalog %s from %s: %w", db.path, srcPath, err)
	}
	return nil
}

func (db *DB) replaceFrom(ctx context.Context, srcPath string) error {
	info, err := os.Stat(srcPath)
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%w: not a regular file", ErrCorrupt)
	}
	if self, err := os.Stat(db.path); err == nil && os.SameFile(info, self) {
		return errors.New("the snapshot is the catalog itself")
	}
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "ATTACH DATABASE ? AS "+snapshotSchema, fileURI(srcPath, "mode=ro&immutable=1")); err != nil {
		return snapshotError(fmt.Errorf("attach: %w", err))
	}
	defer detach(ctx, conn)
	columns, err := validateSnapshot(ctx, conn)
	if err != nil {
		return err
	}
	hasRuns, err := snapshotHasRuns(ctx, conn)
	if err != nil {
		return err
	}

	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	steps := []string{
		"DELETE FROM main.uploads",
		"DELETE FROM main.upload_parts",
		"DELETE FROM main.files",
		"DELETE FROM main.settings",
		"INSERT INTO main.files (" + fileColumns + ") SELECT " + columns + " FROM snapshot.files ORDER BY path",
		"INSERT INTO main.settings (key, value) SELECT key, value FROM snapshot.settings",
		"DELETE FROM main.runs",
		bumpGeneration,
	}
	if hasRuns {
		steps = append(steps, "INSERT INTO main.runs ("+runColumns+") SELECT "+runColumns+" FROM snapshot.runs ORDER BY id")
	}
	for _, query := range steps {
		if _, err := tx.ExecContext(ctx, query); err != nil {
			return snapshotError(err)
		}
	}
	return tx.Commit()
}

// validateSnapshot checks the attached snapshot: intact, ours, not newer
// than this binary, and with the tables and columns ReplaceFrom copies. It
// returns the select list for its files (see snapshotFileColumns). Any
// failure wraps ErrCorrupt.
func validateSnapshot(ctx context.Context, conn *sql.Conn) (string, error) {
	if err := checkIntegrity(ctx, conn, snapshotSchema); err != nil {
		return "", err
	}
	version, err := checkIdentity(ctx, conn, snapshotSchema)
	if err != nil {
		return "", err
	}
	if version == 0 {
		return "", fmt.Errorf("%w: an empty database, not an s3seal catalog", ErrCorrupt)
	}
	var tables int
	err = conn.QueryRowContext(ctx, `SELECT count(*) FROM snapshot.sqlite_schema
		WHERE type = 'table' AND name IN ('files', 'settings') AND sql LIKE 'CREATE TABLE %'`).Scan(&tables)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if tables != 2 {
		return "", fmt.Errorf("%w: files and settings are not both ordinary tables", ErrCorrupt)
	}
	columns, err := snapshotFileColumns(ctx, conn)
	if err != nil {
		return "", err
	}
	probes := []string{
		"SELECT " + columns + " FROM snapshot.files LIMIT 0",
		"SELECT key, value FROM snapshot.settings LIMIT 0",
	}
	for _, query := range probes {
		rows, err := conn.QueryContext(ctx, query)
		if err != nil {
			return "", fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		rows.Close()
	}
	return columns, nil
}

// optionalColumns are the files columns later migrations added, with what
// a snapshot written before them gives for them.
var optionalColumns = []struct{ name, absent string }{
	{"plain_sha256", "NULL"},
	{"version_id", "''"},
	{"retain_until", "0"},
}

// snapshotFileColumns returns the select list that reads fileColumns from
// the attached snapshot. A snapshot written by an older version lacks the
// columns added since (optionalColumns); its rows are read with their
// defaults there.
func snapshotFileColumns(ctx context.Context, conn *sql.Conn) (string, error) {
	columns := strings.Split(fileColumns, ", ")
	for _, opt := range optionalColumns {
		var has int
		err := conn.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info('files', '`+snapshotSchema+`')
			WHERE name = ?`, opt.name).Scan(&has)
		if err != nil {
			return "", snapshotError(err)
		}
		if has == 0 {
			i := slices.Index(columns, opt.name)
			columns[i] = opt.absent
		}
	}
	return strings.Join(columns, ", "), nil
}

// snapshotHasRuns reports whether the attached snapshot has a runs table
// (snapshots from before history have none).
func snapshotHasRuns(ctx context.Context, conn *sql.Conn) (bool, error) {
	var n int
	err := conn.QueryRowContext(ctx, `SELECT count(*) FROM snapshot.sqlite_schema
		WHERE type = 'table' AND name = 'runs' AND sql LIKE 'CREATE TABLE %'`).Scan(&n)
	if err != nil {
		return false, snapshotError(err)
	}
	return n == 1, nil
}

// snapshotError classifies an error met while attaching or reading the
// snapshot. Trouble of our own (I/O, a full disk, memory, locks,
// permissions, interruption, or not a SQLite error at all) is returned as
// is; anything else SQLite objects to means the file is not a usable
// catalog, and the error wraps ErrCorrupt.
func snapshotError(err error) error {
	if errors.Is(err, ErrCorrupt) {
		return err
	}
	switch sqliteCode(err) {
	case -1, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_NOMEM,
		sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM, sqlite3.SQLITE_BUSY,
		sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_INTERRUPT,
		sqlite3.SQLITE_AUTH, sqlite3.SQLITE_NOLFS:
		return err
	}
	return fmt.Errorf("%w: %w", ErrCorrupt, err)
}

// detach detaches the snapshot database. If that fails, the connection is
// discarded rather than returned to the pool with a stranger attached.
func detach(ctx context.Context, conn *sql.Conn) {
	if _, err := conn.ExecContext(ctx, "DETACH DATABASE "+snapshotSchema); err != nil {
		conn.Raw(func(any) error { return driver.ErrBadConn })
	}
}

// SnapshotSettings returns the settings of the snapshot database at
// srcPath, checked as ReplaceFrom checks it (an error wraps ErrCorrupt when
// it is not a usable catalog), without changing the catalog. It lets a
// caller judge a snapshot's settings before replacing the catalog with it.
func (db *DB) SnapshotSettings(srcPath string) (map[string][]byte, error) {
	settings, err := db.snapshotSettings(context.Background(), srcPath)
	if err != nil {
		return nil, fmt.Errorf("read settings of snapshot %s: %w", srcPath, err)
	}
	return settings, nil
}

func (db *DB) snapshotSettings(ctx context.Context, srcPath string) (map[string][]byte, error) {
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "ATTACH DATABASE ? AS "+snapshotSchema, fileURI(srcPath, "mode=ro&immutable=1")); err != nil {
		return nil, snapshotError(fmt.Errorf("attach: %w", err))
	}
	defer detach(ctx, conn)
	if _, err := validateSnapshot(ctx, conn); err != nil {
		return nil, err
	}
	rows, err := conn.QueryContext(ctx, "SELECT key, value FROM snapshot.settings")
	if err != nil {
		return nil, snapshotError(err)
	}
	defer rows.Close()
	settings := make(map[string][]byte)
	for rows.Next() {
		var key string
		var value []byte
		if err := rows.Scan(&key, &value); err != nil {
			return nil, snapshotError(err)
		}
		settings[key] = value
	}
	return settings, snapshotError(rows.Err())
}
