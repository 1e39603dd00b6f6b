package catalog

import (
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
}

// uploadColumns lists the uploads table's columns in the order scanUpload
// and uploadArgs use.
const uploadColumns = "path, object_key, upload_id, part_size, file_key, nonce, header, size, mtime_ns, ctime_ns, inode, started_at"

func uploadArgs(u Upload) []any {
	return []any{[]byte(u.Path), u.ObjectKey, u.UploadID, u.PartSize, u.FileKey,
		u.Nonce, u.Header, u.Size, u.ModTime, u.ChangeTime, int64(u.Inode), u.StartedAt}
}

func scanUpload(s scanner) (Upload, error) {
	var (
		u     Upload
		path  []byte
		inode int64
	)
	err := s.Scan(&path, &u.ObjectKey, &u.UploadID, &u.PartSize, &u.FileKey,
		&u.Nonce, &u.Header, &u.Size, &u.ModTime, &u.ChangeTime, &inode, &u.StartedAt)
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

// PutUpload records u, replacing any upload recorded for u.Path, and
// commits before returning, so a crash right after still knows the upload.
func (db *DB) PutUpload(u Upload) error {
	if err := checkPath(u.Path); err != nil {
		return fmt.Errorf("record upload of %q in catalog %s: %w", u.Path, db.path, err)
	}
	if _, err := db.putUploadStmt.Exec(uploadArgs(u)...); err != nil {
		return fmt.Errorf("record upload of %q in catalog %s: %w", u.Path, db.path, err)
	}
	return nil
}

// DeleteUpload forgets the upload recorded for path, if any. With
// secure_delete on, the file key's bytes are overwritten in the database
// file, not just unlinked from the b-tree.
func (db *DB) DeleteUpload(path string) error {
	if _, err := db.deleteUploadStmt.Exec([]byte(path)); err != nil {
		return fmt.Errorf("delete upload of %q from catalog %s: %w", path, db.path, err)
	}
	return nil
}
