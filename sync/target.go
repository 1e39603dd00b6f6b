package sync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"

	"github.com/s3seal/s3seal/catalog"
	"github.com/s3seal/s3seal/cipher"
)

// Catalog settings that describe the target.
const (
	settingTarget  = "target"          // "s3://bucket/prefix" the catalog belongs to
	settingNaming  = "naming"          // "hidden" or "plain"
	settingNameKey = "name_key"        // the per-target key of hidden names
	settingSealed  = "sealed_identity" // passphrase mode: the target identity, sealed
)

// ErrNamingMismatch is returned by PrepareTarget when the requested naming is
// not the one the target was created with.
var ErrNamingMismatch = errors.New("the target uses the other naming")

// ErrOtherTarget is returned by PrepareTarget when the catalog belongs to
// another target.
var ErrOtherTarget = errors.New("the catalog belongs to another target")

// NamingChoice is the user's request for object names.
type NamingChoice int

const (
	NamingDefault NamingChoice = iota // the target's recorded naming; hidden for a new target
	NamingHidden
	NamingPlain
)

// PrepareTarget binds db to target ("s3://bucket/prefix") on first use and
// returns the target's naming. A new target gets hidden names with a fresh
// name key unless plain names are asked for; an existing one keeps its
// naming, and asking for the other is refused rather than mixing the two.
// With dryRun nothing is written to db.
func PrepareTarget(db *catalog.DB, target string, choice NamingChoice, dryRun bool) (cipher.Naming, error) {
	bound, ok, err := db.Setting(settingTarget)
	if err != nil {
		return cipher.Naming{}, err
	}
	if ok && string(bound) != target {
		return cipher.Naming{}, fmt.Errorf("%w: %s belongs to %s, not %s", ErrOtherTarget, db.Path(), bound, target)
	}
	naming, known, err := TargetNaming(db)
	if err != nil {
		return cipher.Naming{}, err
	}
	if known {
		if (choice == NamingPlain && naming.Hidden) || (choice == NamingHidden && !naming.Hidden) {
			return cipher.Naming{}, fmt.Errorf("%w: %s uses %s names", ErrNamingMismatch, target, namingWord(naming))
		}
		return naming, nil
	}
	naming = cipher.Naming{Hidden: choice != NamingPlain}
	if naming.Hidden {
		if naming.Key, err = cipher.NewNameKey(); err != nil {
			return cipher.Naming{}, err
		}
	}
	if dryRun {
		return naming, nil
	}
	if err := db.SetSetting(settingTarget, []byte(target)); err != nil {
		return cipher.Naming{}, err
	}
	if err := db.SetSetting(settingNameKey, naming.Key); err != nil {
		return cipher.Naming{}, err
	}
	return naming, db.SetSetting(settingNaming, []byte(namingWord(naming)))
}

// TargetNaming returns the naming recorded in db, and false when db has none
// (a new catalog).
func TargetNaming(db *catalog.DB) (cipher.Naming, bool, error) {
	word, ok, err := db.Setting(settingNaming)
	if err != nil || !ok {
		return cipher.Naming{}, false, err
	}
	switch string(word) {
	case "plain":
		return cipher.Naming{}, true, nil
	case "hidden":
		key, ok, err := db.Setting(settingNameKey)
		if err != nil {
			return cipher.Naming{}, false, err
		}
		if !ok || len(key) != 32 {
			return cipher.Naming{}, false, fmt.Errorf("catalog %s: %w: hidden names without a name key", db.Path(), catalog.ErrCorrupt)
		}
		return cipher.Naming{Hidden: true, Key: key}, true, nil
	}
	return cipher.Naming{}, false, fmt.Errorf("catalog %s: %w: unknown naming %q", db.Path(), catalog.ErrCorrupt, word)
}

func namingWord(n cipher.Naming) string {
	if n.Hidden {
		return "hidden"
	}
	return "plain"
}

// Passphrase returns the passphrase; confirm asks the user to type it twice
// because a new target identity is about to be sealed with it.
type Passphrase func(confirm bool) (string, error)

// PassphraseIdentity returns the target identity of passphrase mode: files
// are encrypted to its recipient, so each costs an X25519 header instead of a
// scrypt. It is taken from db (may be nil) or from the sealed copy under the
// prefix and opened with one scrypt; with create, a target that has none gets
// a new one, sealed and uploaded (and recorded in db) before any file. With
// a db, the catalog signing key becomes the one derived from the identity.
func PassphraseIdentity(ctx context.Context, db *catalog.DB, store Bucket, prefix string, pass Passphrase, create bool, workFactor int) (*age.X25519Identity, error) {
	sealed, err := sealedIdentity(ctx, db, store, prefix)
	if err != nil {
		return nil, err
	}
	if sealed != nil {
		p, err := pass(false)
		if err != nil {
			return nil, err
		}
		id, err := cipher.OpenSealedIdentity(sealed, p)
		if err != nil {
			return nil, err
		}
		if db != nil {
			err = db.SetSetting(settingSealed, sealed)
		}
		if db != nil && err == nil {
			err = setPassphraseSigningKey(db, id)
		}
		return id, err
	}
	if !create {
		return nil, fmt.Errorf("%s has no passphrase key (%s): it was not written in passphrase mode", store.url(prefix), cipher.MetaKey(prefix, keyName))
	}
	p, err := pass(true)
	if err != nil {
		return nil, err
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, err
	}
	if sealed, err = cipher.SealIdentity(id, p, workFactor); err != nil {
		return nil, err
	}
	if _, err := putObject(ctx, store, cipher.MetaKey(prefix, keyName), bytes.NewReader(sealed), int64(len(sealed)), PutOptions{}); err != nil {
		return nil, fmt.Errorf("upload passphrase key: %w", err)
	}
	if db != nil {
		err = db.SetSetting(settingSealed, sealed)
	}
	if db != nil && err == nil {
		err = setPassphraseSigningKey(db, id)
	}
	return id, err
}

// sealedIdentity returns the sealed target identity from db or the bucket,
// or nil if there is none.
func sealedIdentity(ctx context.Context, db *catalog.DB, store Bucket, prefix string) ([]byte, error) {
	if db != nil {
		if sealed, ok, err := db.Setting(settingSealed); err != nil || ok {
			return sealed, err
		}
	}
	rc, _, err := store.Get(ctx, cipher.MetaKey(prefix, keyName))
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("download passphrase key: %w", err)
	}
	defer rc.Close()
	sealed, err := io.ReadAll(io.LimitReader(rc, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("download passphrase key: %w", err)
	}
	return sealed, nil
}
