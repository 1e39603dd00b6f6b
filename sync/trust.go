package sync

import (
	"bytes"
	"crypto/sha256"
	"fmt"

	"github.com/s3seal/s3seal/catalog"
	"github.com/s3seal/s3seal/cipher"
)

// pulled is a decrypted catalog snapshot waiting for judgement.
type pulled struct {
	sig      *cipher.Signature // nil when unsigned
	sum      [sha256.Size]byte // of the snapshot plaintext
	settings map[string][]byte
}

// judge decides whether p may replace a catalog that knows known of the
// target, under trust. It checks, in order: the target, the signature and
// the signing key the snapshot carries, the signer against the passphrase,
// the fingerprint and every known signer, the generation, and the naming.
func judge(trust Trust, known []Known, p pulled) (Accepted, error) {
	if target, ok := p.settings[settingTarget]; ok && string(target) != trust.Target {
		return Accepted{}, fmt.Errorf("%w: the catalog belongs to %q, not %s", ErrOtherTarget, target, trust.Target)
	}
	acc, err := judgeSigner(trust, known, p)
	if err != nil {
		return Accepted{}, err
	}
	naming, err := snapshotNaming(p.settings)
	if err != nil {
		return Accepted{}, err
	}
	knewNaming := false
	for _, k := range known {
		if !k.HasNaming {
			continue
		}
		knewNaming = true
		if k.Naming.Hidden != naming.Hidden || !bytes.Equal(k.Naming.Key, naming.Key) {
			return Accepted{}, fmt.Errorf("%w: this machine knows %s with %s, the catalog says %s",
				ErrNamingChanged, trust.Target, namingText(k.Naming), namingText(naming))
		}
	}
	if !naming.Hidden && !knewNaming && acc.Proof < ProofKnownKey && !trust.AllowPlainNames {
		return Accepted{}, fmt.Errorf("%w (%s)", ErrUnprovenPlain, trust.Target)
	}
	return acc, nil
}

// judgeSigner checks the signature of p and who made it.
func judgeSigner(trust Trust, known []Known, p pulled) (Accepted, error) {
	if p.sig == nil {
		return judgeUnsigned(trust, known, p)
	}
	acc, err := judgeSignature(trust, known, p.sig, p.sum)
	if err != nil {
		return Accepted{}, err
	}
	return acc, checkCarriedKey(p)
}

// pinned reports whether something other than the catalog itself names
// the key its signer must have: a known signer, a fingerprint or a
// passphrase.
func pinned(trust Trust, known []Known) bool {
	for _, k := range known {
		if k.HasSigner {
			return true
		}
	}
	return trust.Fingerprint != "" || trust.Passphrase != nil
}

// judgeSignature checks sig over a snapshot whose plaintext hashes to sum,
// and its signer against every key known, named or derived; it needs
// nothing of the snapshot's contents.
func judgeSignature(trust Trust, known []Known, sig *cipher.Signature, sum [sha256.Size]byte) (Accepted, error) {
	p := pulled{sig: sig, sum: sum}
	if err := p.sig.Verify(trust.Target, p.sum); err != nil {
		return Accepted{}, err
	}
	fp := p.sig.Signer.Fingerprint()
	acc := Accepted{Proof: ProofFirstUse, Fingerprint: fp, Generation: p.sig.Generation}
	for _, k := range known {
		if !k.HasSigner {
			continue
		}
		if !bytes.Equal(k.Signer.Key, p.sig.Signer) {
			return Accepted{}, fmt.Errorf("%w: %s, but this machine knows the catalogs of %s signed by %s",
				ErrOtherSigner, fp, trust.Target, cipher.SignerKey(k.Signer.Key).Fingerprint())
		}
		if p.sig.Generation < k.Signer.Generation && !trust.Past {
			return Accepted{}, fmt.Errorf("%w: generation %d, this machine has seen %d", ErrOlderGeneration, p.sig.Generation, k.Signer.Generation)
		}
		acc.Proof = ProofKnownKey
	}
	if trust.Fingerprint != "" {
		if fp != trust.Fingerprint {
			return Accepted{}, fmt.Errorf("%w: %s, not %s as --fingerprint requires", ErrOtherSigner, fp, trust.Fingerprint)
		}
		acc.Proof = ProofFingerprint
	}
	if trust.Passphrase != nil {
		seed, err := cipher.PassphraseSigningSeed(trust.Passphrase)
		if err != nil {
			return Accepted{}, err
		}
		want, err := cipher.SigningKeyFromSeed(seed)
		if err != nil {
			return Accepted{}, err
		}
		if !bytes.Equal(want.Public(), p.sig.Signer) {
			return Accepted{}, fmt.Errorf("%w: %s, not the key of the passphrase (%s)", ErrOtherSigner, fp, want.Public().Fingerprint())
		}
		acc.Proof = ProofPassphrase
	}
	return acc, nil
}

// judgeUnsigned accepts an unsigned catalog only when asked to and when
// nothing this machine knows says the target's catalogs are signed.
func judgeUnsigned(trust Trust, known []Known, p pulled) (Accepted, error) {
	for _, k := range known {
		if k.HasSigner {
			return Accepted{}, fmt.Errorf("%w: this machine knows %s signed by %s", ErrUnsigned, trust.Target, cipher.SignerKey(k.Signer.Key).Fingerprint())
		}
	}
	if trust.Fingerprint != "" {
		return Accepted{}, fmt.Errorf("%w, so it cannot have --fingerprint %s", ErrUnsigned, trust.Fingerprint)
	}
	if !trust.AllowUnsigned {
		return Accepted{}, fmt.Errorf("%w (%s)", ErrUnsigned, trust.Target)
	}
	if _, ok := p.settings[settingSigningKey]; ok {
		return Accepted{}, fmt.Errorf("%w, yet it carries a signing key", ErrUnsigned)
	}
	return Accepted{Proof: ProofNone}, nil
}

// checkCarriedKey refuses a signed snapshot whose own signing key is not the
// signer's: after the pull this machine would sign with it.
func checkCarriedKey(p pulled) error {
	seed, ok := p.settings[settingSigningKey]
	if !ok {
		return fmt.Errorf("%w: the catalog carries no signing key", cipher.ErrBadSignature)
	}
	key, err := cipher.SigningKeyFromSeed(seed)
	if err != nil {
		return fmt.Errorf("%w: %w", cipher.ErrBadSignature, err)
	}
	if !bytes.Equal(key.Public(), p.sig.Signer) {
		return fmt.Errorf("%w: the catalog carries another signing key than its signer's", cipher.ErrBadSignature)
	}
	return nil
}

// snapshotNaming reads the naming settings of a snapshot as TargetNaming
// reads a catalog's; a snapshot without any has the default, hidden names
// with no key yet.
func snapshotNaming(settings map[string][]byte) (cipher.Naming, error) {
	word, ok := settings[settingNaming]
	switch {
	case !ok:
		return cipher.Naming{Hidden: true}, nil
	case string(word) == "plain":
		return cipher.Naming{}, nil
	case string(word) == "hidden" && len(settings[settingNameKey]) == 32:
		return cipher.Naming{Hidden: true, Key: settings[settingNameKey]}, nil
	}
	return cipher.Naming{}, fmt.Errorf("%w: the pulled catalog has a malformed naming setting", catalog.ErrCorrupt)
}

// namingText says which naming n is, without the key: "plain names" or
// "hidden names (key 1a2b3c4d...)" with the key's hash, never the key.
func namingText(n cipher.Naming) string {
	if !n.Hidden {
		return "plain names"
	}
	sum := sha256.Sum256(n.Key)
	return fmt.Sprintf("hidden names (name key %x...)", sum[:4])
}
