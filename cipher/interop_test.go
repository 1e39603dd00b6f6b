package cipher

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"filippo.io/age"
)

// ageCLI returns the path of the stock age tool. It fails the test when the
// tool is missing under CI and skips it otherwise.
func ageCLI(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("age")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the age CLI is required under CI: %v", err)
		}
		t.Skipf("the age CLI is not installed: %v", err)
	}
	return path
}

// runAgeDecrypt runs `age -d -i identityFile encryptedFile` and returns
// its standard output.
func runAgeDecrypt(t *testing.T, ageBin, identityFile, encryptedFile string) []byte {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(ageBin, "-d", "-i", identityFile, encryptedFile)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("age -d: %v: %s", err, stderr.Bytes())
	}
	return stdout.Bytes()
}

// TestAgeCLIDecryptsCiphertext checks that the stock age tool decrypts what
// Ciphertext produces, including files read back in unaligned pieces.
func TestAgeCLIDecryptsCiphertext(t *testing.T) {
	ageBin := ageCLI(t)
	dir := t.TempDir()
	id := newX25519(t)
	keyFile := writeFile(t, dir, "key.txt", "# test key\n"+id.String()+"\n")
	for _, size := range []int{0, 1, 65536, 200003} {
		env, err := NewEnvelope(id.Recipient())
		if err != nil {
			t.Fatalf("NewEnvelope: %v", err)
		}
		plain := pseudoRandomBytes(size, uint64(size)+11)
		object := filepath.Join(dir, "object.age")
		file := readAllAt(t, NewCiphertext(env, bytes.NewReader(plain), int64(size)), 12345)
		if err := os.WriteFile(object, file, 0o600); err != nil {
			t.Fatalf("write object: %v", err)
		}
		if got := runAgeDecrypt(t, ageBin, keyFile, object); !bytes.Equal(got, plain) {
			t.Errorf("size %d: age -d gave %d bytes that differ from the plaintext", size, len(got))
		}
	}
}

// TestAgeCLISealedIdentity follows the documented recovery path: open the
// sealed identity (age -d with the passphrase; done here in Go because the
// CLI reads passphrases only from a terminal), save it, and decrypt an
// object with `age -d -i`.
func TestAgeCLISealedIdentity(t *testing.T) {
	ageBin := ageCLI(t)
	dir := t.TempDir()
	targetID := newX25519(t)
	sealed, err := SealIdentity(targetID, "long passphrase", testWorkFactor)
	if err != nil {
		t.Fatalf("SealIdentity: %v", err)
	}
	scryptID, err := age.NewScryptIdentity("long passphrase")
	if err != nil {
		t.Fatalf("NewScryptIdentity: %v", err)
	}
	idText := decryptAll(t, sealed, scryptID)
	keyFile := writeFile(t, dir, "id.txt", string(idText))

	plain := pseudoRandomBytes(70000, 12)
	object := writeFile(t, dir, "object.age", string(encryptTo(t, plain, targetID.Recipient())))
	if got := runAgeDecrypt(t, ageBin, keyFile, object); !bytes.Equal(got, plain) {
		t.Errorf("age -d -i <opened identity> gave %d bytes that differ from the plaintext", len(got))
	}
}

// TestAgeCLIKeysParse checks the other direction: keys made by age-keygen
// parse, and what age encrypts to them, Decrypt reads.
func TestAgeCLIKeysParse(t *testing.T) {
	ageBin := ageCLI(t)
	keygen, err := exec.LookPath("age-keygen")
	if err != nil {
		t.Skipf("age-keygen is not installed: %v", err)
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key.txt")
	if out, err := exec.Command(keygen, "-o", keyFile).CombinedOutput(); err != nil {
		t.Fatalf("age-keygen: %v: %s", err, out)
	}
	pub, err := exec.Command(keygen, "-y", keyFile).Output()
	if err != nil {
		t.Fatalf("age-keygen -y: %v", err)
	}
	recipientsFile := writeFile(t, dir, "recipients.txt", "# from age-keygen -y\n"+string(pub))
	if _, err := ParseRecipients(nil, []string{recipientsFile}); err != nil {
		t.Fatalf("ParseRecipients(age-keygen output): %v", err)
	}
	ids, err := ParseIdentityFile(keyFile)
	if err != nil {
		t.Fatalf("ParseIdentityFile(age-keygen output): %v", err)
	}
	plain := pseudoRandomBytes(100000, 13)
	cmd := exec.Command(ageBin, "-R", recipientsFile)
	cmd.Stdin = bytes.NewReader(plain)
	encrypted, err := cmd.Output()
	if err != nil {
		t.Fatalf("age -R: %v", err)
	}
	r, err := Decrypt(bytes.NewReader(encrypted), ids...)
	if err != nil {
		t.Fatalf("Decrypt(age CLI output): %v", err)
	}
	var got bytes.Buffer
	if _, err := got.ReadFrom(r); err != nil {
		t.Fatalf("Decrypt read: %v", err)
	}
	if !bytes.Equal(got.Bytes(), plain) {
		t.Error("Decrypt of the age CLI's output differs from the plaintext")
	}
}
