package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// ErrLocked is returned, inside a *LockedError, when another s3seal process
// (or another Open in this one) holds the catalog.
var ErrLocked = errors.New("catalog is in use by another s3seal process")

// LockedError reports which process holds a catalog. errors.Is(err,
// ErrLocked) is true for it. Holder reads like
// "pid 1234 on laptop (started 2026-01-02T15:04:05Z)", or "another process"
// when the holder has not recorded itself.
type LockedError struct {
	Path   string // the catalog path passed to Open
	Holder string // who holds it, from the lock file
}

// Error returns "catalog PATH is in use by pid N on HOST (started TIME)".
func (e *LockedError) Error() string {
	return fmt.Sprintf("catalog %s is in use by %s", e.Path, e.Holder)
}

// Is reports whether target is ErrLocked.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// ErrCorrupt is wrapped by every error that says a file is not a usable
// catalog: not a SQLite database, truncated or damaged (PRAGMA quick_check
// fails), a SQLite database of another application, a schema newer than this
// binary, or (for ReplaceFrom) rows that break the schema. Open and
// ReplaceFrom never modify a file they report as corrupt.
var ErrCorrupt = errors.New("catalog is damaged")

// busyTimeoutMillis bounds how long a statement waits for a SQLite lock held
// by a non-s3seal reader, such as the sqlite3 shell.
const busyTimeoutMillis = 5000

// DB is an open catalog. Its methods are safe for concurrent use; they share
// one SQLite connection, so they run one at a time.
type DB struct {
	path string
	sql  *sql.DB
	lock *lockFile

	lookupStmt       *sql.Stmt
	findByMD5Stmt    *sql.Stmt
	putStmt          *sql.Stmt
	deleteStmt       *sql.Stmt
	uploadStmt       *sql.Stmt
	putUploadStmt    *sql.Stmt
	deleteUploadStmt *sql.Stmt

	commits atomic.Int64 // write transactions committed by Put/Delete

	mu      sync.Mutex
	closed  bool
	batches map[*Batch]struct{}
}

// Open opens the catalog at path, creating it (mode 0600, missing parent
// directories 0700) if it does not exist. It first takes an exclusive lock
// on path+".lock" for the life of the DB, failing at once with a *LockedError
// if another process or another Open of this process holds it; a dead
// holder's lock is released by the kernel. An existing file must pass PRAGMA
// quick_check and be an s3seal catalog of a schema version this binary
// understands, else Open returns an error wrapping ErrCorrupt without having
// written to it. Then Open runs pending migrations and switches the file to
// WAL mode. Close the DB to release the lock. Open also removes the
// temporary folders (see TempDir) a killed holder left.
func Open(path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open catalog %s: %w", path, err)
	}
	lock, err := acquireLock(path+".lock", path)
	if err != nil {
		return nil, err
	}
	if err := sweepTemp(path); err != nil {
		lock.release()
		return nil, fmt.Errorf("open catalog %s: remove stale temporary folders: %w", path, err)
	}
	db, err := openLocked(path)
	if err != nil {
		lock.release()
		return nil, err
	}
	db.lock = lock
	return db, nil
}

// openLocked does the work of Open once the lock is held.
func openLocked(path string) (*DB, error) {
	existed, err := ensureFile(path)
	if err != nil {
		return nil, fmt.Errorf("open catalog %s: %w", path, err)
	}
	sqlDB, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return nil, fmt.Errorf("open catalog %s: %w", path, err)
	}
	// One connection: statements serialize, and ATTACH and per-connection
	// state are never split across a pool.
	sqlDB.SetMaxOpenConns(1)
	sqlDB.SetMaxIdleConns(1)
	db := &DB{path: path, sql: sqlDB, batches: make(map[*Batch]struct{})}
	if err := db.init(existed); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("open catalog %s: %w", path, err)
	}
	return db, nil
}

// ensureFile creates path with mode 0600 if it is missing (SQLite would
// create it with the umask's mode) and reports whether it existed.
func ensureFile(path string) (existed bool, err error) {
	info, err := os.Stat(path)
	if err == nil {
		if !info.Mode().IsRegular() {
			return true, fmt.Errorf("%w: not a regular file", ErrCorrupt)
		}
		return true, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return false, err
	}
	return false, f.Close()
}

// init checks an existing file before anything writes to it, then migrates,
// enables WAL and prepares the statements.
func (db *DB) init(existed bool) error {
	ctx := context.Background()
	if existed {
		if err := checkIntegrity(ctx, db.sql, "main"); err != nil {
			return err
		}
	}
	if _, err := checkIdentity(ctx, db.sql, "main"); err != nil {
		return err
	}
	var mode string
	if err := db.sql.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		return classify(fmt.Errorf("set journal_mode: %w", err))
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("set journal_mode: got %q, want wal", mode)
	}
	if err := migrate(ctx, db.sql); err != nil {
		return classify(err)
	}
	return db.prepare(ctx)
}

// classify wraps ErrCorrupt around err if SQLite says the file is damaged.
func classify(err error) error {
	if err != nil && isDamaged(err) && !errors.Is(err, ErrCorrupt) {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return err
}

func (db *DB) prepare(ctx context.Context) error {
	stmts := []struct {
		dst   **sql.Stmt
		query string
	}{
		{&db.lookupStmt, "SELECT " + fileColumns + " FROM files WHERE path = ?"},
		{&db.findByMD5Stmt, "SELECT " + fileColumns + " FROM files WHERE plain_md5 = ? AND size = ? LIMIT 1"},
		{&db.putStmt, "INSERT OR REPLACE INTO files (" + fileColumns + ") VALUES (" + fileParams + ")"},
		{&db.deleteStmt, "DELETE FROM files WHERE path = ?"},
		{&db.uploadStmt, "SELECT " + uploadColumns + " FROM uploads WHERE path = ?"},
		{&db.putUploadStmt, "INSERT OR REPLACE INTO uploads (" + uploadColumns + ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"},
		{&db.deleteUploadStmt, "DELETE FROM uploads WHERE path = ?"},
	}
	for _, s := range stmts {
		stmt, err := db.sql.PrepareContext(ctx, s.query)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", s.query, err)
		}
		*s.dst = stmt
	}
	return nil
}

// dsn returns the data source name for the catalog's own connection. The
// settings are per connection and none writes to the file, so they are safe
// on a file that has not been checked yet. locking_mode=EXCLUSIVE keeps
// SQLite's file locks and WAL index in this process: the flock already
// excludes other s3seal processes, and it saves the lock system calls of
// every statement (a fifth of a Lookup). trusted_schema and cell_size_check
// harden reading files that came from elsewhere (ReplaceFrom). The page
// cache is 8 MiB: lookups walk the index in path order, so pages that fall
// out are read back from the operating system's cache, and a catalog of
// 200,000 files (45 MB) does not become 45 MB of this process's memory.
// synchronous=FULL makes every commit durable when it returns, power loss
// included: the hash of a part must be on disk before the part's first byte
// is sent (see PutUploadPart), or a crash could make a resumed upload send
// other plaintext under the same key. Rows are committed in batches, so
// that is an fsync per batch and per part, not per file.
func dsn(path string) string {
	return fileURI(path, fmt.Sprintf("_pragma=busy_timeout(%d)", busyTimeoutMillis)+
		"&_pragma=locking_mode(EXCLUSIVE)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)"+
		"&_pragma=trusted_schema(0)&_pragma=cell_size_check(1)&_pragma=secure_delete(1)"+
		"&_pragma=cache_size(-8192)")
}

// fileURI builds a SQLite URI for path with the given query: every byte
// outside the URI's unreserved set is percent-encoded, so a path with '?',
// '#' or '%' names the right file. The path is cleaned first, since a
// leading "//" would read as a URI authority.
func fileURI(path, query string) string {
	path = filepath.Clean(path)
	var b strings.Builder
	b.WriteString("file:")
	for i := 0; i < len(path); i++ {
		c := path[i]
		if c == '/' || c == '-' || c == '.' || c == '_' || c == '~' ||
			('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	if query != "" {
		b.WriteString("?" + query)
	}
	return b.String()
}

// Close flushes every Batch made by NewBatch that has not been closed,
// closes the database and releases the lock. The lock is released even if
// flushing fails. Calling Close again returns nil.
func (db *DB) Close() error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return nil
	}
	db.closed = true
	batches := make([]*Batch, 0, len(db.batches))
	for b := range db.batches {
		batches = append(batches, b)
	}
	db.batches = nil
	db.mu.Unlock()

	var errs []error
	for _, b := range batches {
		errs = append(errs, b.Flush())
	}
	errs = append(errs, db.sql.Close())
	if db.lock != nil {
		errs = append(errs, db.lock.release())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close catalog %s: %w", db.path, err)
	}
	return nil
}

// Path returns the path the catalog was opened with.
func (db *DB) Path() string { return db.path }

// Setting returns the value stored under key; ok is false if there is none.
// Settings are small per-target values such as "naming", "name_key",
// "target" and "sealed_identity".
func (db *DB) Setting(key string) (value []byte, ok bool, err error) {
	err = db.sql.QueryRow("SELECT value FROM settings WHERE key = ?", key).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read setting %q from catalog %s: %w", key, db.path, err)
	}
	if value == nil {
		value = []byte{}
	}
	return value, true, nil
}

// SetSetting stores value under key, replacing any previous value. A nil
// value is stored as an empty one.
func (db *DB) SetSetting(key string, value []byte) error {
	if key == "" {
		return fmt.Errorf("write setting to catalog %s: empty key", db.path)
	}
	if value == nil {
		value = []byte{}
	}
	tx, err := db.sql.Begin()
	if err == nil {
		defer tx.Rollback()
		_, err = tx.Exec("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", key, value)
	}
	if err == nil {
		_, err = tx.Exec(bumpGeneration)
	}
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		return fmt.Errorf("write setting %q to catalog %s: %w", key, db.path, err)
	}
	return nil
}

// DeleteSetting removes the setting key; a missing one is not an error.
func (db *DB) DeleteSetting(key string) error {
	tx, err := db.sql.Begin()
	if err == nil {
		defer tx.Rollback()
		_, err = tx.Exec("DELETE FROM settings WHERE key = ?", key)
	}
	if err == nil {
		_, err = tx.Exec(bumpGeneration)
	}
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		return fmt.Errorf("delete setting %q from catalog %s: %w", key, db.path, err)
	}
	return nil
}
