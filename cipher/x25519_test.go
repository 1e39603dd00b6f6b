package cipher

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"io"
	mathrand "math/rand/v2"
	"strings"
	"testing"

	"filippo.io/age"
	"golang.org/x/crypto/curve25519"
)

// TestFastX25519 encrypts with FastX25519 recipients and decrypts with
// age's own identities: the stanza must unwrap exactly as age's does, for
// one recipient and for several.
func TestFastX25519(t *testing.T) {
	var ids []*age.X25519Identity
	var fast []age.Recipient
	for range 8 {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			t.Fatal(err)
		}
		r, err := FastX25519(id.Recipient())
		if err != nil {
			t.Fatalf("FastX25519(%s): %v", id.Recipient(), err)
		}
		if _, ok := r.(*x25519Recipient); !ok {
			t.Fatalf("FastX25519 returned %T; want the fast recipient", r)
		}
		ids = append(ids, id)
		fast = append(fast, r)
	}
	plain := bytes.Repeat([]byte("sealed "), 20000)
	for _, rs := range [][]age.Recipient{fast[:1], fast} {
		var buf bytes.Buffer
		w, err := age.Encrypt(&buf, rs...)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(plain)
		w.Close()
		for i := range rs {
			r, err := age.Decrypt(bytes.NewReader(buf.Bytes()), ids[i])
			if err != nil {
				t.Fatalf("age.Decrypt with identity %d of %d: %v", i, len(rs), err)
			}
			got, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("identity %d of %d: %d bytes, %v; want the plaintext", i, len(rs), len(got), err)
			}
		}
		other, _ := age.GenerateX25519Identity()
		if _, err := age.Decrypt(bytes.NewReader(buf.Bytes()), other); err == nil {
			t.Fatalf("an unrelated identity decrypted the file")
		}
	}
}

// TestFastX25519Stanza checks the stanza's shape against age's own
// X25519 recipient, and that each wrap draws a fresh ephemeral share.
func TestFastX25519Stanza(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	fast, err := FastX25519(id.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	fileKey := bytes.Repeat([]byte{7}, 16)
	want, err := id.Recipient().Wrap(fileKey)
	if err != nil {
		t.Fatal(err)
	}
	got, err := fast.Wrap(fileKey)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := fast.Wrap(fileKey)
	if len(got) != 1 || got[0].Type != want[0].Type || len(got[0].Args) != 1 ||
		len(got[0].Args[0]) != len(want[0].Args[0]) || len(got[0].Body) != len(want[0].Body) {
		t.Fatalf("stanza %+v; want the shape of age's %+v", got, want)
	}
	if share, err := base64.RawStdEncoding.Strict().DecodeString(got[0].Args[0]); err != nil || len(share) != 32 {
		t.Errorf("ephemeral share %q: %v; want 32 bytes of canonical base64", got[0].Args[0], err)
	}
	if got[0].Args[0] == again[0].Args[0] || bytes.Equal(got[0].Body, again[0].Body) {
		t.Errorf("two wraps share an ephemeral share or a body")
	}
	unwrapped, err := id.Unwrap(got)
	if err != nil || !bytes.Equal(unwrapped, fileKey) {
		t.Errorf("age's identity unwraps %x, %v; want %x", unwrapped, err, fileKey)
	}
}

func TestFastX25519PassesOthersThrough(t *testing.T) {
	pq, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	r := age.Recipient(pq.Recipient())
	if got, err := FastX25519(r); err != nil || got != r {
		t.Errorf("FastX25519(hybrid) = %v, %v; want the recipient itself", got, err)
	}
}

func TestBech32Decode(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	s := id.Recipient().String()
	hrp, data, err := bech32Decode(s)
	if err != nil || hrp != "age" || len(data) != 32 {
		t.Fatalf("bech32Decode(%s) = %q, %d bytes, %v", s, hrp, len(data), err)
	}
	// BIP 173 valid test vectors.
	for _, v := range []string{"a12uel5l", "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw", "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w"} {
		if _, _, err := bech32Decode(v); err != nil {
			t.Errorf("bech32Decode(%q): %v; want valid", v, err)
		}
	}
	bad := []string{
		"", "age", "1qqqqqqq", s[:len(s)-1], s + "q",
		s[:10] + flip(s[10]) + s[11:], // one changed character: checksum
		strings.Replace(s, "1", "b", 1),
		s[:8] + "I" + s[9:], // not in the alphabet
	}
	for _, v := range bad {
		if _, _, err := bech32Decode(v); err == nil {
			t.Errorf("bech32Decode(%q) succeeded; want an error", v)
		}
	}
}

func flip(c byte) string {
	if c == 'q' {
		return "p"
	}
	return "q"
}

func BenchmarkWrapX25519(b *testing.B) {
	id, _ := age.GenerateX25519Identity()
	fast, _ := FastX25519(id.Recipient())
	fileKey := make([]byte, 16)
	b.Run("age", func(b *testing.B) {
		for b.Loop() {
			id.Recipient().Wrap(fileKey)
		}
	})
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			fast.Wrap(fileKey)
		}
	})
}

// TestX25519MatchesReference checks the ladder against x/crypto's X25519
// on random scalars and points (on the curve and on its twist, and with
// the top bit set, which RFC 7748 ignores), and against RFC 7748's
// iterated test vector.
func TestX25519MatchesReference(t *testing.T) {
	rng := mathrand.New(mathrand.NewPCG(7, 8))
	scalar, point := make([]byte, 32), make([]byte, 32)
	for i := range 2000 {
		for j := range scalar {
			scalar[j], point[j] = byte(rng.Uint32()), byte(rng.Uint32())
		}
		if i%2 == 0 {
			point[31] &= 127
		}
		want, err := curve25519.X25519(scalar, point)
		got := x25519(scalar, point)
		if err != nil {
			want = make([]byte, 32) // the reference refuses an all-zero result
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("x25519(%x, %x) = %x; want %x", scalar, point, got, want)
		}
	}

	// RFC 7748, section 5.2: k = u = 9, then k, u = X25519(k, u), k.
	k, u := make([]byte, 32), make([]byte, 32)
	k[0], u[0] = 9, 9
	for i := 1; i <= 1000; i++ {
		k, u = x25519(k, u), k
		switch i {
		case 1:
			if got := hex.EncodeToString(k); got != "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079" {
				t.Fatalf("after one iteration: %s", got)
			}
		case 1000:
			if got := hex.EncodeToString(k); got != "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51" {
				t.Fatalf("after 1,000 iterations: %s", got)
			}
		}
	}
}

func TestFastX25519RefusesLowOrderKey(t *testing.T) {
	r := &x25519Recipient{publicKey: make([]byte, 32)} // u = 0, a point of order 2
	if _, err := r.Wrap(make([]byte, 16)); err == nil {
		t.Fatal("wrapping to a low-order public key succeeded")
	}
}
