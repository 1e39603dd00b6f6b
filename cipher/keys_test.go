package cipher

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"golang.org/x/crypto/ssh"
)

// writeFile writes content to name in a temp dir and returns its path.
func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	return path
}

// newEd25519SSH returns an ed25519 key and its authorized_keys line.
func newEd25519SSH(t testing.TB) (ed25519.PrivateKey, string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("ed25519.GenerateKey: %v", err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatalf("ssh.NewPublicKey: %v", err)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " alice@example"
	return priv, line
}

// encryptTo encrypts plain to recipients through Envelope and Ciphertext.
func encryptTo(t testing.TB, plain []byte, recipients ...age.Recipient) []byte {
	t.Helper()
	env, err := NewEnvelope(recipients...)
	if err != nil {
		t.Fatalf("NewEnvelope: %v", err)
	}
	return readAllAt(t, NewCiphertext(env, bytes.NewReader(plain), int64(len(plain))), 1<<16)
}

func TestParseRecipients(t *testing.T) {
	dir := t.TempDir()
	fromFlag, fromFile, fromSSHFile := newX25519(t), newX25519(t), newX25519(t)
	sshKey, sshLine := newEd25519SSH(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("rsa.GenerateKey: %v", err)
	}
	rsaPub, err := ssh.NewPublicKey(&rsaKey.PublicKey)
	if err != nil {
		t.Fatalf("ssh.NewPublicKey(rsa): %v", err)
	}
	rsaLine := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(rsaPub)))

	recipientsFile := writeFile(t, dir, "recipients.txt", strings.Join([]string{
		"# backup keys",
		"",
		fromFile.Recipient().String(),
		"   ",
		"# laptop",
		sshLine + "\r",
		"  " + fromSSHFile.Recipient().String() + "  ",
		"",
	}, "\n"))

	recipients, err := ParseRecipients([]string{fromFlag.Recipient().String(), rsaLine}, []string{recipientsFile})
	if err != nil {
		t.Fatalf("ParseRecipients: %v", err)
	}
	if len(recipients) != 5 {
		t.Fatalf("ParseRecipients returned %d recipients; want 5", len(recipients))
	}
	sshID, err := agessh.NewEd25519Identity(sshKey)
	if err != nil {
		t.Fatalf("agessh.NewEd25519Identity: %v", err)
	}
	rsaID, err := agessh.NewRSAIdentity(rsaKey)
	if err != nil {
		t.Fatalf("agessh.NewRSAIdentity: %v", err)
	}
	plain := []byte("every recipient can read this")
	file := encryptTo(t, plain, recipients...)
	identities := map[string]age.Identity{
		"-r x25519": fromFlag, "-r ssh-rsa": rsaID, "-R x25519": fromFile,
		"-R ssh-ed25519": sshID, "-R padded x25519": fromSSHFile,
	}
	for name, id := range identities {
		if got := decryptAll(t, file, id); !bytes.Equal(got, plain) {
			t.Errorf("%s: decrypted %q; want %q", name, got, plain)
		}
	}
}

// TestParseRecipientDataBeginningWithTag: an X25519 recipient whose data
// happens to begin with "tag" (one in 32,768 keys) is not a tagged one.
func TestParseRecipientDataBeginningWithTag(t *testing.T) {
	const r = "age1tag9p25kdjgtekthz3a0ll3wrs4amxj94gtkljsfewthauhdk4usp9zwp2"
	got, err := ParseRecipients([]string{r}, nil)
	if err != nil || len(got) != 1 {
		t.Fatalf("ParseRecipients(%s) = %v, %v; want the X25519 recipient", r, got, err)
	}
	if x, ok := got[0].(*age.X25519Recipient); !ok || x.String() != r {
		t.Errorf("ParseRecipients(%s) = %T %v; want it back as an X25519 recipient", r, got[0], got[0])
	}
	if _, err := ParseRecipients([]string{"age1tag1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq"}, nil); err == nil || !strings.Contains(err.Error(), "tagged recipients") {
		t.Errorf("ParseRecipients of a tagged recipient = %v; want it refused as tagged", err)
	}
}

func TestParseRecipientsErrors(t *testing.T) {
	dir := t.TempDir()
	secret := newX25519(t).String()
	pq, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatalf("GenerateHybridIdentity: %v", err)
	}
	classic := newX25519(t).Recipient().String()
	ecdsaKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("ecdsa.GenerateKey: %v", err)
	}
	ecdsaPub, err := ssh.NewPublicKey(&ecdsaKey.PublicKey)
	if err != nil {
		t.Fatalf("ssh.NewPublicKey(ecdsa): %v", err)
	}
	ecdsaLine := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(ecdsaPub)))
	garbage := "totally-not-a-key-but-maybe-a-password"

	secretFile := writeFile(t, dir, "secret.txt", "# keys\n"+classic+"\n"+secret+"\n")
	garbageFile := writeFile(t, dir, "garbage.txt", "\n\n\n\n"+garbage+"\n")
	emptyFile := writeFile(t, dir, "empty.txt", "# nothing here\n\n")
	pqFile := writeFile(t, dir, "pq.txt", pq.Recipient().String()+"\n")
	missing := filepath.Join(dir, "missing.txt")

	tests := []struct {
		name         string
		values       []string
		files        []string
		wantContains []string
		mustNotLeak  string
	}{
		{"nothing", nil, nil, []string{"no recipients"}, ""},
		{"secret key as -r", []string{classic, secret}, nil, []string{"#2", "identity"}, secret},
		{"secret key in -R file", nil, []string{secretFile}, []string{secretFile, "line 3", "identity"}, secret},
		{"garbage in -R file", nil, []string{garbageFile}, []string{garbageFile, "line 5"}, garbage},
		{"garbage as -r", []string{garbage}, nil, []string{"#1", "unknown recipient type"}, garbage},
		{"only comments", nil, []string{emptyFile}, []string{emptyFile, "no recipients"}, ""},
		{"missing file", nil, []string{missing}, []string{missing}, ""},
		{"mixed pq and classic", []string{classic}, []string{pqFile}, []string{"post-quantum"}, ""},
		{"ecdsa ssh key", []string{ecdsaLine}, nil, []string{"ecdsa-sha2-nistp256", "unsupported"}, ""},
		{"bad x25519", []string{"age1qqqqqqqqqq"}, nil, []string{"malformed"}, ""},
		{"plugin", []string{"age1yubikey1qqqqqq"}, nil, []string{"plugin"}, ""},
	}
	for _, tt := range tests {
		_, err := ParseRecipients(tt.values, tt.files)
		if err == nil {
			t.Errorf("%s: ParseRecipients error = nil; want an error", tt.name)
			continue
		}
		for _, want := range tt.wantContains {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q; want it to contain %q", tt.name, err, want)
			}
		}
		if tt.mustNotLeak != "" && strings.Contains(err.Error(), tt.mustNotLeak) {
			t.Errorf("%s: error %q echoes the input", tt.name, err)
		}
	}
}

func TestParseIdentityFile(t *testing.T) {
	dir := t.TempDir()
	classic := newX25519(t)
	pq, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatalf("GenerateHybridIdentity: %v", err)
	}
	ageFile := writeFile(t, dir, "keys.txt", "# created: today\n# public key: "+classic.Recipient().String()+
		"\n"+classic.String()+"\n\n"+pq.String()+"\r\n")

	sshKey, sshLine := newEd25519SSH(t)
	block, err := ssh.MarshalPrivateKey(sshKey, "alice@example")
	if err != nil {
		t.Fatalf("ssh.MarshalPrivateKey: %v", err)
	}
	sshFile := writeFile(t, dir, "id_ed25519", string(pem.EncodeToMemory(block)))

	tests := []struct {
		name       string
		path       string
		recipients []string
	}{
		{"age identities", ageFile, []string{classic.Recipient().String(), pq.Recipient().String()}},
		{"openssh ed25519", sshFile, []string{sshLine}},
	}
	plain := []byte("the identity file works")
	for _, tt := range tests {
		ids, err := ParseIdentityFile(tt.path)
		if err != nil {
			t.Fatalf("%s: ParseIdentityFile: %v", tt.name, err)
		}
		if len(ids) != len(tt.recipients) {
			t.Fatalf("%s: %d identities; want %d", tt.name, len(ids), len(tt.recipients))
		}
		for _, recipientText := range tt.recipients {
			recipients, err := ParseRecipients([]string{recipientText}, nil)
			if err != nil {
				t.Fatalf("%s: ParseRecipients: %v", tt.name, err)
			}
			if got := decryptAll(t, encryptTo(t, plain, recipients...), ids...); !bytes.Equal(got, plain) {
				t.Errorf("%s: decrypted %q; want %q", tt.name, got, plain)
			}
		}
	}
}

func TestParseIdentityFileErrors(t *testing.T) {
	dir := t.TempDir()
	secret := newX25519(t).String()
	corrupt := secret[:len(secret)-3] + "QQQ"
	sshKey, _ := newEd25519SSH(t)
	block, err := ssh.MarshalPrivateKeyWithPassphrase(sshKey, "", []byte("ssh pass"))
	if err != nil {
		t.Fatalf("ssh.MarshalPrivateKeyWithPassphrase: %v", err)
	}
	sealed, err := SealIdentity(newX25519(t), "pass", 10)
	if err != nil {
		t.Fatalf("SealIdentity: %v", err)
	}

	tests := []struct {
		name         string
		path         string
		wantContains []string
		wantIs       error
		mustNotLeak  string
	}{
		{"corrupt key", writeFile(t, dir, "corrupt.txt", secret+"\n\n"+corrupt+"\n"), []string{"corrupt.txt", "line 3", "malformed"}, nil, corrupt[:40]},
		{"recipient line", writeFile(t, dir, "pub.txt", newX25519(t).Recipient().String()+"\n"), []string{"line 1", "recipient"}, nil, ""},
		{"garbage line", writeFile(t, dir, "garbage.txt", "hunter2hunter2hunter2\n"), []string{"line 1"}, nil, "hunter2"},
		{"empty", writeFile(t, dir, "empty.txt", "# none\n"), []string{"no identities"}, nil, ""},
		{"protected ssh key", writeFile(t, dir, "id_protected", string(pem.EncodeToMemory(block))), []string{"id_protected", "passphrase"}, nil, ""},
		{"age-encrypted file", writeFile(t, dir, "key.age", string(sealed)), []string{"key.age"}, ErrEncryptedIdentityFile, ""},
		{"missing", filepath.Join(dir, "missing.txt"), []string{"missing.txt"}, nil, ""},
	}
	for _, tt := range tests {
		_, err := ParseIdentityFile(tt.path)
		if err == nil {
			t.Errorf("%s: ParseIdentityFile error = nil; want an error", tt.name)
			continue
		}
		for _, want := range tt.wantContains {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q; want it to contain %q", tt.name, err, want)
			}
		}
		if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
			t.Errorf("%s: error %v; want errors.Is %v", tt.name, err, tt.wantIs)
		}
		if tt.mustNotLeak != "" && strings.Contains(err.Error(), tt.mustNotLeak) {
			t.Errorf("%s: error %q echoes file content", tt.name, err)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: error %q contains a secret key", tt.name, err)
		}
	}
}
