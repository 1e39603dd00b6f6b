package catalog

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Listed is one object of a bucket listing.
type Listed struct {
	Key      string
	ETag     string
	Size     int64
	Modified int64 // LastModified in unix seconds (the precision S3 lists), 0 for none
}

// Listing is a bucket listing kept on disk for the length of one run, so
// that a run over millions of objects does not hold them in memory: one
// table keyed by object key, in a SQLite file of its own in a TempDir of the
// catalog, with its own connection (filling it does not wait for the
// catalog's) and no journal, as a crash loses nothing but this file, which
// the next Open removes. Fill it with Add, then call Done once, then look
// keys up with LookupMany, which is safe for concurrent use; Close removes
// it. Add and Done are for one goroutine.
type Listing struct {
	dir    string
	sql    *sql.DB
	tx     *sql.Tx
	insert *sql.Stmt
}

// listingCacheKiB is the page cache of a Listing's connection, as the
// catalog's own: lookups by hidden key touch pages at random, and the rest
// is the system's file cache.
const listingCacheKiB = 8192

// NewListing creates an empty Listing next to the catalog.
func (db *DB) NewListing() (*Listing, error) {
	dir, err := db.TempDir("listing")
	if err != nil {
		return nil, err
	}
	l, err := openListing(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("listing next to catalog %s: %w", db.path, err)
	}
	return l, nil
}

func openListing(dir string) (*Listing, error) {
	sqlDB, err := sql.Open("sqlite", fileURI(filepath.Join(dir, "listing.db"),
		"_pragma=journal_mode(OFF)&_pragma=synchronous(OFF)&_pragma=locking_mode(EXCLUSIVE)"+
			fmt.Sprintf("&_pragma=cache_size(%d)", -listingCacheKiB)))
	if err != nil {
		return nil, err
	}
	sqlDB.SetMaxOpenConns(1)
	l := &Listing{dir: dir, sql: sqlDB}
	// The newest listing of a key replaces an earlier one (see Add).
	_, err = sqlDB.Exec(`CREATE TABLE objects (key BLOB PRIMARY KEY, etag BLOB NOT NULL,
		size INTEGER NOT NULL, modified INTEGER NOT NULL) WITHOUT ROWID`)
	if err == nil {
		l.tx, err = sqlDB.Begin()
	}
	if err == nil {
		l.insert, err = l.tx.Prepare("INSERT OR REPLACE INTO objects (key, etag, size, modified) VALUES (?, ?, ?, ?)")
	}
	if err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// Add stores one listed object. A key listed again replaces what was
// listed before, as the last listing of a key is the newest.
func (l *Listing) Add(o Listed) error {
	if l.tx == nil {
		return errors.New("add to listing: already done")
	}
	if _, err := l.insert.Exec([]byte(o.Key), []byte(o.ETag), o.Size, o.Modified); err != nil {
		return fmt.Errorf("add %.64q to listing: %w", o.Key, err)
	}
	return nil
}

// Done ends the filling: every object added is stored in one transaction,
// which is what makes millions of them cheap.
func (l *Listing) Done() error {
	if l.tx == nil {
		return nil
	}
	l.insert.Close()
	err := l.tx.Commit()
	l.tx, l.insert = nil, nil
	if err != nil {
		return fmt.Errorf("store listing: %w", err)
	}
	return nil
}

// LookupMany returns the listed objects among keys, keyed by key, with
// one query per 500 keys.
func (l *Listing) LookupMany(keys []string) (map[string]Listed, error) {
	found := make(map[string]Listed, len(keys))
	for start := 0; start < len(keys); start += lookupBatch {
		if err := l.lookupBatch(keys[start:min(start+lookupBatch, len(keys))], found); err != nil {
			return nil, fmt.Errorf("look up %d keys in listing: %w", len(keys), err)
		}
	}
	return found, nil
}

func (l *Listing) lookupBatch(keys []string, found map[string]Listed) error {
	if l.tx != nil {
		return errors.New("the listing is still being filled")
	}
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = []byte(k)
	}
	rows, err := l.sql.Query("SELECT key, etag, size, modified FROM objects WHERE key IN (?"+
		strings.Repeat(",?", len(keys)-1)+")", args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var key, etag []byte
		var o Listed
		if err := rows.Scan(&key, &etag, &o.Size, &o.Modified); err != nil {
			return err
		}
		o.Key, o.ETag = string(key), string(etag)
		found[o.Key] = o
	}
	return rows.Err()
}

// Close closes the listing and removes its file.
func (l *Listing) Close() error {
	if l.insert != nil {
		l.insert.Close()
	}
	if l.tx != nil {
		l.tx.Rollback()
	}
	l.tx, l.insert = nil, nil
	err := l.sql.Close()
	return errors.Join(err, os.RemoveAll(l.dir))
}
