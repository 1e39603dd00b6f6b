package cipher

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"filippo.io/age"
)

func TestRewrap(t *testing.T) {
	a, _ := age.GenerateX25519Identity()
	b, _ := age.GenerateX25519Identity()
	c, _ := age.GenerateX25519Identity()
	plain := bytes.Repeat([]byte("rewrap "), 20000) // several STREAM chunks
	var file bytes.Buffer
	w, err := age.Encrypt(&file, a.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	w.Write(plain)
	w.Close()

	header, oldLen, err := Rewrap(file.Bytes()[:200], []age.Identity{a}, []age.Recipient{b.Recipient(), c.Recipient()})
	if err != nil {
		t.Fatal(err)
	}
	rekeyed := append(bytes.Clone(header), file.Bytes()[oldLen:]...)
	for _, id := range []*age.X25519Identity{b, c} {
		r, err := age.Decrypt(bytes.NewReader(rekeyed), id)
		if err != nil {
			t.Fatalf("Decrypt(rekeyed) with a new identity: %v", err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("Decrypt(rekeyed) = %d bytes, %v; want the %d bytes encrypted", len(got), err, len(plain))
		}
	}
	var noMatch *age.NoIdentityMatchError
	if _, err := age.Decrypt(bytes.NewReader(rekeyed), a); !errors.As(err, &noMatch) {
		t.Errorf("Decrypt(rekeyed) with the old identity: %v; want no identity match", err)
	}
	if _, _, err := Rewrap(rekeyed[:400], []age.Identity{a}, []age.Recipient{b.Recipient()}); !errors.Is(err, ErrWrongIdentity) {
		t.Errorf("Rewrap with a removed identity: %v; want ErrWrongIdentity", err)
	}
}

func TestRewrapScrypt(t *testing.T) {
	a, _ := age.GenerateX25519Identity()
	var file bytes.Buffer
	w, _ := age.Encrypt(&file, a.Recipient())
	w.Write([]byte("small"))
	w.Close()
	pass, _ := age.NewScryptRecipient("new passphrase")
	pass.SetWorkFactor(10)
	header, oldLen, err := Rewrap(file.Bytes(), []age.Identity{a}, []age.Recipient{pass})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := age.NewScryptIdentity("new passphrase")
	r, err := age.Decrypt(io.MultiReader(bytes.NewReader(header), bytes.NewReader(file.Bytes()[oldLen:])), id)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(r); string(got) != "small" {
		t.Errorf("Decrypt(rekeyed) = %q; want %q", got, "small")
	}
}
