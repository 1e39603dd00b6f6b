package cipher

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"filippo.io/age"
)

// A catalog signature is one extra stanza in the age header of a catalog
// mirror or export:
//
//	-> s3seal-signature ed25519 PUBLIC-KEY GENERATION
//	SIGNATURE
//
// PUBLIC-KEY and SIGNATURE are unpadded base64. age writes it through a
// wrapping Recipient and skips it on decryption, as it skips every stanza
// type an identity does not know, so the stock age tool still decrypts the
// file. The header MAC covers it like any stanza.
const (
	signatureStanza = "s3seal-signature"
	signatureAlg    = "ed25519"
	// signatureContext separates catalog signatures from anything else the
	// key could ever sign.
	signatureContext = "s3seal.catalog-signature.v1"
	// passphraseSigningInfo is the HKDF info of the signing key derived from
	// a passphrase-mode target identity.
	passphraseSigningInfo = "s3seal.catalog-signing-key.v1"
)

// ErrBadSignature is wrapped when a catalog signature stanza is malformed or
// does not verify.
var ErrBadSignature = errors.New("the catalog signature does not verify")

// SigningKey signs catalog snapshots for one target (Ed25519).
type SigningKey struct {
	private ed25519.PrivateKey
}

// NewSigningSeed returns a fresh random 32-byte signing key seed.
func NewSigningSeed() ([]byte, error) {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return nil, fmt.Errorf("new signing key: %w", err)
	}
	return seed, nil
}

// PassphraseSigningSeed derives the signing key seed of a passphrase-mode
// target from its identity: HKDF-SHA256 of the identity's encoding. Anyone
// who can open the target identity (who knows the passphrase) gets the same
// seed, so a fresh machine can verify a pulled catalog fully.
func PassphraseSigningSeed(id *age.X25519Identity) ([]byte, error) {
	seed, err := hkdf.Key(sha256.New, []byte(id.String()), nil, passphraseSigningInfo, ed25519.SeedSize)
	if err != nil {
		return nil, fmt.Errorf("derive signing key: %w", err)
	}
	return seed, nil
}

// SigningKeyFromSeed returns the signing key of a 32-byte seed.
func SigningKeyFromSeed(seed []byte) (*SigningKey, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("signing key: seed is %d bytes, want %d", len(seed), ed25519.SeedSize)
	}
	return &SigningKey{private: ed25519.NewKeyFromSeed(seed)}, nil
}

// Public returns the public half of k.
func (k *SigningKey) Public() SignerKey {
	return SignerKey(k.private.Public().(ed25519.PublicKey))
}

// SignerKey is an Ed25519 public key that signs catalogs.
type SignerKey []byte

// Fingerprint returns "SHA256:" and the unpadded base64 of the SHA-256 of
// the key, as ssh-keygen -l shows SSH keys.
func (p SignerKey) Fingerprint() string {
	sum := sha256.Sum256(p)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

// ParseFingerprint checks that s looks like a Fingerprint and returns it in
// the form Fingerprint writes; the "SHA256:" prefix may be left out.
func ParseFingerprint(s string) (string, error) {
	s = strings.TrimSpace(s)
	b64 := strings.TrimPrefix(s, "SHA256:")
	sum, err := base64.RawStdEncoding.DecodeString(b64)
	if err != nil || len(sum) != sha256.Size {
		return "", fmt.Errorf("%q is not a signing key fingerprint (SHA256: and 43 base64 characters)", s)
	}
	return "SHA256:" + b64, nil
}

// Signed is what a catalog signature covers: the target the catalog belongs
// to, its generation, and the SHA-256 of the snapshot plaintext.
type Signed struct {
	Target      string // "s3://bucket/prefix"
	Generation  int64
	PlainSHA256 [sha256.Size]byte
}

// message is the domain-separated byte string that is signed.
func (s Signed) message() []byte {
	msg := []byte(signatureContext)
	msg = binary.BigEndian.AppendUint32(msg, uint32(len(s.Target)))
	msg = append(msg, s.Target...)
	msg = binary.BigEndian.AppendUint64(msg, uint64(s.Generation))
	return append(msg, s.PlainSHA256[:]...)
}

// SigningRecipient returns a recipient that wraps the file key as r does and
// adds a signature stanza by k over s. It keeps r's labels, so age's rules
// on mixing recipient types still apply.
func SigningRecipient(r age.Recipient, k *SigningKey, s Signed) age.Recipient {
	return &signingRecipient{inner: r, key: k, signed: s}
}

type signingRecipient struct {
	inner  age.Recipient
	key    *SigningKey
	signed Signed
}

func (r *signingRecipient) Wrap(fileKey []byte) ([]*age.Stanza, error) {
	stanzas, _, err := r.WrapWithLabels(fileKey)
	return stanzas, err
}

func (r *signingRecipient) WrapWithLabels(fileKey []byte) ([]*age.Stanza, []string, error) {
	var stanzas []*age.Stanza
	var labels []string
	var err error
	if labeled, ok := r.inner.(age.RecipientWithLabels); ok {
		stanzas, labels, err = labeled.WrapWithLabels(fileKey)
	} else {
		stanzas, err = r.inner.Wrap(fileKey)
	}
	if err != nil {
		return nil, nil, err
	}
	sig := ed25519.Sign(r.key.private, r.signed.message())
	stanzas = append(stanzas, &age.Stanza{
		Type: signatureStanza,
		Args: []string{signatureAlg, base64.RawStdEncoding.EncodeToString(r.key.Public()),
			strconv.FormatInt(r.signed.Generation, 10)},
		Body: sig,
	})
	return stanzas, labels, nil
}

// Signature is a catalog signature as read from an age header.
type Signature struct {
	Signer     SignerKey
	Generation int64
	sig        []byte
}

// Verify reports whether the signature is Signer's over the catalog of
// target at Generation with the given plaintext hash. The error wraps
// ErrBadSignature.
func (s *Signature) Verify(target string, plainSHA256 [sha256.Size]byte) error {
	msg := Signed{Target: target, Generation: s.Generation, PlainSHA256: plainSHA256}.message()
	if !ed25519.Verify(ed25519.PublicKey(s.Signer), msg, s.sig) {
		return fmt.Errorf("%w for %s (signed by %s)", ErrBadSignature, target, s.Signer.Fingerprint())
	}
	return nil
}

// SignatureReader is an age identity that decrypts with its inner identities
// and remembers the signature stanza of the header it saw.
type SignatureReader struct {
	inner []age.Identity
	found *Signature
	err   error
}

// NewSignatureReader returns a SignatureReader over identities. Pass it as
// the only identity to age.Decrypt (or [Decrypt]), then call Signature.
func NewSignatureReader(identities ...age.Identity) *SignatureReader {
	return &SignatureReader{inner: identities}
}

// Unwrap records the signature stanza among stanzas and unwraps the file
// key with the first inner identity that can.
func (r *SignatureReader) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	r.found, r.err = nil, nil
	for _, s := range stanzas {
		if s.Type != signatureStanza {
			continue
		}
		if r.found != nil {
			r.err = fmt.Errorf("%w: more than one signature", ErrBadSignature)
			break
		}
		r.found, r.err = parseSignature(s)
		if r.err != nil {
			break
		}
	}
	var errs []error
	for _, id := range r.inner {
		fileKey, err := id.Unwrap(stanzas)
		if err == nil {
			return fileKey, nil
		}
		if !errors.Is(err, age.ErrIncorrectIdentity) {
			return nil, err
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil, age.ErrIncorrectIdentity
	}
	return nil, errors.Join(errs...)
}

// Signature returns the signature of the last header Unwrap saw: nil if it
// had none, an error wrapping ErrBadSignature if it was malformed.
func (r *SignatureReader) Signature() (*Signature, error) {
	return r.found, r.err
}

func parseSignature(s *age.Stanza) (*Signature, error) {
	if len(s.Args) != 3 || s.Args[0] != signatureAlg || len(s.Body) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: malformed signature stanza", ErrBadSignature)
	}
	pub, err := base64.RawStdEncoding.Strict().DecodeString(s.Args[1])
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: malformed signer key", ErrBadSignature)
	}
	generation, err := strconv.ParseInt(s.Args[2], 10, 64)
	if err != nil || generation < 0 {
		return nil, fmt.Errorf("%w: malformed generation", ErrBadSignature)
	}
	return &Signature{Signer: pub, Generation: generation, sig: s.Body}, nil
}
