package cipher

import (
	"bytes"
	"crypto/sha256"
	"hash"
	"io"
	"math/rand/v2"
	"testing"

	"filippo.io/age"
	"golang.org/x/crypto/chacha20poly1305"
	xhkdf "golang.org/x/crypto/hkdf"
)

// newX25519 returns a fresh X25519 identity.
func newX25519(t testing.TB) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatalf("GenerateX25519Identity: %v", err)
	}
	return id
}

// newTestEnvelope returns an envelope for a fresh X25519 identity.
func newTestEnvelope(t testing.TB) (*Envelope, *age.X25519Identity) {
	t.Helper()
	id := newX25519(t)
	env, err := NewEnvelope(id.Recipient())
	if err != nil {
		t.Fatalf("NewEnvelope: %v", err)
	}
	return env, id
}

// pseudoRandomBytes returns size deterministic bytes derived from seed.
func pseudoRandomBytes(size int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([]byte, size)
	for i := range out {
		out[i] = byte(rng.Uint32())
	}
	return out
}

// referenceCiphertext encrypts plain with env the simple way, one chunk
// after another, written directly from the age specification and with a
// different HKDF implementation than the package, as an oracle for
// Ciphertext.
func referenceCiphertext(t testing.TB, env *Envelope, plain []byte) []byte {
	t.Helper()
	streamKey := make([]byte, chacha20poly1305.KeySize)
	if _, err := io.ReadFull(xhkdf.New(newSHA256, env.FileKey, env.Nonce, []byte("payload")), streamKey); err != nil {
		t.Fatalf("hkdf: %v", err)
	}
	aead, err := chacha20poly1305.New(streamKey)
	if err != nil {
		t.Fatalf("chacha20poly1305.New: %v", err)
	}
	out := append(bytes.Clone(env.Header), env.Nonce...)
	var counter uint64
	for {
		n := min(len(plain), 64*1024)
		chunk := plain[:n]
		plain = plain[n:]
		nonce := make([]byte, 12)
		for i := 0; i < 8; i++ {
			nonce[10-i] = byte(counter >> (8 * i))
		}
		if len(plain) == 0 {
			nonce[11] = 1
		}
		out = aead.Seal(out, nonce, chunk, nil)
		counter++
		if len(plain) == 0 {
			return out
		}
	}
}

// readAllAt reads the whole of c with ReadAt calls of step bytes.
func readAllAt(t testing.TB, c *Ciphertext, step int) []byte {
	t.Helper()
	out := make([]byte, 0, c.Size())
	buf := make([]byte, step)
	for off := int64(0); ; {
		n, err := c.ReadAt(buf, off)
		out = append(out, buf[:n]...)
		off += int64(n)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("ReadAt(len %d, off %d) error: %v", step, off, err)
		}
	}
}

// decryptAll decrypts an age file with age.Decrypt.
func decryptAll(t testing.TB, file []byte, ids ...age.Identity) []byte {
	t.Helper()
	r, err := age.Decrypt(bytes.NewReader(file), ids...)
	if err != nil {
		t.Fatalf("age.Decrypt: %v", err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("age.Decrypt read: %v", err)
	}
	return out
}

func newSHA256() hash.Hash { return sha256.New() }
