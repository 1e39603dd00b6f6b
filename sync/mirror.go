package sync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"filippo.io/age"

	"github.com/s3seal/s3seal/catalog"
	"github.com/s3seal/s3seal/cipher"
)

// Names of the internal objects under PREFIX/.s3seal/.
const (
	mirrorName     = "catalog.age"      // the catalog, encrypted to the recipients
	mirrorPrevName = "catalog.prev.age" // the generation before it
	keyName        = "key.age"          // passphrase mode: the sealed target identity
)

// ErrNoMirror is returned by PullCatalog when the target has no catalog mirror.
var ErrNoMirror = errors.New("the target has no catalog mirror")

// PushCatalog uploads a consistent snapshot of db (without in-flight key
// material), encrypted to recipients and signed with db's signing key
// (created now if db has none), as the target's catalog mirror. The
// mirror it replaces is first copied to the previous generation. Each PUT is
// atomic, so a reader sees a whole catalog or the one before. db records
// which of its generations the mirror now holds, and keysID, for
// UpdateMirror: keysID identifies the recipients (any string that changes
// when they do).
func PushCatalog(ctx context.Context, db *catalog.DB, store Bucket, prefix string, recipients []age.Recipient, keysID string) error {
	return pushCatalog(ctx, db, store, prefix, recipients, keysID, PutOptions{})
}

// pushCatalog is PushCatalog with the options of the mirror's upload (an
// Object Lock retention).
func pushCatalog(ctx context.Context, db *catalog.DB, store Bucket, prefix string, recipients []age.Recipient, keysID string, opts PutOptions) error {
	dir, err := db.TempDir("mirror")
	if err != nil {
		return fmt.Errorf("push catalog: %w", err)
	}
	defer os.RemoveAll(dir)
	snap := filepath.Join(dir, "catalog.db")
	if _, _, err := EnsureSigningKey(db, false); err != nil {
		return fmt.Errorf("push catalog: %w", err)
	}
	generation, err := db.Snapshot(snap)
	if err != nil {
		return fmt.Errorf("push catalog: %w", err)
	}
	signed, err := signedRecipients(db, recipients, snap, generation)
	if err != nil {
		return fmt.Errorf("push catalog: %w", err)
	}
	key := cipher.MetaKey(prefix, mirrorName)
	if _, err := store.Head(ctx, key); err == nil {
		if _, err := store.Copy(ctx, key, cipher.MetaKey(prefix, mirrorPrevName), opts); err != nil {
			return fmt.Errorf("push catalog: keep previous generation: %w", err)
		}
	} else if !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("push catalog: %w", err)
	}
	obj, err := putEncryptedFile(ctx, store, key, snap, signed, opts)
	if err != nil {
		return fmt.Errorf("push catalog: %w", err)
	}
	if err := db.SetMirrored(catalog.Mirror{Generation: generation, ETag: obj.ETag, Keys: keysID}); err != nil {
		return fmt.Errorf("push catalog: %w", err)
	}
	if err := noteMirrorVersion(db, obj.VersionID); err != nil {
		return fmt.Errorf("push catalog: %w", err)
	}
	if err := pinOwnKey(db, generation); err != nil {
		return fmt.Errorf("push catalog: %w", err)
	}
	return nil
}

// noteMirrorVersion records, on a versioned bucket, that the mirror version
// just pushed is the first to hold the newest run, unless an earlier push
// already held it.
func noteMirrorVersion(db *catalog.DB, version string) error {
	if version == "" {
		return nil
	}
	last, ok, err := db.LastRun()
	if err != nil || !ok || last.MirrorVersion != "" {
		return err
	}
	return db.SetRunMirror(last.ID, version)
}

// pinOwnKey records db's own signing key as the target's known signer, at
// the generation just signed.
func pinOwnKey(db *catalog.DB, generation int64) error {
	key, err := signingKey(db)
	if err != nil || key == nil {
		return err
	}
	return db.SetSigner(catalog.Signer{Key: key.Public(), Generation: generation})
}

// UpdateMirror pushes the catalog as PushCatalog does, unless the mirror
// already holds it: db has not changed since this machine last pushed it,
// to the same recipients (keysID), and the mirror object still has the
// ETag that push gave it (nobody replaced or deleted it since). Checking
// costs one HEAD request. It reports whether it pushed.
func UpdateMirror(ctx context.Context, db *catalog.DB, store Bucket, prefix string, recipients []age.Recipient, keysID string) (pushed bool, err error) {
	return updateMirror(ctx, db, store, prefix, recipients, keysID, PutOptions{})
}

// updateMirror is UpdateMirror with the options of the mirror's upload.
func updateMirror(ctx context.Context, db *catalog.DB, store Bucket, prefix string, recipients []age.Recipient, keysID string, opts PutOptions) (pushed bool, err error) {
	generation, err := db.Generation()
	if err != nil {
		return false, fmt.Errorf("push catalog: %w", err)
	}
	last, ok, err := db.Mirrored()
	if err != nil {
		return false, fmt.Errorf("push catalog: %w", err)
	}
	if ok && last.Generation == generation && last.Keys == keysID {
		obj, err := store.Head(ctx, cipher.MetaKey(prefix, mirrorName))
		if err == nil && obj.ETag == last.ETag {
			return false, nil
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			return false, fmt.Errorf("push catalog: %w", err)
		}
	}
	return true, pushCatalog(ctx, db, store, prefix, recipients, keysID, opts)
}

// PullCatalog downloads the target's catalog mirror, decrypts it with
// identities, judges it under trust (see ImportCatalog) and replaces db's
// contents with it. On any error (no mirror, wrong identity, damaged
// object, a catalog trust refuses) db is left untouched.
func PullCatalog(ctx context.Context, db *catalog.DB, store Bucket, prefix string, identities []age.Identity, trust Trust) (Accepted, error) {
	rc, obj, err := store.Get(ctx, cipher.MetaKey(prefix, mirrorName))
	if errors.Is(err, ErrNotFound) {
		return Accepted{}, fmt.Errorf("pull catalog: %w", ErrNoMirror)
	}
	if err != nil {
		return Accepted{}, fmt.Errorf("pull catalog: %w", err)
	}
	defer rc.Close()
	acc, err := ImportCatalog(db, rc, identities, trust)
	if err != nil {
		return Accepted{}, fmt.Errorf("pull catalog: %w", err)
	}
	// The version read is the first to hold the newest run (that run's own
	// push could not note it): note it here, or this machine's history
	// would lose it once it pushes newer runs.
	if err := noteMirrorVersion(db, obj.VersionID); err != nil {
		return Accepted{}, fmt.Errorf("pull catalog: %w", err)
	}
	return acc, nil
}

// HasMirror reports whether the target has a catalog mirror.
func HasMirror(ctx context.Context, store Bucket, prefix string) (bool, error) {
	_, err := store.Head(ctx, cipher.MetaKey(prefix, mirrorName))
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// ExportCatalog writes a snapshot of db, encrypted to recipients, to w. It
// is signed when db has a signing key.
func ExportCatalog(db *catalog.DB, w io.Writer, recipients []age.Recipient) error {
	dir, err := db.TempDir("export")
	if err != nil {
		return fmt.Errorf("export catalog: %w", err)
	}
	defer os.RemoveAll(dir)
	snap := filepath.Join(dir, "catalog.db")
	generation, err := db.Snapshot(snap)
	if err != nil {
		return fmt.Errorf("export catalog: %w", err)
	}
	if recipients, err = signedRecipients(db, recipients, snap, generation); err != nil {
		return fmt.Errorf("export catalog: %w", err)
	}
	f, err := os.Open(snap)
	if err != nil {
		return fmt.Errorf("export catalog: %w", err)
	}
	defer f.Close()
	enc, err := age.Encrypt(w, recipients...)
	if err != nil {
		return fmt.Errorf("export catalog: %w", err)
	}
	if _, err := io.Copy(enc, f); err != nil {
		return fmt.Errorf("export catalog: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("export catalog: %w", err)
	}
	return nil
}

// ImportCatalog decrypts an exported catalog from r with identities, judges
// it under trust and what db knows of the target, and replaces db's
// contents with it. A catalog is refused, before any of its settings is
// used, when it belongs to another target; when it is unsigned (unless
// trust.AllowUnsigned and nothing known says the target signs); when its
// signature does not verify or its signer is not the key db or trust.Known
// pinned, trust.Fingerprint names or trust.Passphrase derives; when its
// generation is older than a pinned one; when its naming or name key differ
// from a known one; and when it turns on plain names that neither a known
// key, a fingerprint, a passphrase nor trust.AllowPlainNames vouch for. An
// accepted signer is pinned in db at the signed generation. On any error db
// is left untouched.
func ImportCatalog(db *catalog.DB, r io.Reader, identities []age.Identity, trust Trust) (Accepted, error) {
	dir, err := db.TempDir("import")
	if err != nil {
		return Accepted{}, err
	}
	defer os.RemoveAll(dir)
	snap := filepath.Join(dir, "catalog.db")
	p, err := decryptSnapshot(r, identities, snap)
	if err != nil {
		return Accepted{}, err
	}
	own, err := KnownTarget(db)
	if err != nil {
		return Accepted{}, err
	}
	known := append([]Known{own}, trust.Known...)
	// A catalog whose signer can be judged without reading it is judged
	// before SQLite parses a byte of a file that may be an attacker's.
	if p.sig != nil && pinned(trust, known) {
		if _, err := judgeSignature(trust, known, p.sig, p.sum); err != nil {
			return Accepted{}, err
		}
	}
	if p.settings, err = db.SnapshotSettings(snap); err != nil {
		return Accepted{}, err
	}
	if bound, ok, err := db.Setting(settingTarget); err != nil {
		return Accepted{}, err
	} else if ok && string(bound) != trust.Target {
		return Accepted{}, fmt.Errorf("%w: %s belongs to %s, not %s", ErrOtherTarget, db.Path(), bound, trust.Target)
	}
	acc, err := judge(trust, known, p)
	if err != nil {
		return Accepted{}, err
	}
	if err := db.ReplaceFrom(snap); err != nil {
		return Accepted{}, err
	}
	return acc, pinSigner(db, own, p.sig)
}

// decryptSnapshot decrypts r into a new file at snap, hashing it, and
// returns what the header and plaintext say.
func decryptSnapshot(r io.Reader, identities []age.Identity, snap string) (pulled, error) {
	reader := cipher.NewSignatureReader(identities...)
	plain, err := cipher.Decrypt(r, reader)
	if err != nil {
		return pulled{}, err
	}
	var p pulled
	if p.sig, err = reader.Signature(); err != nil {
		return pulled{}, err
	}
	f, err := os.OpenFile(snap, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return pulled{}, err
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), plain); err != nil {
		f.Close()
		return pulled{}, fmt.Errorf("decrypt catalog: %w", err)
	}
	if err := f.Close(); err != nil {
		return pulled{}, err
	}
	copy(p.sum[:], h.Sum(nil))
	return p, nil
}

// pinSigner records the signer of an accepted catalog, and moves db's
// generation past the signed one so that what this machine pushes next is
// newer.
func pinSigner(db *catalog.DB, own Known, sig *cipher.Signature) error {
	if sig == nil {
		return nil
	}
	generation := sig.Generation
	if own.HasSigner && bytes.Equal(own.Signer.Key, sig.Signer) {
		generation = max(generation, own.Signer.Generation)
	}
	if err := db.SetSigner(catalog.Signer{Key: sig.Signer, Generation: generation}); err != nil {
		return err
	}
	return db.AdvanceGeneration(generation)
}

// putEncryptedFile encrypts a local file to recipients and uploads it as key,
// in one PutObject or, when large, a multipart upload of sequential parts,
// and returns the object's ETag.
func putEncryptedFile(ctx context.Context, store Bucket, key, path string, recipients []age.Recipient, opts PutOptions) (Object, error) {
	f, err := os.Open(path)
	if err != nil {
		return Object{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Object{}, err
	}
	env, err := cipher.NewEnvelope(recipients...)
	if err != nil {
		return Object{}, err
	}
	ct := cipher.NewCiphertext(env, f, fi.Size())
	return putObject(ctx, store, key, ct, ct.Size(), opts)
}

// putObject uploads size bytes of r as key, through the uploader files
// use, with two parts in flight at most; it does not resume.
func putObject(ctx context.Context, store Bucket, key string, r io.ReaderAt, size int64, opts PutOptions) (Object, error) {
	u := &uploader{store: store, buffers: newBufferPool(2, DefaultPartSize), partSize: DefaultPartSize, putOpts: opts}
	return u.putReader(ctx, key, r, size)
}
