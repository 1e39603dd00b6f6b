package cipher

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// TestOneRecipientHeaderHasFixedLength backs a claim of docs/SECURITY.md:
// with one X25519 recipient every header has the same length, so anyone who
// sees an object's size knows the file's size to the byte.
func TestOneRecipientHeaderHasFixedLength(t *testing.T) {
	id := newX25519(t)
	want := -1
	for range 200 {
		env, err := NewEnvelope(id.Recipient())
		if err != nil {
			t.Fatal(err)
		}
		if want < 0 {
			want = len(env.Header)
		}
		if len(env.Header) != want {
			t.Fatalf("header lengths %d and %d; the docs say a one-recipient header has a fixed length", want, len(env.Header))
		}
		for _, size := range []int64{0, 1, 65536, 65537, 1 << 30} {
			ct := env.CiphertextSize(size)
			chunks := max(1, (ct-int64(want)-nonceSize+chunkSize+tagSize-1)/(chunkSize+tagSize))
			if got := ct - int64(want) - nonceSize - tagSize*chunks; got != size {
				t.Fatalf("plaintext size from object size %d = %d; want %d", ct, got, size)
			}
		}
	}
}

// TestSSHStanzaNamesTheKey backs a claim of docs/SECURITY.md: an ssh-ed25519
// recipient's stanza carries the first 4 bytes of the SHA-256 of the public
// key in clear, so objects can be linked to a key published elsewhere.
func TestSSHStanzaNamesTheKey(t *testing.T) {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	recipients, err := ParseRecipients([]string{strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub)))}, nil)
	if err != nil {
		t.Fatal(err)
	}
	env, err := NewEnvelope(recipients...)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(sshPub.Marshal())
	tag := base64.RawStdEncoding.EncodeToString(sum[:4])
	if !strings.Contains(string(env.Header), "-> ssh-ed25519 "+tag+" ") {
		t.Errorf("header does not name the key by its tag %s:\n%s", tag, env.Header)
	}
}
