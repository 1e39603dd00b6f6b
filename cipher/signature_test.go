package cipher

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
)

// signedFile encrypts plain to id's recipient with a signature by key over
// target and generation, through age.Encrypt.
func signedFile(t *testing.T, id *age.X25519Identity, key *SigningKey, target string, generation int64, plain []byte) []byte {
	t.Helper()
	signed := Signed{Target: target, Generation: generation, PlainSHA256: sha256.Sum256(plain)}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, SigningRecipient(id.Recipient(), key, signed))
	if err != nil {
		t.Fatalf("age.Encrypt with a signing recipient: %v", err)
	}
	w.Write(plain)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func newSigningKey(t *testing.T) *SigningKey {
	t.Helper()
	seed, err := NewSigningSeed()
	if err != nil {
		t.Fatal(err)
	}
	key, err := SigningKeyFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// readSigned decrypts file through a SignatureReader and returns the
// plaintext and the signature it saw.
func readSigned(t *testing.T, file []byte, id age.Identity) ([]byte, *Signature, error) {
	t.Helper()
	reader := NewSignatureReader(id)
	r, err := Decrypt(bytes.NewReader(file), reader)
	if err != nil {
		t.Fatalf("Decrypt of a signed file: %v", err)
	}
	plain, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := reader.Signature()
	return plain, sig, err
}

// TestSignatureRoundTrip: the signature stanza written through age reads
// back with its signer and generation, verifies for the target and hash it
// was made for, and fails for any other target, generation or plaintext.
func TestSignatureRoundTrip(t *testing.T) {
	id, key := newX25519(t), newSigningKey(t)
	plain := []byte("a catalog snapshot")
	file := signedFile(t, id, key, "s3://b/p", 7, plain)
	got, sig, err := readSigned(t, file, id)
	if err != nil || sig == nil {
		t.Fatalf("Signature() = %v, %v; want the signature", sig, err)
	}
	if !bytes.Equal(got, plain) {
		t.Fatalf("plaintext %q; want %q", got, plain)
	}
	if !bytes.Equal(sig.Signer, key.Public()) || sig.Generation != 7 {
		t.Fatalf("signature by %s at %d; want %s at 7", sig.Signer.Fingerprint(), sig.Generation, key.Public().Fingerprint())
	}
	if err := sig.Verify("s3://b/p", sha256.Sum256(plain)); err != nil {
		t.Fatalf("Verify of a genuine signature: %v", err)
	}
	if err := sig.Verify("s3://b/other", sha256.Sum256(plain)); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Verify for another target = %v; want ErrBadSignature", err)
	}
	if err := sig.Verify("s3://b/p", sha256.Sum256([]byte("forged rows"))); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Verify for another plaintext = %v; want ErrBadSignature", err)
	}
	sig.Generation = 8
	if err := sig.Verify("s3://b/p", sha256.Sum256(plain)); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Verify with a raised generation = %v; want ErrBadSignature", err)
	}
}

// TestUnsignedFileHasNoSignature: a plain age file reads with no signature
// and no error, so the caller decides what an unsigned catalog means.
func TestUnsignedFileHasNoSignature(t *testing.T) {
	id := newX25519(t)
	var buf bytes.Buffer
	w, _ := age.Encrypt(&buf, id.Recipient())
	w.Write([]byte("x"))
	w.Close()
	if _, sig, err := readSigned(t, buf.Bytes(), id); sig != nil || err != nil {
		t.Fatalf("Signature() of an unsigned file = %v, %v; want nil, nil", sig, err)
	}
}

// TestSignatureReaderWrongIdentity: the wrapping identity still reports a
// wrong key as ErrWrongIdentity.
func TestSignatureReaderWrongIdentity(t *testing.T) {
	file := signedFile(t, newX25519(t), newSigningKey(t), "s3://b/p", 1, []byte("x"))
	_, err := Decrypt(bytes.NewReader(file), NewSignatureReader(newX25519(t)))
	if !errors.Is(err, ErrWrongIdentity) {
		t.Fatalf("Decrypt with another identity = %v; want ErrWrongIdentity", err)
	}
}

// TestPassphraseSigningSeed: the seed derived from a target identity is the
// same every time and differs between identities.
func TestPassphraseSigningSeed(t *testing.T) {
	a, b := newX25519(t), newX25519(t)
	s1, _ := PassphraseSigningSeed(a)
	s2, _ := PassphraseSigningSeed(a)
	s3, _ := PassphraseSigningSeed(b)
	if !bytes.Equal(s1, s2) || bytes.Equal(s1, s3) || len(s1) != 32 {
		t.Fatalf("PassphraseSigningSeed: same identity equal %v, other identity differs %v, length %d",
			bytes.Equal(s1, s2), !bytes.Equal(s1, s3), len(s1))
	}
}

// TestParseFingerprint accepts what Fingerprint prints, with or without its
// prefix, and refuses anything else.
func TestParseFingerprint(t *testing.T) {
	fp := newSigningKey(t).Public().Fingerprint()
	for _, in := range []string{fp, strings.TrimPrefix(fp, "SHA256:"), " " + fp + "\n"} {
		if got, err := ParseFingerprint(in); err != nil || got != fp {
			t.Errorf("ParseFingerprint(%q) = %q, %v; want %q", in, got, err, fp)
		}
	}
	for _, in := range []string{"", "SHA256:", "SHA256:abc", fp + "A", "MD5:" + fp[7:]} {
		if _, err := ParseFingerprint(in); err == nil {
			t.Errorf("ParseFingerprint(%q) accepted it", in)
		}
	}
}

// TestAgeCLIDecryptsSignedFile: the stock age tool skips the signature
// stanza and decrypts the file.
func TestAgeCLIDecryptsSignedFile(t *testing.T) {
	ageBin := ageCLI(t)
	dir := t.TempDir()
	id := newX25519(t)
	keyFile := writeFile(t, dir, "key.txt", id.String()+"\n")
	plain := pseudoRandomBytes(100000, 5)
	object := filepath.Join(dir, "signed.age")
	if err := os.WriteFile(object, signedFile(t, id, newSigningKey(t), "s3://b/p", 3, plain), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := runAgeDecrypt(t, ageBin, keyFile, object); !bytes.Equal(got, plain) {
		t.Fatalf("age -d of a signed file gave %d bytes that differ from the plaintext", len(got))
	}
}

// TestSigningRecipientKeepsLabels: wrapping a post-quantum recipient keeps
// its label, so age still refuses to mix it with a classic one, and a
// post-quantum catalog signs and decrypts.
func TestSigningRecipientKeepsLabels(t *testing.T) {
	pq, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	key := newSigningKey(t)
	signing := SigningRecipient(pq.Recipient(), key, Signed{Target: "s3://b/p"})
	if _, err := age.Encrypt(io.Discard, signing, newX25519(t).Recipient()); err == nil {
		t.Errorf("age mixed a signed post-quantum recipient with an X25519 one")
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, signing)
	if err != nil {
		t.Fatalf("age.Encrypt to a signed post-quantum recipient: %v", err)
	}
	w.Close()
	if _, sig, err := readSigned(t, buf.Bytes(), pq); err != nil || sig == nil {
		t.Fatalf("Signature() of a post-quantum file = %v, %v; want the signature", sig, err)
	}
}
