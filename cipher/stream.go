package cipher

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"golang.org/x/crypto/chacha20poly1305"
)

const (
	chunkSize    = 64 << 10 // plaintext bytes per STREAM chunk
	tagSize      = chacha20poly1305.Overhead
	encChunkSize = chunkSize + tagSize
	lastChunk    = 0x01 // last byte of the nonce of the final chunk
)

// ErrPlaintextChanged is wrapped by [Ciphertext.ReadAt] when the plaintext
// no longer has the size the Ciphertext was built for.
var ErrPlaintextChanged = errors.New("plaintext changed while it was read")

// chunkBuffers holds encChunkSize scratch buffers for chunks that are only
// partly inside a ReadAt destination.
var chunkBuffers = sync.Pool{New: func() any {
	buf := make([]byte, encChunkSize)
	return &buf
}}

// Ciphertext is a deterministic io.ReaderAt view of the complete age file
// (header, nonce, payload) for a plaintext read through plain, which must
// hold exactly plainSize bytes. ReadAt at any offset encrypts only the chunks
// it needs, so an interrupted upload can regenerate any part.
//
// If plain returns fewer bytes than plainSize (the file shrank), or more
// bytes past plainSize when the last chunk is read (the file grew), ReadAt
// returns an error wrapping [ErrPlaintextChanged]; wrap plain in an
// io.SectionReader to encrypt a prefix on purpose. ReadAt is safe for
// concurrent use. Size is [Envelope.CiphertextSize] of plainSize.
type Ciphertext struct {
	prefix    []byte // header followed by nonce
	plain     io.ReaderAt
	plainSize int64
	size      int64
	chunks    int64
	aead      cipher.AEAD
	err       error // set when the envelope was invalid
}

// NewCiphertext returns the age file for the plainSize bytes of plain,
// encrypted with e. An invalid Envelope (wrong key or nonce size, or a
// header that is not age v1) or a negative plainSize makes every ReadAt
// fail.
func NewCiphertext(e *Envelope, plain io.ReaderAt, plainSize int64) *Ciphertext {
	if err := e.validate(); err != nil {
		return &Ciphertext{err: err}
	}
	if plainSize < 0 {
		return &Ciphertext{err: fmt.Errorf("invalid plaintext size %d", plainSize)}
	}
	c := &Ciphertext{
		prefix:    append(append([]byte(nil), e.Header...), e.Nonce...),
		plain:     plain,
		plainSize: plainSize,
		size:      e.CiphertextSize(plainSize),
		chunks:    chunkCount(plainSize),
	}
	streamKey, err := hkdf.Key(sha256.New, e.FileKey, e.Nonce, "payload", chacha20poly1305.KeySize)
	if err == nil {
		c.aead, err = chacha20poly1305.New(streamKey)
	}
	if err != nil {
		return &Ciphertext{err: fmt.Errorf("derive stream key: %w", err)}
	}
	return c
}

// Size returns the total size of the age file in bytes.
func (c *Ciphertext) Size() int64 { return c.size }

// ReadAt implements io.ReaderAt over the age file. It returns io.EOF only
// when fewer than len(p) bytes remain before Size.
func (c *Ciphertext) ReadAt(p []byte, off int64) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if off < 0 {
		return 0, fmt.Errorf("read ciphertext at %d: negative offset", off)
	}
	if off >= c.size {
		return 0, io.EOF
	}
	want := p
	if remaining := c.size - off; int64(len(want)) > remaining {
		want = want[:remaining]
	}
	n := 0
	if off < int64(len(c.prefix)) {
		n = copy(want, c.prefix[off:])
	}
	for n < len(want) {
		payloadOff := off + int64(n) - int64(len(c.prefix))
		index := payloadOff / encChunkSize
		within := int(payloadOff % encChunkSize)
		copied, err := c.readChunk(want[n:], index, within)
		n += copied
		if err != nil {
			return n, err
		}
	}
	if len(want) < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// readChunk writes the encrypted chunk index, starting at byte within of
// that chunk, into dst, and returns how many bytes it wrote.
func (c *Ciphertext) readChunk(dst []byte, index int64, within int) (int, error) {
	plainLen := c.chunkPlainLen(index)
	encLen := plainLen + tagSize
	if within == 0 && len(dst) >= encLen {
		// The whole chunk fits: encrypt in place, no copy.
		if err := c.sealChunk(dst[:encLen], index, plainLen); err != nil {
			return 0, err
		}
		return encLen, nil
	}
	bufp := chunkBuffers.Get().(*[]byte)
	defer chunkBuffers.Put(bufp)
	buf := (*bufp)[:encLen]
	if err := c.sealChunk(buf, index, plainLen); err != nil {
		return 0, err
	}
	return copy(dst, buf[within:]), nil
}

// sealChunk reads chunk index's plainLen plaintext bytes into the front of
// out (len(out) == plainLen+tagSize) and seals them in place.
func (c *Ciphertext) sealChunk(out []byte, index int64, plainLen int) error {
	plainOff := index * chunkSize
	isLast := index == c.chunks-1
	readLen := plainLen
	if isLast {
		readLen++ // one byte more reveals a file that grew; out has room
	}
	got, err := c.plain.ReadAt(out[:readLen], plainOff)
	if got != plainLen {
		// Do not leave plaintext behind in a caller's upload buffer.
		clear(out)
	}
	switch {
	case got < plainLen && (err == nil || errors.Is(err, io.EOF)):
		return fmt.Errorf("read plaintext at %d: got %d of %d bytes: %w", plainOff, got, plainLen, ErrPlaintextChanged)
	case got < plainLen:
		return fmt.Errorf("read plaintext at %d: %w", plainOff, err)
	case got > plainLen:
		return fmt.Errorf("read plaintext at %d: more than %d bytes: %w", plainOff, c.plainSize, ErrPlaintextChanged)
	}
	var nonce [chacha20poly1305.NonceSize]byte
	binary.BigEndian.PutUint64(nonce[3:11], uint64(index))
	if isLast {
		nonce[11] = lastChunk
	}
	c.aead.Seal(out[:0], nonce[:], out[:plainLen], nil)
	return nil
}

// chunkPlainLen returns the plaintext length of chunk index.
func (c *Ciphertext) chunkPlainLen(index int64) int {
	if index < c.chunks-1 {
		return chunkSize
	}
	return int(c.plainSize - index*chunkSize)
}

// chunkCount returns the number of STREAM chunks for plainSize bytes: one
// per started 64 KiB, and a single empty chunk for an empty plaintext.
func chunkCount(plainSize int64) int64 {
	if plainSize <= 0 {
		return 1
	}
	return (plainSize + chunkSize - 1) / chunkSize
}
