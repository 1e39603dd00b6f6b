package cipher

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"
	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/hkdf"
)

// x25519Label is the HKDF info of the X25519 recipient type.
const x25519Label = "age-encryption.org/v1/X25519"

// x25519Recipient writes the same "X25519" stanza as age's
// X25519Recipient (c2sp.org/age, "The X25519 recipient type"): an
// ephemeral share, and the file key sealed with ChaCha20-Poly1305 under
// HKDF-SHA-256(ECDH(ephemeral, recipient), ephemeral share || recipient).
// The difference is in the arithmetic: age (through crypto/ecdh) runs the
// Montgomery ladder three times per wrap, once for the share and twice for
// the ECDH, whose private key type first derives a public key nobody uses.
// Here the share is the Edwards base point times the scalar, from
// precomputed tables, converted to its Montgomery u-coordinate, and the
// ECDH is one ladder: the same values in about a third of the time. Every
// file costs one wrap, and with thousands of small files it was the largest
// single cost of a sync.
type x25519Recipient struct {
	publicKey []byte // the recipient's Montgomery u-coordinate, 32 bytes
}

// FastX25519 returns a recipient that wraps file keys exactly as r does,
// faster (see x25519Recipient). Recipients of other types are returned as
// they are.
func FastX25519(r age.Recipient) (age.Recipient, error) {
	x, ok := r.(*age.X25519Recipient)
	if !ok {
		return r, nil
	}
	hrp, key, err := bech32Decode(x.String())
	if err != nil || hrp != "age" || len(key) != curve25519.PointSize {
		return nil, errors.New("malformed X25519 recipient")
	}
	return &x25519Recipient{publicKey: key}, nil
}

func (r *x25519Recipient) Wrap(fileKey []byte) ([]*age.Stanza, error) {
	ephemeral := make([]byte, curve25519.ScalarSize)
	if _, err := rand.Read(ephemeral); err != nil {
		return nil, err
	}
	scalar, err := edwards25519.NewScalar().SetBytesWithClamping(ephemeral)
	if err != nil {
		return nil, err
	}
	share := new(edwards25519.Point).ScalarBaseMult(scalar).BytesMontgomery()
	shared := x25519(ephemeral, r.publicKey)
	if subtle.ConstantTimeCompare(shared, make([]byte, len(shared))) == 1 {
		return nil, errors.New("X25519: low-order recipient public key") // as age refuses it
	}
	salt := make([]byte, 0, len(share)+len(r.publicKey))
	salt = append(append(salt, share...), r.publicKey...)
	wrappingKey := make([]byte, chacha20poly1305.KeySize)
	if _, err := io.ReadFull(hkdf.New(sha256.New, shared, salt, []byte(x25519Label)), wrappingKey); err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.New(wrappingKey)
	if err != nil {
		return nil, err
	}
	body := aead.Seal(nil, make([]byte, chacha20poly1305.NonceSize), fileKey, nil)
	return []*age.Stanza{{
		Type: "X25519",
		Args: []string{base64.RawStdEncoding.EncodeToString(share)},
		Body: body,
	}}, nil
}

// x25519 is the X25519 function of RFC 7748: the u-coordinate of the
// clamped scalar times the point with u-coordinate point, by the constant-
// time Montgomery ladder of RFC 7748, section 5.
func x25519(scalar, point []byte) []byte {
	var e [32]byte
	copy(e[:], scalar)
	e[0] &= 248
	e[31] &= 127
	e[31] |= 64

	var x1, x2, z2, x3, z3, tmp0, tmp1 field.Element
	if _, err := x1.SetBytes(point); err != nil { // ignores the top bit, as RFC 7748 says
		panic("cipher: x25519 point is not 32 bytes")
	}
	x2.One()
	x3.Set(&x1)
	z3.One()
	swap := 0
	for pos := 254; pos >= 0; pos-- {
		b := int(e[pos/8]>>(pos&7)) & 1
		swap ^= b
		x2.Swap(&x3, swap)
		z2.Swap(&z3, swap)
		swap = b

		tmp0.Subtract(&x3, &z3)
		tmp1.Subtract(&x2, &z2)
		x2.Add(&x2, &z2)
		z2.Add(&x3, &z3)
		z3.Multiply(&tmp0, &x2)
		z2.Multiply(&z2, &tmp1)
		tmp0.Square(&tmp1)
		tmp1.Square(&x2)
		x3.Add(&z3, &z2)
		z2.Subtract(&z3, &z2)
		x2.Multiply(&tmp1, &tmp0)
		tmp1.Subtract(&tmp1, &tmp0)
		z2.Square(&z2)
		z3.Mult32(&tmp1, 121666)
		x3.Square(&x3)
		tmp0.Add(&tmp0, &z3)
		z3.Multiply(&x1, &z2)
		z2.Multiply(&tmp1, &tmp0)
	}
	x2.Swap(&x3, swap)
	z2.Swap(&z3, swap)
	z2.Invert(&z2)
	return x2.Multiply(&x2, &z2).Bytes()
}

// bech32Charset is the Bech32 alphabet (BIP 173).
const bech32Charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

// bech32Decode decodes a lowercase Bech32 string (BIP 173) without its
// length limit, as age uses it, and checks its checksum.
func bech32Decode(s string) (hrp string, data []byte, err error) {
	sep := strings.LastIndexByte(s, '1')
	if sep < 1 || sep+7 > len(s) {
		return "", nil, errors.New("bech32: no separator or too short")
	}
	hrp = s[:sep]
	values := make([]byte, 0, len(s)-sep-1)
	for i := sep + 1; i < len(s); i++ {
		v := strings.IndexByte(bech32Charset, s[i])
		if v < 0 {
			return "", nil, fmt.Errorf("bech32: invalid character at %d", i)
		}
		values = append(values, byte(v))
	}
	if bech32Polymod(hrp, values) != 1 {
		return "", nil, errors.New("bech32: bad checksum")
	}
	data, err = convertBits(values[:len(values)-6], 5, 8)
	return hrp, data, err
}

func bech32Polymod(hrp string, values []byte) uint32 {
	gen := [5]uint32{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3}
	chk := uint32(1)
	step := func(v byte) {
		top := chk >> 25
		chk = (chk&0x1ffffff)<<5 ^ uint32(v)
		for i := range gen {
			if (top>>i)&1 == 1 {
				chk ^= gen[i]
			}
		}
	}
	for i := 0; i < len(hrp); i++ {
		step(hrp[i] >> 5)
	}
	step(0)
	for i := 0; i < len(hrp); i++ {
		step(hrp[i] & 31)
	}
	for _, v := range values {
		step(v)
	}
	return chk
}

// convertBits regroups 5-bit groups into bytes, refusing leftover bits
// that are not zero padding.
func convertBits(in []byte, from, to uint) ([]byte, error) {
	var acc, bits uint
	out := make([]byte, 0, len(in)*int(from)/int(to))
	for _, v := range in {
		acc = acc<<from | uint(v)
		bits += from
		for bits >= to {
			bits -= to
			out = append(out, byte(acc>>bits))
			acc &= 1<<bits - 1
		}
	}
	if bits >= from || acc != 0 {
		return nil, errors.New("bech32: invalid padding")
	}
	return out, nil
}
