package cipher

import (
	"bytes"
	"strings"
	"testing"

	"filippo.io/age"
)

func TestNewEnvelopeShape(t *testing.T) {
	id := newX25519(t)
	first, err := NewEnvelope(id.Recipient())
	if err != nil {
		t.Fatalf("NewEnvelope: %v", err)
	}
	second, err := NewEnvelope(id.Recipient())
	if err != nil {
		t.Fatalf("NewEnvelope: %v", err)
	}
	if len(first.FileKey) != 16 || len(first.Nonce) != 16 {
		t.Fatalf("file key %d bytes, nonce %d bytes; want 16 and 16", len(first.FileKey), len(first.Nonce))
	}
	if !bytes.HasPrefix(first.Header, []byte("age-encryption.org/v1\n")) {
		t.Errorf("header does not start with the age v1 intro: %q", first.Header[:20])
	}
	lines := strings.Split(strings.TrimSuffix(string(first.Header), "\n"), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "--- ") || strings.HasSuffix(string(first.Header), "\n\n") {
		t.Errorf("header ends with %q; want a single \"--- MAC\" line", last)
	}
	if bytes.Equal(first.FileKey, second.FileKey) || bytes.Equal(first.Nonce, second.Nonce) {
		t.Error("two envelopes share a file key or nonce")
	}
	// The captured key is the one the header wraps.
	got, err := age.DecryptHeader(first.Header, id)
	if err != nil {
		t.Fatalf("DecryptHeader: %v", err)
	}
	if !bytes.Equal(got, first.FileKey) {
		t.Error("header wraps a different file key than the envelope holds")
	}
}

func TestNewEnvelopeNoRecipients(t *testing.T) {
	if _, err := NewEnvelope(); err == nil {
		t.Error("NewEnvelope() error = nil; want an error")
	}
}

func TestEnvelopeMultipleRecipients(t *testing.T) {
	alice, bob := newX25519(t), newX25519(t)
	env, err := NewEnvelope(alice.Recipient(), bob.Recipient())
	if err != nil {
		t.Fatalf("NewEnvelope: %v", err)
	}
	plain := pseudoRandomBytes(100000, 7)
	file := readAllAt(t, NewCiphertext(env, bytes.NewReader(plain), int64(len(plain))), 1<<20)
	for name, id := range map[string]age.Identity{"first": alice, "second": bob} {
		if got := decryptAll(t, file, id); !bytes.Equal(got, plain) {
			t.Errorf("%s recipient decrypted different bytes", name)
		}
	}
}

// TestHybridPostQuantum runs the post-quantum path through the library:
// recipient string -> ParseRecipients -> Envelope -> Ciphertext -> age.Decrypt.
func TestHybridPostQuantum(t *testing.T) {
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatalf("GenerateHybridIdentity: %v", err)
	}
	recipients, err := ParseRecipients([]string{id.Recipient().String()}, nil)
	if err != nil {
		t.Fatalf("ParseRecipients(hybrid): %v", err)
	}
	env, err := NewEnvelope(recipients...)
	if err != nil {
		t.Fatalf("NewEnvelope(hybrid): %v", err)
	}
	if !bytes.Contains(env.Header, []byte("\n-> mlkem768x25519 ")) {
		t.Errorf("header has no mlkem768x25519 stanza:\n%s", env.Header)
	}
	plain := pseudoRandomBytes(65536*2+5, 8)
	file := readAllAt(t, NewCiphertext(env, bytes.NewReader(plain), int64(len(plain))), 50000)
	if got := decryptAll(t, file, id); !bytes.Equal(got, plain) {
		t.Error("hybrid identity decrypted different bytes")
	}
}

// TestEnvelopeKeepsLabels checks that capturing the file key does not hide
// the post-quantum label from age, whichever recipient is captured.
func TestEnvelopeKeepsLabels(t *testing.T) {
	pq, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatalf("GenerateHybridIdentity: %v", err)
	}
	classic := newX25519(t)
	orders := map[string][]age.Recipient{
		"hybrid first":  {pq.Recipient(), classic.Recipient()},
		"classic first": {classic.Recipient(), pq.Recipient()},
	}
	for name, recipients := range orders {
		if _, err := NewEnvelope(recipients...); err == nil {
			t.Errorf("%s: NewEnvelope(mixed) error = nil; want age's refusal", name)
		}
	}
	scrypt, err := age.NewScryptRecipient("correct horse")
	if err != nil {
		t.Fatalf("NewScryptRecipient: %v", err)
	}
	scrypt.SetWorkFactor(10)
	if _, err := NewEnvelope(scrypt, classic.Recipient()); err == nil {
		t.Error("NewEnvelope(scrypt, x25519) error = nil; want age's refusal")
	}
}

// BenchmarkNewEnvelope measures the per-file cost of the age header for one
// X25519 recipient, parsed as the command line parses it.
func BenchmarkNewEnvelope(b *testing.B) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		b.Fatal(err)
	}
	recipients, err := ParseRecipients([]string{id.Recipient().String()}, nil)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := NewEnvelope(recipients...); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCiphertextRefusesForeignHeader checks that an envelope whose header
// is not the one its file key made (damaged, truncated, another file's, or
// with bytes after the MAC line) encrypts nothing: such an envelope can only
// come from damaged storage, and its objects would not decrypt.
func TestCiphertextRefusesForeignHeader(t *testing.T) {
	id := newX25519(t)
	env, err := NewEnvelope(id.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewEnvelope(id.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(env.Header)
	flipped[len(flipped)-5] ^= 'A' ^ 'B'
	cases := map[string][]byte{
		"MAC changed":         flipped,
		"another file's":      other.Header,
		"MAC line cut":        env.Header[:len(env.Header)-10],
		"bytes after the MAC": append(bytes.Clone(env.Header), "--- x\n"...),
		"no MAC line":         env.Header[:bytes.LastIndex(env.Header, []byte("---"))],
	}
	stored := &Envelope{FileKey: env.FileKey, Nonce: env.Nonce, Header: env.Header}
	if _, err := NewCiphertext(stored, bytes.NewReader(nil), 0).ReadAt(make([]byte, 1), 0); err != nil {
		t.Fatalf("NewCiphertext of a stored copy of a genuine envelope: %v", err)
	}
	for name, header := range cases {
		bad := &Envelope{FileKey: env.FileKey, Nonce: env.Nonce, Header: header}
		c := NewCiphertext(bad, bytes.NewReader([]byte("plain")), 5)
		if _, err := c.ReadAt(make([]byte, 1), 0); err == nil || !strings.Contains(err.Error(), "invalid envelope") {
			t.Errorf("%s: ReadAt error = %v; want an invalid envelope", name, err)
		}
	}
}
