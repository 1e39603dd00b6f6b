package sync

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"

	"filippo.io/age"

	"github.com/s3seal/s3seal/catalog"
	"github.com/s3seal/s3seal/cipher"
)

// settingSigningKey holds the seed of the target's catalog signing key. It
// travels, encrypted, with every mirror and export, so a machine that holds
// an identity can keep signing after a pull.
const settingSigningKey = "signing_key"

// Errors of a catalog that is refused before its settings are used.
var (
	ErrUnsigned        = errors.New("the catalog is not signed")
	ErrOtherSigner     = errors.New("the catalog is signed by another key")
	ErrOlderGeneration = errors.New("the catalog is older than one this machine has seen")
	ErrNamingChanged   = errors.New("the catalog changes the target's object naming")
	ErrUnprovenPlain   = errors.New("the catalog turns on plain object names, and nothing proves it comes from the machine that backs up")
)

// Trust says what a pulled or imported catalog must prove before it
// replaces the local one.
type Trust struct {
	Target          string              // "s3://bucket/prefix": what the signature must name
	Fingerprint     string              // if set, the signer's key must have this fingerprint
	Passphrase      *age.X25519Identity // passphrase mode: the signer must be the key derived from it
	Known           []Known             // what other catalogs of this machine know of the target
	AllowUnsigned   bool                // accept a catalog with no signature (pushed by an older s3seal)
	AllowPlainNames bool                // accept plain names that nothing else proves
	// Past says the catalog asked for is a past one (restore --at): that
	// it is older than a generation this machine has seen is expected. Its
	// signer must still be the known one.
	Past bool
}

// Known is what one catalog of this machine knew about its target.
type Known struct {
	Signer    catalog.Signer
	HasSigner bool
	Naming    cipher.Naming
	HasNaming bool
}

// Proof says how an accepted catalog was authenticated, weakest first.
type Proof int

const (
	ProofNone        Proof = iota // unsigned, accepted with Trust.AllowUnsigned
	ProofFirstUse                 // signed by a key this machine had never seen
	ProofKnownKey                 // signed by the key this machine knew
	ProofFingerprint              // signed by the key of Trust.Fingerprint
	ProofPassphrase               // signed by the key derived from the passphrase identity
)

// Accepted describes a catalog that passed the checks.
type Accepted struct {
	Proof       Proof
	Fingerprint string // the signer's; empty when unsigned
	Generation  int64  // the signed generation
}

// KnownTarget returns what db knows of its target: the signer it pinned and
// its naming.
func KnownTarget(db *catalog.DB) (Known, error) {
	var k Known
	var err error
	if k.Signer, k.HasSigner, err = db.Signer(); err != nil {
		return Known{}, err
	}
	if k.Naming, k.HasNaming, err = TargetNaming(db); err != nil {
		return Known{}, err
	}
	return k, nil
}

// KnownCatalogs returns what the catalogs in the default folder that belong
// to target know of it, leaving out the catalog at except (the caller's
// own, "" for none). A catalog another s3seal run holds cannot be read; its
// path is returned in busy, so the caller can tell that something this
// machine knows went unconsulted.
func KnownCatalogs(target, except string) (known []Known, busy []string, err error) {
	paths, err := catalog.DefaultPathsFor(target)
	if err != nil {
		return nil, nil, err
	}
	own, _ := os.Stat(except)
	for _, path := range paths {
		if fi, err := os.Stat(path); err == nil && own != nil && os.SameFile(fi, own) {
			continue
		}
		k, ok, err := knownCatalog(path, target)
		if errors.Is(err, catalog.ErrLocked) {
			busy = append(busy, path)
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		if ok {
			known = append(known, k)
		}
	}
	return known, busy, nil
}

func knownCatalog(path, target string) (Known, bool, error) {
	db, err := catalog.Open(path)
	if err != nil {
		return Known{}, false, err
	}
	defer db.Close()
	bound, ok, err := db.Setting(settingTarget)
	if err != nil || !ok || string(bound) != target {
		return Known{}, false, err
	}
	k, err := KnownTarget(db)
	return k, err == nil, err
}

// EnsureSigningKey gives db a catalog signing key if it has none (unless
// dryRun) and returns its fingerprint, and whether it was created now.
// The backing-up machine calls it before it pushes, so every mirror it
// pushes is signed.
func EnsureSigningKey(db *catalog.DB, dryRun bool) (fingerprint string, created bool, err error) {
	key, err := signingKey(db)
	if err != nil || key != nil {
		return fingerprintOf(key), false, err
	}
	if dryRun {
		return "", false, nil
	}
	seed, err := cipher.NewSigningSeed()
	if err != nil {
		return "", false, err
	}
	if err := db.SetSetting(settingSigningKey, seed); err != nil {
		return "", false, err
	}
	key, err = signingKey(db)
	return fingerprintOf(key), true, err
}

// SigningFingerprint returns the fingerprint of db's signing key, or "" if
// it has none.
func SigningFingerprint(db *catalog.DB) (string, error) {
	key, err := signingKey(db)
	return fingerprintOf(key), err
}

func fingerprintOf(key *cipher.SigningKey) string {
	if key == nil {
		return ""
	}
	return key.Public().Fingerprint()
}

// signingKey returns db's signing key, or nil if it has none.
func signingKey(db *catalog.DB) (*cipher.SigningKey, error) {
	seed, ok, err := db.Setting(settingSigningKey)
	if err != nil || !ok {
		return nil, err
	}
	key, err := cipher.SigningKeyFromSeed(seed)
	if err != nil {
		return nil, fmt.Errorf("catalog %s: %w: %w", db.Path(), catalog.ErrCorrupt, err)
	}
	return key, nil
}

// setPassphraseSigningKey makes db's signing key the one derived from the
// passphrase-mode target identity.
func setPassphraseSigningKey(db *catalog.DB, id *age.X25519Identity) error {
	seed, err := cipher.PassphraseSigningSeed(id)
	if err != nil {
		return err
	}
	if old, ok, err := db.Setting(settingSigningKey); err != nil || ok && bytes.Equal(old, seed) {
		return err
	}
	return db.SetSetting(settingSigningKey, seed)
}

// signedRecipients returns recipients with the first one also signing the
// snapshot at snap, of the given generation, with db's key. Without a key
// or a target they are returned unchanged (an unsigned catalog).
func signedRecipients(db *catalog.DB, recipients []age.Recipient, snap string, generation int64) ([]age.Recipient, error) {
	key, err := signingKey(db)
	if err != nil || key == nil || len(recipients) == 0 {
		return recipients, err
	}
	target, ok, err := db.Setting(settingTarget)
	if err != nil || !ok {
		return recipients, err
	}
	sum, err := fileSHA256(snap)
	if err != nil {
		return nil, err
	}
	signed := cipher.Signed{Target: string(target), Generation: generation, PlainSHA256: sum}
	out := append([]age.Recipient{cipher.SigningRecipient(recipients[0], key, signed)}, recipients[1:]...)
	return out, nil
}

func fileSHA256(path string) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	f, err := os.Open(path)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return sum, err
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}
