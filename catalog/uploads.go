package catalog

import (
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
)

// Upload is the state of a multipart upload in flight, kept so that the next
// run can resume it. It holds the upload's file key: rows live only until
// the upload completes or is abandoned, and are never part of a Snapshot.
type Upload struct {
	Path       string // source-relative path, as in File.Path
	ObjectKey  string
	UploadID   string // the server's multipart upload id
	PartSize   int64  // ciphertext bytes per part
	FileKey    []byte // secret: the age file key of the ciphertext
	Nonce      []byte // the age payload nonce
	Header     []byte // the age header, as uploaded at the start of part 1
	Size       int64  // plaintext size, and the stat the upload began at:
	ModTime    int64  // unix nanoseconds
	ChangeTime int64  // unix nanoseconds
	Inode      uint64
	StartedAt  int64 // unix seconds
	// PartsRecorded says a hash of every part was recorded before the part
	// was sent (UploadPart). Uploads begun by older versions lack it.
	PartsRecorded bool
}

// uploadColumns lists the uploads table's columns in the order scanUpload
// and uploadArgs use.
const uploadColumns = "path, object_key, upload_id, part_size, file_key, nonce, header, size, mtime_ns, ctime_ns, inode, started_at, parts_recorded"

func uploadArgs(u Upload) []any {
	return []any{[]byte(u.Path), u.ObjectKey, u.UploadID, u.PartSize, u.FileKey,
		u.Nonce, u.Header, u.Size, u.ModTime, u.ChangeTime, int64(u.Inode), u.StartedAt, u.PartsRecorded}
}

func scanUpload(s scanner) (Upload, error) {
	var (
		u     Upload
		path  []byte
		inode int64
	)
	err := s.Scan(&path, &u.ObjectKey, &u.UploadID, &u.PartSize, &u.FileKey,
		&u.Nonce, &u.Header, &u.Size, &u.ModTime, &u.ChangeTime, &inode, &u.StartedAt, &u.PartsRecorded)
	if err != nil {
		return Upload{}, err
	}
	u.Path = string(path)
	u.Inode = uint64(inode)
	return u, nil
}

// Upload returns the in-flight upload recorded for path; ok is false if
// there is none.
func (db *DB) Upload(path string) (Upload, bool, error) {
	u, err := scanUpload(db.uploadStmt.QueryRow([]byte(path)))
	if errors.Is(err, sql.ErrNoRows) {
		return Upload{}, false, nil
	}
	if err != nil {
		return Upload{}, false, fmt.Errorf("read upload of %q from catalog %s: %w", path, db.path, err)
	}
	return u, true, nil
}

// Uploads returns every in-flight upload, in bytewise order of Path.
func (db *DB) Uploads() ([]Upload, error) {
	rows, err := db.sql.Query("SELECT " + uploadColumns + " FROM uploads ORDER BY path")
	if err != nil {
		return nil, fmt.Errorf("list uploads in catalog %s: %w", db.path, err)
	}
	defer rows.Close()
	var uploads []Upload
	for rows.Next() {
		u, err := scanUpload(rows)
		if err != nil {
			return nil, fmt.Errorf("list uploads in catalog %s: %w", db.path, err)
		}
		uploads = append(uploads, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list uploads in catalog %s: %w", db.path, err)
	}
	return uploads, nil
}

// PutUpload records u, replacing any upload recorded for u.Path together
// with the part hashes of the upload it replaces, and commits before
// returning, so a crash right after still knows the upload.
func (db *DB) PutUpload(u Upload) error {
	if err := checkPath(u.Path); err != nil {
		return fmt.Errorf("record upload of %q in catalog %s: %w", u.Path, db.path, err)
	}
	err := db.uploadTx(func(tx *sql.Tx) error {
		if _, err := tx.Exec("DELETE FROM upload_parts WHERE path = ?", []byte(u.Path)); err != nil {
			return err
		}
		_, err := tx.Stmt(db.putUploadStmt).Exec(uploadArgs(u)...)
		return err
	})
	if err != nil {
		return fmt.Errorf("record upload of %q in catalog %s: %w", u.Path, db.path, err)
	}
	return nil
}

// UploadParts returns the part hashes recorded for the in-flight upload of
// path, by part number.
func (db *DB) UploadParts(path string) (map[int32][sha256.Size]byte, error) {
	rows, err := db.sql.Query("SELECT number, sha256 FROM upload_parts WHERE path = ?", []byte(path))
	if err != nil {
		return nil, fmt.Errorf("read part hashes of %q from catalog %s: %w", path, db.path, err)
	}
	defer rows.Close()
	parts := make(map[int32][sha256.Size]byte)
	for rows.Next() {
		var number int32
		var sum []byte
		if err := rows.Scan(&number, &sum); err != nil {
			return nil, fmt.Errorf("read part hashes of %q from catalog %s: %w", path, db.path, err)
		}
		parts[number] = [sha256.Size]byte(sum)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read part hashes of %q from catalog %s: %w", path, db.path, err)
	}
	return parts, nil
}

// PutUploadPart records the hash of part number of the in-flight upload of
// path and commits, durably (synchronous=FULL), before returning: it is
// called before the part's first byte is sent, so that whatever reaches the server under the upload's
// envelope is on record. A part already recorded keeps its hash; recording
// another one is an error (the caller compares first).
func (db *DB) PutUploadPart(path string, number int32, sum [sha256.Size]byte) error {
	res, err := db.sql.Exec("INSERT INTO upload_parts (path, number, sha256) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
		[]byte(path), number, sum[:])
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			err = fmt.Errorf("part %d already has a hash", number)
		}
	}
	if err != nil {
		return fmt.Errorf("record hash of part %d of %q in catalog %s: %w", number, path, db.path, err)
	}
	return nil
}

// DeleteUpload forgets the upload recorded for path, if any, and its part
// hashes. With secure_delete on, the file key's bytes are overwritten in the
// database file, not just unlinked from the b-tree.
func (db *DB) DeleteUpload(path string) error {
	err := db.uploadTx(func(tx *sql.Tx) error {
		if _, err := tx.Exec("DELETE FROM upload_parts WHERE path = ?", []byte(path)); err != nil {
			return err
		}
		_, err := tx.Stmt(db.deleteUploadStmt).Exec([]byte(path))
		return err
	})
	if err != nil {
		return fmt.Errorf("delete upload of %q from catalog %s: %w", path, db.path, err)
	}
	return nil
}

// uploadTx runs do in one transaction on the in-flight tables, which are
// not part of what Generation counts.
func (db *DB) uploadTx(do func(tx *sql.Tx) error) error {
	tx, err := db.sql.Begin()
	if err != nil {
		return err
	}
	if err := do(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
