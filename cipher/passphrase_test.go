package cipher

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"filippo.io/age"
)

// testWorkFactor keeps scrypt fast in tests; the work factor itself is not
// under test here.
const testWorkFactor = 10

func TestSealIdentityRoundTrip(t *testing.T) {
	id := newX25519(t)
	sealed, err := SealIdentity(id, "correct horse battery staple", testWorkFactor)
	if err != nil {
		t.Fatalf("SealIdentity: %v", err)
	}
	opened, err := OpenSealedIdentity(sealed, "correct horse battery staple")
	if err != nil {
		t.Fatalf("OpenSealedIdentity: %v", err)
	}
	if opened.String() != id.String() {
		t.Error("OpenSealedIdentity returned a different identity than was sealed")
	}

	// The sealed form is a plain age scrypt file holding the identity line,
	// as `age -d` would print it.
	scryptID, err := age.NewScryptIdentity("correct horse battery staple")
	if err != nil {
		t.Fatalf("NewScryptIdentity: %v", err)
	}
	r, err := age.Decrypt(bytes.NewReader(sealed), scryptID)
	if err != nil {
		t.Fatalf("age.Decrypt(sealed): %v", err)
	}
	text, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read sealed: %v", err)
	}
	if want := id.String() + "\n"; string(text) != want {
		t.Errorf("sealed plaintext is %d bytes in another form; want the identity line plus newline", len(text))
	}
	if !bytes.Contains(sealed, []byte("\n-> scrypt ")) || !bytes.Contains(sealed, []byte(" 10\n")) {
		t.Errorf("sealed header has no scrypt stanza with work factor 10:\n%s", sealed[:bytes.Index(sealed, []byte("\n---"))])
	}
}

func TestOpenSealedIdentityErrors(t *testing.T) {
	const passphrase = "correct horse battery staple"
	id := newX25519(t)
	sealed, err := SealIdentity(id, passphrase, testWorkFactor)
	if err != nil {
		t.Fatalf("SealIdentity: %v", err)
	}
	notSealed := encryptTo(t, []byte(id.String()+"\n"), newX25519(t).Recipient())
	tooExpensive := bytes.Replace(sealed, []byte(" 10\n"), []byte(" 23\n"), 1)
	sealedText, err := sealText(t, "not an identity\n", passphrase)
	if err != nil {
		t.Fatalf("seal text: %v", err)
	}

	tests := []struct {
		name       string
		sealed     []byte
		passphrase string
		wantWrong  bool // want errors.Is(err, ErrWrongPassphrase)
	}{
		{"wrong passphrase", sealed, "Correct horse battery staple", true},
		{"empty passphrase", sealed, "", false},
		{"not passphrase-encrypted", notSealed, passphrase, false},
		{"work factor above 22", tooExpensive, passphrase, false},
		{"truncated", sealed[:len(sealed)-10], passphrase, false},
		{"content is not an identity", sealedText, passphrase, false},
	}
	for _, tt := range tests {
		_, err := OpenSealedIdentity(tt.sealed, tt.passphrase)
		if err == nil {
			t.Errorf("%s: OpenSealedIdentity error = nil; want an error", tt.name)
			continue
		}
		if got := errors.Is(err, ErrWrongPassphrase); got != tt.wantWrong {
			t.Errorf("%s: errors.Is(%v, ErrWrongPassphrase) = %v; want %v", tt.name, err, got, tt.wantWrong)
		}
		if tt.passphrase != "" && strings.Contains(err.Error(), tt.passphrase) {
			t.Errorf("%s: error %q contains the passphrase", tt.name, err)
		}
		if strings.Contains(err.Error(), id.String()) || strings.Contains(err.Error(), "not an identity") {
			t.Errorf("%s: error %q contains sealed content", tt.name, err)
		}
	}
}

// sealText seals arbitrary text the way SealIdentity seals an
// identity line.
func sealText(t *testing.T, text, passphrase string) ([]byte, error) {
	t.Helper()
	recipient, err := age.NewScryptRecipient(passphrase)
	if err != nil {
		return nil, err
	}
	recipient.SetWorkFactor(testWorkFactor)
	var out bytes.Buffer
	w, err := age.Encrypt(&out, recipient)
	if err != nil {
		return nil, err
	}
	if _, err := io.WriteString(w, text); err != nil {
		return nil, err
	}
	return out.Bytes(), w.Close()
}

func TestSealIdentityErrors(t *testing.T) {
	id := newX25519(t)
	tests := []struct {
		name       string
		id         *age.X25519Identity
		passphrase string
		workFactor int
	}{
		{"empty passphrase", id, "", testWorkFactor},
		{"work factor 0", id, "pass", 0},
		{"work factor 23", id, "pass", 23},
		{"nil identity", nil, "pass", testWorkFactor},
	}
	for _, tt := range tests {
		if _, err := SealIdentity(tt.id, tt.passphrase, tt.workFactor); err == nil {
			t.Errorf("%s: SealIdentity error = nil; want an error", tt.name)
		}
	}
}
