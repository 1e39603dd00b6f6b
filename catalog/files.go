package catalog

import (
	"database/sql"
	"errors"
	"fmt"
)

// File is one catalog row: a source file as it was when its ciphertext was
// uploaded and confirmed by the server.
type File struct {
	Path       string   // slash-separated, relative to the source; any bytes but NUL, not empty
	Size       int64    // plaintext size
	Mode       uint32   // permission bits (fs.FileMode & 0o7777)
	ModTime    int64    // mtime, unix nanoseconds
	ChangeTime int64    // ctime, unix nanoseconds
	Inode      uint64   // inode number the file was hashed at
	Device     uint64   // device number the file was hashed at
	PlainMD5   [16]byte // MD5 of the plaintext
	// PlainSHA256 is the SHA-256 of the plaintext when HasSHA256 is true.
	// Rows recorded before the catalog had the column (migrated catalogs,
	// snapshots of older versions) have HasSHA256 false until the file is
	// read again.
	PlainSHA256 [32]byte
	HasSHA256   bool
	ObjectKey   string // key of the ciphertext object, relative to the target prefix or absolute, as the caller chose
	ETag        string // of the ciphertext object, without quotes
	CipherSize  int64  // size of the ciphertext object
	UploadedAt  int64  // unix seconds
	// VersionID is the object version the row points to on a versioned
	// bucket ("" on an unversioned one, and for rows from before).
	VersionID string
	// RetainUntil is the Object Lock retention the version was last given,
	// unix seconds (0 = none).
	RetainUntil int64
}

// fileColumns lists the files table's columns in the order scanFile and
// fileArgs use.
const fileColumns = "path, size, mode, mtime_ns, ctime_ns, inode, dev, plain_md5, object_key, etag, cipher_size, uploaded_at, plain_sha256, version_id, retain_until"

// fileParams is the VALUES placeholder list for fileColumns.
const fileParams = "?,?,?,?,?,?,?,?,?,?,?,?,?,?,?"

// fileArgs returns f's column values for fileColumns. Unsigned numbers are
// stored bit-for-bit as SQLite's signed 64-bit integers.
func fileArgs(f File) []any {
	var sha256 any // NULL when unknown
	if f.HasSHA256 {
		sha256 = f.PlainSHA256[:]
	}
	return []any{[]byte(f.Path), f.Size, int64(f.Mode), f.ModTime, f.ChangeTime,
		int64(f.Inode), int64(f.Device), f.PlainMD5[:], f.ObjectKey, f.ETag,
		f.CipherSize, f.UploadedAt, sha256, f.VersionID, f.RetainUntil}
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// scanFile reads one row of fileColumns.
func scanFile(s scanner) (File, error) {
	var (
		f                   File
		path, md5, sha256   []byte
		mode, inode, device int64
	)
	err := s.Scan(&path, &f.Size, &mode, &f.ModTime, &f.ChangeTime, &inode, &device,
		&md5, &f.ObjectKey, &f.ETag, &f.CipherSize, &f.UploadedAt, &sha256, &f.VersionID, &f.RetainUntil)
	if err != nil {
		return File{}, err
	}
	if len(md5) != len(f.PlainMD5) {
		return File{}, fmt.Errorf("%w: plain_md5 of %q has %d bytes", ErrCorrupt, path, len(md5))
	}
	if sha256 != nil && len(sha256) != len(f.PlainSHA256) {
		return File{}, fmt.Errorf("%w: plain_sha256 of %q has %d bytes", ErrCorrupt, path, len(sha256))
	}
	f.HasSHA256 = sha256 != nil
	copy(f.PlainSHA256[:], sha256)
	f.Path = string(path)
	f.Mode = uint32(mode)
	f.Inode = uint64(inode)
	f.Device = uint64(device)
	copy(f.PlainMD5[:], md5)
	return f, nil
}

// checkPath rejects paths that cannot be a relative file path.
func checkPath(path string) error {
	if path == "" {
		return errors.New("empty path")
	}
	return nil
}

// Lookup returns the row for path; ok is false if there is none.
func (db *DB) Lookup(path string) (File, bool, error) {
	f, err := scanFile(db.lookupStmt.QueryRow([]byte(path)))
	if errors.Is(err, sql.ErrNoRows) {
		return File{}, false, nil
	}
	if err != nil {
		return File{}, false, fmt.Errorf("look up %q in catalog %s: %w", path, db.path, err)
	}
	return f, true, nil
}

// Files calls fn for every row, in bytewise order of Path, streaming them
// from the database. It stops at the first error fn returns and returns that
// error unchanged.
//
// While Files runs it holds the catalog's only connection: fn must not call
// any method of db or of a Batch of db, not even from another goroutine it
// waits for, or it waits forever. Collect what you need and act after Files
// returns.
func (db *DB) Files(fn func(File) error) error {
	rows, err := db.sql.Query("SELECT " + fileColumns + " FROM files ORDER BY path")
	if err != nil {
		return fmt.Errorf("list files in catalog %s: %w", db.path, err)
	}
	defer rows.Close()
	for rows.Next() {
		f, err := scanFile(rows)
		if err != nil {
			return fmt.Errorf("list files in catalog %s: %w", db.path, err)
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list files in catalog %s: %w", db.path, err)
	}
	return nil
}

// Count returns the number of file rows.
func (db *DB) Count() (int, error) {
	var n int
	if err := db.sql.QueryRow("SELECT count(*) FROM files").Scan(&n); err != nil {
		return 0, fmt.Errorf("count files in catalog %s: %w", db.path, err)
	}
	return n, nil
}

// FindByMD5 returns a row whose PlainMD5 and Size are sum and size; ok is
// false if there is none. When several rows match, which one is returned is
// unspecified. It lets a rename or copy become a server-side copy.
func (db *DB) FindByMD5(sum [16]byte, size int64) (File, bool, error) {
	f, err := scanFile(db.findByMD5Stmt.QueryRow(sum[:], size))
	if errors.Is(err, sql.ErrNoRows) {
		return File{}, false, nil
	}
	if err != nil {
		return File{}, false, fmt.Errorf("find plaintext MD5 in catalog %s: %w", db.path, err)
	}
	return f, true, nil
}

// Put inserts files, replacing any rows with the same paths, in one
// transaction: either all are stored or none. When files repeats a path,
// the last one wins.
func (db *DB) Put(files ...File) error {
	for _, f := range files {
		if err := checkPath(f.Path); err != nil {
			return fmt.Errorf("record %q in catalog %s: %w", f.Path, db.path, err)
		}
	}
	return db.inTx(db.putStmt, len(files), func(stmt *sql.Stmt, i int) error {
		if _, err := stmt.Exec(fileArgs(files[i])...); err != nil {
			return fmt.Errorf("record %q in catalog %s: %w", files[i].Path, db.path, err)
		}
		return nil
	})
}

// Delete removes the rows for paths in one transaction. Paths without a row
// are ignored.
func (db *DB) Delete(paths ...string) error {
	return db.inTx(db.deleteStmt, len(paths), func(stmt *sql.Stmt, i int) error {
		if _, err := stmt.Exec([]byte(paths[i])); err != nil {
			return fmt.Errorf("delete %q from catalog %s: %w", paths[i], db.path, err)
		}
		return nil
	})
}

// inTx calls do(stmt, i) for i in [0, n) inside one transaction, with stmt
// bound to it, and commits only if every call succeeds.
func (db *DB) inTx(stmt *sql.Stmt, n int, do func(stmt *sql.Stmt, i int) error) error {
	if n == 0 {
		return nil
	}
	tx, err := db.sql.Begin()
	if err != nil {
		return fmt.Errorf("begin transaction on catalog %s: %w", db.path, err)
	}
	txStmt := tx.Stmt(stmt)
	for i := 0; i < n; i++ {
		if err := do(txStmt, i); err != nil {
			tx.Rollback()
			return err
		}
	}
	if _, err := tx.Exec(bumpGeneration); err != nil {
		tx.Rollback()
		return fmt.Errorf("write to catalog %s: %w", db.path, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit to catalog %s: %w", db.path, err)
	}
	db.commits.Add(1)
	return nil
}

// RetainedBefore calls fn for every row that points to an object version
// and whose retention ends before until (unix seconds), or that has none.
func (db *DB) RetainedBefore(until int64, fn func(File) error) error {
	rows, err := db.sql.Query("SELECT "+fileColumns+" FROM files WHERE version_id != '' AND retain_until < ? ORDER BY path", until)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		f, err := scanFile(rows)
		if err != nil {
			return err
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return rows.Err()
}
