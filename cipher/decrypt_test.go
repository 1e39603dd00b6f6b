package cipher

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"filippo.io/age"
)

func TestDecrypt(t *testing.T) {
	owner := newX25519(t)
	plain := pseudoRandomBytes(3*65536+100, 9)
	file := encryptTo(t, plain, owner.Recipient())
	r, err := Decrypt(bytes.NewReader(file), owner)
	if err != nil {
		t.Fatalf("Decrypt: %v", err)
	}
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("Decrypt read: %v", err)
	}
	if !bytes.Equal(got, plain) {
		t.Errorf("Decrypt gave %d bytes that differ from the %d-byte plaintext", len(got), len(plain))
	}
}

func TestDecryptWrongIdentity(t *testing.T) {
	file := encryptTo(t, []byte("secret"), newX25519(t).Recipient())
	_, err := Decrypt(bytes.NewReader(file), newX25519(t), newX25519(t))
	if !errors.Is(err, ErrWrongIdentity) {
		t.Fatalf("Decrypt(wrong identity) error %v; want ErrWrongIdentity", err)
	}
	var noMatch *age.NoIdentityMatchError
	if !errors.As(err, &noMatch) {
		t.Errorf("Decrypt(wrong identity) error %v; want errors.As *age.NoIdentityMatchError", err)
	}
}

func TestDecryptDamaged(t *testing.T) {
	owner := newX25519(t)
	plain := pseudoRandomBytes(2*65536+10, 10)
	file := encryptTo(t, plain, owner.Recipient())
	header, _, _ := splitAgeFile(t, file)
	payloadStart := len(header) + 16

	flip := func(at int) []byte {
		damaged := bytes.Clone(file)
		damaged[at] ^= 0x01
		return damaged
	}
	tests := []struct {
		name string
		file []byte
	}{
		{"empty", nil},
		{"not age", []byte("hello world\n")},
		{"cut in the header", file[:len(header)/2]},
		{"cut in the nonce", file[:len(header)+8]},
		{"cut in the first chunk", file[:payloadStart+1000]},
		{"cut at a chunk boundary", file[:payloadStart+encChunkSize]},
		{"last byte missing", file[:len(file)-1]},
		{"header byte flipped", flip(len(header) - 5)},
		{"nonce byte flipped", flip(len(header) + 3)},
		{"payload byte flipped", flip(payloadStart + encChunkSize + 17)},
		{"tag byte flipped", flip(len(file) - 1)},
		{"trailing garbage", append(bytes.Clone(file), 0)},
	}
	for _, tt := range tests {
		r, err := Decrypt(bytes.NewReader(tt.file), owner)
		if err == nil {
			_, err = io.ReadAll(r)
		}
		if err == nil {
			t.Errorf("%s: Decrypt and read succeeded; want an error", tt.name)
			continue
		}
		if errors.Is(err, ErrWrongIdentity) {
			t.Errorf("%s: error %v is ErrWrongIdentity; want a damage error", tt.name, err)
		}
	}
}

// TestDecryptAt reads a file through DecryptAt in calls that cross chunk
// boundaries, and checks its errors: a wrong identity as Decrypt's, and a
// damaged chunk failing the ReadAt that covers it.
func TestDecryptAt(t *testing.T) {
	owner := newX25519(t)
	plain := pseudoRandomBytes(3*65536+100, 11)
	file := encryptTo(t, plain, owner.Recipient())
	r, size, err := DecryptAt(bytes.NewReader(file), int64(len(file)), owner)
	if err != nil || size != int64(len(plain)) {
		t.Fatalf("DecryptAt = size %d, %v; want %d", size, err, len(plain))
	}
	got, err := io.ReadAll(io.NewSectionReader(r, 0, size))
	if err != nil || !bytes.Equal(got, plain) {
		t.Errorf("DecryptAt read %d bytes, %v; want the %d-byte plaintext", len(got), err, len(plain))
	}

	_, _, err = DecryptAt(bytes.NewReader(file), int64(len(file)), newX25519(t))
	if !errors.Is(err, ErrWrongIdentity) {
		t.Errorf("DecryptAt(wrong identity) error %v; want ErrWrongIdentity", err)
	}

	damaged := bytes.Clone(file)
	damaged[len(damaged)-2*65536] ^= 1 // in the second-to-last chunk
	r, size, err = DecryptAt(bytes.NewReader(damaged), int64(len(damaged)), owner)
	if err != nil {
		t.Fatalf("DecryptAt(damaged middle chunk): %v; want the error from ReadAt", err)
	}
	if _, err := io.ReadAll(io.NewSectionReader(r, 0, size)); err == nil {
		t.Error("reading a damaged chunk through DecryptAt succeeded")
	}
	damaged[len(damaged)-2*65536] ^= 1
	damaged[len(damaged)-1] ^= 1 // in the final chunk, read before DecryptAt returns
	if _, _, err := DecryptAt(bytes.NewReader(damaged), int64(len(damaged)), owner); err == nil {
		t.Error("DecryptAt(damaged final chunk) succeeded")
	}
}
