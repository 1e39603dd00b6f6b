package sync

import (
	"bytes"
	"context"
	"fmt"

	"filippo.io/age"

	"github.com/s3seal/s3seal/catalog"
	"github.com/s3seal/s3seal/cipher"
)

// ResealIdentity seals the passphrase-mode target identity id with a new
// passphrase and replaces the sealed copy under the prefix and in db. No
// file object changes: they are encrypted to id, which stays. The old
// sealed copy is overwritten (on a versioned bucket its old version stays
// until it expires, and still opens with the old passphrase).
func ResealIdentity(ctx context.Context, db *catalog.DB, store Bucket, prefix string, id *age.X25519Identity, passphrase string, workFactor int) error {
	sealed, err := cipher.SealIdentity(id, passphrase, workFactor)
	if err != nil {
		return err
	}
	if _, err := putObject(ctx, store, cipher.MetaKey(prefix, keyName), bytes.NewReader(sealed), int64(len(sealed)), PutOptions{}); err != nil {
		return fmt.Errorf("upload passphrase key: %w", err)
	}
	return db.SetSetting(settingSealed, sealed)
}

// DropPassphraseKey removes the sealed target identity from the prefix and
// from db, once a rekey has moved every object to recipients: the target
// is no longer in passphrase mode.
func DropPassphraseKey(ctx context.Context, db *catalog.DB, store Bucket, prefix string) error {
	if err := store.Delete(ctx, cipher.MetaKey(prefix, keyName)); err != nil {
		return fmt.Errorf("delete passphrase key: %w", err)
	}
	return db.DeleteSetting(settingSealed)
}

// IsPassphraseTarget reports whether the target has a sealed passphrase
// identity, in db or under the prefix.
func IsPassphraseTarget(ctx context.Context, db *catalog.DB, store Bucket, prefix string) (bool, error) {
	sealed, err := sealedIdentity(ctx, db, store, prefix)
	return sealed != nil, err
}
