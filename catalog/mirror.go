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

// Mirror is this machine's record of the target's catalog mirror.
type Mirror struct {
	Generation int64  // the Generation of the snapshot pushed
	ETag       string // the mirror object's ETag after that push
	Keys       string // identifies the recipients it was encrypted to
}

// Mirrored returns what SetMirrored last recorded; ok is false if nothing
// was. The record stays on this machine: it is never part of a snapshot.
func (db *DB) Mirrored() (m Mirror, ok bool, err error) {
	err = db.sql.QueryRow(`SELECT g.value, e.value, k.value FROM local g, local e, local k
		WHERE g.key = 'mirrored' AND e.key = 'mirror_etag' AND k.key = 'mirror_keys'`).Scan(&m.Generation, &m.ETag, &m.Keys)
	if errors.Is(err, sql.ErrNoRows) {
		return Mirror{}, false, nil
	}
	if err != nil {
		return Mirror{}, false, fmt.Errorf("read mirror record of catalog %s: %w", db.path, err)
	}
	return m, true, nil
}

// SetMirrored records m. It does not change the Generation.
func (db *DB) SetMirrored(m Mirror) error {
	_, err := db.sql.Exec(`INSERT OR REPLACE INTO local (key, value) VALUES
		('mirrored', ?), ('mirror_etag', ?), ('mirror_keys', ?)`, m.Generation, m.ETag, m.Keys)
	if err != nil {
		return fmt.Errorf("record mirror in catalog %s: %w", db.path, err)
	}
	return nil
}

// Signer is the catalog signing key this machine knows for its target, and
// the highest catalog generation it has seen signed by that key.
type Signer struct {
	Key        []byte // the Ed25519 public key
	Generation int64
}

// Signer returns what SetSigner last recorded; ok is false if nothing was.
// Like the mirror record it stays on this machine, never in a snapshot, so
// a pulled catalog cannot change it.
func (db *DB) Signer() (s Signer, ok bool, err error) {
	err = db.sql.QueryRow(`SELECT k.value, g.value FROM local k, local g
		WHERE k.key = 'signer' AND g.key = 'signed_generation'`).Scan(&s.Key, &s.Generation)
	if errors.Is(err, sql.ErrNoRows) {
		return Signer{}, false, nil
	}
	if err != nil {
		return Signer{}, false, fmt.Errorf("read signer of catalog %s: %w", db.path, err)
	}
	return s, true, nil
}

// SetSigner records s. It does not change the Generation.
func (db *DB) SetSigner(s Signer) error {
	_, err := db.sql.Exec(`INSERT OR REPLACE INTO local (key, value) VALUES
		('signer', ?), ('signed_generation', ?)`, s.Key, s.Generation)
	if err != nil {
		return fmt.Errorf("record signer in catalog %s: %w", db.path, err)
	}
	return nil
}

// AdvanceGeneration raises the Generation to at least g, so that the next
// change of a catalog replaced by a pulled one counts past the generation
// it was pulled at.
func (db *DB) AdvanceGeneration(g int64) error {
	_, err := db.sql.Exec("UPDATE local SET value = max(value, ?) WHERE key = 'generation'", g)
	if err != nil {
		return fmt.Errorf("advance generation of catalog %s: %w", db.path, err)
	}
	return nil
}
