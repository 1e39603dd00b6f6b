package cipher

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"

	"filippo.io/age"
)

// Passphrase mode: one random X25519 identity per target, sealed once with
// the passphrase (age scrypt), so each file costs an X25519 header, not a
// scrypt. The sealed form is a standard age file whose plaintext is the
// identity in the usual "AGE-SECRET-KEY-1..." text form followed by "\n", so
// `age -d sealed.age > id.txt` then `age -d -i id.txt object` works with the
// stock tool.

// DefaultWorkFactor is the scrypt work factor used to seal target identities
// (age's default, 18).
const DefaultWorkFactor = 18

// maxWorkFactor bounds the scrypt cost OpenSealedIdentity accepts from a
// sealed file (2^22, about 15 s), so a hostile file cannot stall a run.
const maxWorkFactor = 22

// sealedSizeLimit bounds the plaintext read from a sealed identity; an
// identity line is about 75 bytes.
const sealedSizeLimit = 4 << 10

// ErrWrongPassphrase is wrapped by [OpenSealedIdentity] when the passphrase
// does not open the sealed identity.
var ErrWrongPassphrase = errors.New("wrong passphrase")

// SealIdentity encrypts id with passphrase to an age scrypt recipient of the
// given work factor (log2 of the scrypt N, 1 to 22). The result is a binary
// age file holding id.String() + "\n".
func SealIdentity(id *age.X25519Identity, passphrase string, workFactor int) ([]byte, error) {
	if id == nil {
		return nil, errors.New("seal identity: nil identity")
	}
	if workFactor < 1 || workFactor > maxWorkFactor {
		return nil, fmt.Errorf("seal identity: work factor %d out of range 1..%d", workFactor, maxWorkFactor)
	}
	recipient, err := age.NewScryptRecipient(passphrase)
	if err != nil {
		return nil, fmt.Errorf("seal identity: %w", err)
	}
	recipient.SetWorkFactor(workFactor)
	var sealed bytes.Buffer
	w, err := age.Encrypt(&sealed, recipient)
	if err != nil {
		return nil, fmt.Errorf("seal identity: %w", err)
	}
	if _, err := io.WriteString(w, id.String()+"\n"); err != nil {
		return nil, fmt.Errorf("seal identity: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("seal identity: %w", err)
	}
	return sealed.Bytes(), nil
}

// OpenSealedIdentity decrypts an identity sealed by [SealIdentity] (or by
// `age -p` over an identity file holding one X25519 identity). A wrong
// passphrase returns an error wrapping [ErrWrongPassphrase]. Files sealed
// with a work factor above 22 are refused. Errors never include the
// passphrase or the identity.
func OpenSealedIdentity(sealed []byte, passphrase string) (*age.X25519Identity, error) {
	scryptID, err := age.NewScryptIdentity(passphrase)
	if err != nil {
		return nil, fmt.Errorf("open sealed identity: %w", err)
	}
	scryptID.SetMaxWorkFactor(maxWorkFactor)
	r, err := age.Decrypt(bytes.NewReader(sealed), scryptID)
	var noMatch *age.NoIdentityMatchError
	switch {
	case errors.As(err, &noMatch) && slices.Contains(noMatch.StanzaTypes, "scrypt"):
		return nil, fmt.Errorf("open sealed identity: %w", ErrWrongPassphrase)
	case errors.As(err, &noMatch):
		return nil, errors.New("open sealed identity: file is not passphrase-encrypted")
	case err != nil:
		return nil, fmt.Errorf("open sealed identity: %w", err)
	}
	text, err := io.ReadAll(io.LimitReader(r, sealedSizeLimit+1))
	if err != nil {
		return nil, fmt.Errorf("open sealed identity: %w", err)
	}
	if len(text) > sealedSizeLimit {
		return nil, errors.New("open sealed identity: content too large for an identity")
	}
	id, err := age.ParseX25519Identity(string(bytes.TrimSpace(text)))
	if err != nil {
		// The parse error would quote the (secret) content.
		return nil, errors.New("open sealed identity: content is not one X25519 identity (AGE-SECRET-KEY-1...)")
	}
	return id, nil
}
