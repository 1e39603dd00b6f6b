package sync

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"filippo.io/age"

	"github.com/s3seal/s3seal/catalog"
	"github.com/s3seal/s3seal/cipher"
)

const trustTarget = "s3://bucket/backup"

// trustFixture is a target's identity and a catalog of the machine that
// backs up to it.
type trustFixture struct {
	t   *testing.T
	id  *age.X25519Identity
	src *catalog.DB
}

func newTrustFixture(t *testing.T, choice NamingChoice) *trustFixture {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	fx := &trustFixture{t: t, id: id, src: openTrustDB(t)}
	if _, err := PrepareTarget(fx.src, trustTarget, choice, false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := EnsureSigningKey(fx.src, false); err != nil {
		t.Fatal(err)
	}
	if err := fx.src.Put(catalog.File{Path: "a.txt", ObjectKey: "k", ETag: "e", UploadedAt: 1}); err != nil {
		t.Fatal(err)
	}
	return fx
}

func openTrustDB(t *testing.T) *catalog.DB {
	t.Helper()
	db, err := catalog.Open(filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// export returns db exported to the fixture's recipient.
func (fx *trustFixture) export(db *catalog.DB) []byte {
	fx.t.Helper()
	var buf bytes.Buffer
	if err := ExportCatalog(db, &buf, []age.Recipient{fx.id.Recipient()}); err != nil {
		fx.t.Fatal(err)
	}
	return buf.Bytes()
}

// forge returns a catalog for the same target made by someone who knows
// only the recipient: their own naming, their own signing key or none.
func (fx *trustFixture) forge(choice NamingChoice, signed bool) []byte {
	fx.t.Helper()
	db := openTrustDB(fx.t)
	if _, err := PrepareTarget(db, trustTarget, choice, false); err != nil {
		fx.t.Fatal(err)
	}
	if signed {
		if _, _, err := EnsureSigningKey(db, false); err != nil {
			fx.t.Fatal(err)
		}
	}
	if err := db.Put(catalog.File{Path: "../escape", ObjectKey: "k2", ETag: "e", Mode: 0o4755, UploadedAt: 1}); err != nil {
		fx.t.Fatal(err)
	}
	return fx.export(db)
}

func (fx *trustFixture) fingerprint() string {
	fx.t.Helper()
	fp, err := SigningFingerprint(fx.src)
	if err != nil || fp == "" {
		fx.t.Fatalf("SigningFingerprint = %q, %v", fp, err)
	}
	return fp
}

// importInto imports file into db under trust; on error it checks that db
// kept its rows.
func (fx *trustFixture) importInto(db *catalog.DB, file []byte, trust Trust) (Accepted, error) {
	fx.t.Helper()
	before, _ := db.Count()
	trust.Target = trustTarget
	acc, err := ImportCatalog(db, bytes.NewReader(file), []age.Identity{fx.id}, trust)
	if after, _ := db.Count(); err != nil && after != before {
		fx.t.Errorf("a refused import changed the catalog: %d rows, was %d", after, before)
	}
	return acc, err
}

// TestImportTrust is the decision table of a pulled catalog: who may change
// what, on a fresh machine and on one that knew the target.
func TestImportTrust(t *testing.T) {
	fx := newTrustFixture(t, NamingDefault)
	genuine := fx.export(fx.src)
	tests := []struct {
		name      string
		file      []byte
		trust     Trust
		knew      bool // import into a catalog that pulled the genuine one before
		wantProof Proof
		wantErr   error
	}{
		{"fresh, genuine", genuine, Trust{}, false, ProofFirstUse, nil},
		{"fresh, genuine, --fingerprint", genuine, Trust{Fingerprint: fx.fingerprint()}, false, ProofFingerprint, nil},
		{"knew, genuine", genuine, Trust{}, true, ProofKnownKey, nil},
		{"fresh, forged hidden, wrong --fingerprint", fx.forge(NamingHidden, true), Trust{Fingerprint: fx.fingerprint()}, false, 0, ErrOtherSigner},
		{"knew, forged hidden", fx.forge(NamingHidden, true), Trust{}, true, 0, ErrOtherSigner},
		{"fresh, forged plain", fx.forge(NamingPlain, true), Trust{}, false, 0, ErrUnprovenPlain},
		{"fresh, forged plain, --allow-plain-names", fx.forge(NamingPlain, true), Trust{AllowPlainNames: true}, false, ProofFirstUse, nil},
		{"knew, forged plain, --allow-plain-names", fx.forge(NamingPlain, true), Trust{AllowPlainNames: true}, true, 0, ErrOtherSigner},
		{"fresh, unsigned", fx.forge(NamingHidden, false), Trust{}, false, 0, ErrUnsigned},
		{"fresh, unsigned, --allow-unsigned", fx.forge(NamingHidden, false), Trust{AllowUnsigned: true}, false, ProofNone, nil},
		{"fresh, unsigned plain, --allow-unsigned", fx.forge(NamingPlain, false), Trust{AllowUnsigned: true}, false, 0, ErrUnprovenPlain},
		{"knew, unsigned, --allow-unsigned", fx.forge(NamingHidden, false), Trust{AllowUnsigned: true}, true, 0, ErrUnsigned},
		{"fresh, unsigned, --fingerprint", fx.forge(NamingHidden, false), Trust{Fingerprint: fx.fingerprint(), AllowUnsigned: true}, false, 0, ErrUnsigned},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTrustDB(t)
			if tt.knew {
				if _, err := fx.importInto(db, genuine, Trust{}); err != nil {
					t.Fatalf("first import of the genuine catalog: %v", err)
				}
			}
			acc, err := fx.importInto(db, tt.file, tt.trust)
			if !errors.Is(err, tt.wantErr) || err == nil && acc.Proof != tt.wantProof {
				t.Fatalf("ImportCatalog = %+v, %v; want proof %d, error %v", acc, err, tt.wantProof, tt.wantErr)
			}
		})
	}
}

// TestImportNamingChange: a machine that knew the target's naming (from an
// older s3seal: no pinned key) refuses a catalog with another name key.
func TestImportNamingChange(t *testing.T) {
	fx := newTrustFixture(t, NamingDefault)
	noPin := openTrustDB(t)
	if _, err := PrepareTarget(noPin, trustTarget, NamingDefault, false); err != nil {
		t.Fatal(err)
	}
	_, err := fx.importInto(noPin, fx.forge(NamingHidden, true), Trust{})
	if !errors.Is(err, ErrNamingChanged) {
		t.Fatalf("import of another name key into a catalog that knew the naming = %v; want ErrNamingChanged", err)
	}
}

// TestImportOlderGeneration: a replayed older genuine catalog (such as the
// previous mirror) is refused by a machine that has seen a newer one, and
// accepted by a fresh one.
func TestImportOlderGeneration(t *testing.T) {
	fx := newTrustFixture(t, NamingDefault)
	older := fx.export(fx.src)
	if err := fx.src.Put(catalog.File{Path: "b.txt", ObjectKey: "k3", ETag: "e", UploadedAt: 2}); err != nil {
		t.Fatal(err)
	}
	newer := fx.export(fx.src)
	db := openTrustDB(t)
	if _, err := fx.importInto(db, newer, Trust{}); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.importInto(db, older, Trust{}); !errors.Is(err, ErrOlderGeneration) {
		t.Fatalf("import of the older generation = %v; want ErrOlderGeneration", err)
	}
	if _, err := fx.importInto(db, newer, Trust{}); err != nil {
		t.Fatalf("import of the same generation again = %v; want it accepted", err)
	}
	if _, err := fx.importInto(openTrustDB(t), older, Trust{}); err != nil {
		t.Errorf("a fresh machine refused the older genuine catalog: %v", err)
	}
}

// TestImportPassphraseProof: in passphrase mode the signer is derived from
// the target identity, so a fresh machine proves the catalog fully and
// refuses one signed by any other key, plain names or not.
func TestImportPassphraseProof(t *testing.T) {
	fx := newTrustFixture(t, NamingPlain)
	if err := setPassphraseSigningKey(fx.src, fx.id); err != nil {
		t.Fatal(err)
	}
	acc, err := fx.importInto(openTrustDB(t), fx.export(fx.src), Trust{Passphrase: fx.id})
	if err != nil || acc.Proof != ProofPassphrase {
		t.Fatalf("import of a passphrase-signed plain catalog = %+v, %v; want ProofPassphrase", acc, err)
	}
	if _, err := fx.importInto(openTrustDB(t), fx.forge(NamingHidden, true), Trust{Passphrase: fx.id}); !errors.Is(err, ErrOtherSigner) {
		t.Errorf("import of a catalog signed by another key in passphrase mode = %v; want ErrOtherSigner", err)
	}
}

// TestImportOtherTarget: a genuine catalog of another target does not verify
// for this one.
func TestImportOtherTarget(t *testing.T) {
	fx := newTrustFixture(t, NamingDefault)
	file := fx.export(fx.src)
	_, err := ImportCatalog(openTrustDB(t), bytes.NewReader(file), []age.Identity{fx.id}, Trust{Target: "s3://bucket/other"})
	if !errors.Is(err, ErrOtherTarget) && !errors.Is(err, cipher.ErrBadSignature) {
		t.Fatalf("import for another target = %v; want ErrOtherTarget", err)
	}
}

// TestImportCarriedKeyMismatch: a catalog signed by one key but carrying
// another signing key is refused; accepting it would make this machine sign
// with a key the signer chose.
func TestImportCarriedKeyMismatch(t *testing.T) {
	fx := newTrustFixture(t, NamingDefault)
	snap := filepath.Join(t.TempDir(), "snap.db")
	generation, err := fx.src.Snapshot(snap)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := fileSHA256(snap)
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := cipher.NewSigningSeed()
	other, _ := cipher.SigningKeyFromSeed(seed)
	signed := cipher.Signed{Target: trustTarget, Generation: generation, PlainSHA256: sum}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, cipher.SigningRecipient(fx.id.Recipient(), other, signed))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := os.ReadFile(snap)
	w.Write(plain)
	w.Close()
	if _, err := fx.importInto(openTrustDB(t), buf.Bytes(), Trust{}); !errors.Is(err, cipher.ErrBadSignature) {
		t.Fatalf("import of a catalog carrying another key than its signer's = %v; want ErrBadSignature", err)
	}
}

// TestImportJudgesPinnedSignerBeforeParsing: when the signer's key is
// pinned (here by a fingerprint), a catalog signed by another key is
// refused for its signer before SQLite reads a byte of it. The "catalog"
// is not a database at all: had it been parsed, the error would be
// ErrCorrupt.
func TestImportJudgesPinnedSignerBeforeParsing(t *testing.T) {
	fx := newTrustFixture(t, NamingDefault)
	plain := []byte("not a SQLite file, which a hostile parser input could be")
	seed, _ := cipher.NewSigningSeed()
	other, _ := cipher.SigningKeyFromSeed(seed)
	signed := cipher.Signed{Target: trustTarget, Generation: 9, PlainSHA256: sha256.Sum256(plain)}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, cipher.SigningRecipient(fx.id.Recipient(), other, signed))
	if err != nil {
		t.Fatal(err)
	}
	w.Write(plain)
	w.Close()
	_, err = fx.importInto(openTrustDB(t), buf.Bytes(), Trust{Fingerprint: fx.fingerprint()})
	if !errors.Is(err, ErrOtherSigner) || errors.Is(err, catalog.ErrCorrupt) {
		t.Fatalf("import of a foreign-signed non-catalog under --fingerprint = %v; want ErrOtherSigner, unparsed", err)
	}
	// Unpinned, it has to be read, and is refused as what it is.
	if _, err := fx.importInto(openTrustDB(t), buf.Bytes(), Trust{}); !errors.Is(err, catalog.ErrCorrupt) {
		t.Errorf("import of a non-catalog on first use = %v; want ErrCorrupt", err)
	}
}

// TestKnownCatalogsReportsBusy: a catalog of the target that another run
// holds cannot be read; it is named in busy rather than failing the
// caller, and the caller's own catalog is left out.
func TestKnownCatalogsReportsBusy(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	open := func(source string) (*catalog.DB, string) {
		path, err := catalog.DefaultPath(source, trustTarget)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		db, err := catalog.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := PrepareTarget(db, trustTarget, NamingDefault, false); err != nil {
			t.Fatal(err)
		}
		return db, path
	}
	held, heldPath := open("/src/held")
	defer held.Close()
	mine, minePath := open("/src/mine")
	defer mine.Close()
	free, _ := open("/src/free")
	free.Close()
	known, busy, err := KnownCatalogs(trustTarget, minePath)
	if err != nil || len(known) != 1 || len(busy) != 1 || busy[0] != heldPath {
		t.Fatalf("KnownCatalogs = %d known, busy %v, %v; want the free one known and %s busy", len(known), busy, err, heldPath)
	}
}
