package cipher

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"
)

const (
	fileKeySize = 16 // bytes of an age file key
	nonceSize   = 16 // bytes of the payload nonce that follows the header
)

// headerIntro is how every age v1 header starts.
var headerIntro = []byte("age-encryption.org/v1\n")

// Envelope is the crypto state that makes a file's ciphertext reproducible:
// with the same Envelope and the same plaintext, [Ciphertext] yields the same
// bytes at every offset. The same Envelope must never be used with different
// plaintext: that would reuse a ChaCha20-Poly1305 key and nonce. Callers
// persist an Envelope only while an upload is in flight.
type Envelope struct {
	FileKey []byte // 16 bytes, secret
	Nonce   []byte // 16 bytes, the payload nonce written after the header
	Header  []byte // the age header, "age-encryption.org/v1\n" ... "--- MAC\n"

	// fresh is set by NewEnvelope, whose header age has just written: only
	// an envelope assembled from stored fields needs its MAC checked.
	fresh bool
}

// NewEnvelope draws a fresh file key and nonce and builds the age header that
// wraps the file key to every recipient. The header is produced by
// age.Encrypt itself, so recipient types, stanza encoding, labels (for
// example the post-quantum label that forbids mixing) and the header MAC are
// exactly age's.
func NewEnvelope(recipients ...age.Recipient) (*Envelope, error) {
	if len(recipients) == 0 {
		return nil, errors.New("new envelope: no recipients")
	}
	capture := &keyCapture{inner: recipients[0]}
	wrapped := append([]age.Recipient{capture}, recipients[1:]...)

	var buf bytes.Buffer
	// The returned writer is deliberately never closed: closing would append
	// the final payload chunk, and only the header and nonce are wanted.
	if _, err := age.Encrypt(&buf, wrapped...); err != nil {
		return nil, fmt.Errorf("new envelope: %w", err)
	}
	if len(capture.fileKey) != fileKeySize {
		return nil, errors.New("new envelope: age did not wrap a 16-byte file key")
	}
	out := buf.Bytes()
	if len(out) < len(headerIntro)+nonceSize || !bytes.HasPrefix(out, headerIntro) {
		return nil, errors.New("new envelope: age wrote an unexpected header")
	}
	split := len(out) - nonceSize
	return &Envelope{
		FileKey: capture.fileKey,
		Nonce:   bytes.Clone(out[split:]),
		Header:  bytes.Clone(out[:split]),
		fresh:   true,
	}, nil
}

// CiphertextSize returns the size of the age file for a plaintext of
// plainSize bytes: len(Header) + 16 + plainSize + 16*max(1, ceil(plainSize/65536)).
// plainSize must not be negative.
func (e *Envelope) CiphertextSize(plainSize int64) int64 {
	return int64(len(e.Header)) + nonceSize + plainSize + tagSize*chunkCount(plainSize)
}

// validate reports whether e is what NewEnvelope produces: a 16-byte file
// key and nonce, and a whole age header, ending in its MAC line, whose MAC
// is the one the file key gives. For an envelope assembled from stored
// fields age itself parses the header and checks the MAC (see headerKey),
// so one that was damaged or belongs to another file key is refused before
// anything is encrypted under it. The error never includes the file key.
func (e *Envelope) validate() error {
	switch {
	case e == nil:
		return errors.New("invalid envelope: nil")
	case len(e.FileKey) != fileKeySize:
		return fmt.Errorf("invalid envelope: file key is %d bytes, want %d", len(e.FileKey), fileKeySize)
	case len(e.Nonce) != nonceSize:
		return fmt.Errorf("invalid envelope: nonce is %d bytes, want %d", len(e.Nonce), nonceSize)
	case !bytes.HasPrefix(e.Header, headerIntro):
		return errors.New("invalid envelope: header does not start with the age v1 intro")
	}
	if e.fresh {
		return nil
	}
	// age stops reading a header at its first "---" line: that line must
	// be the header's last, or bytes after it would be taken for payload.
	macLine := bytes.Index(e.Header, []byte("\n--- "))
	if macLine < 0 || bytes.IndexByte(e.Header[macLine+1:], '\n') != len(e.Header)-macLine-2 {
		return errors.New("invalid envelope: header does not end with its MAC line")
	}
	src := io.MultiReader(bytes.NewReader(e.Header), bytes.NewReader(e.Nonce))
	if _, err := age.Decrypt(src, headerKey(e.FileKey)); err != nil {
		return fmt.Errorf("invalid envelope: header does not match the file key: %w", err)
	}
	return nil
}

// headerKey is an identity that unwraps every header to one known file
// key, so that age.Decrypt checks the header's MAC under that key.
type headerKey []byte

// Unwrap returns the file key, whatever the stanzas.
func (k headerKey) Unwrap([]*age.Stanza) ([]byte, error) { return bytes.Clone(k), nil }

// keyCapture wraps a recipient and remembers the file key age asks it to
// wrap. It implements age.RecipientWithLabels so the inner recipient's labels
// (such as "postquantum") still reach age's mixing checks.
type keyCapture struct {
	inner   age.Recipient
	fileKey []byte
}

// Wrap records fileKey and delegates to the inner recipient.
func (c *keyCapture) Wrap(fileKey []byte) ([]*age.Stanza, error) {
	c.fileKey = bytes.Clone(fileKey)
	return c.inner.Wrap(fileKey)
}

// WrapWithLabels records fileKey and delegates to the inner recipient's
// WrapWithLabels when it has one, else to Wrap with no labels.
func (c *keyCapture) WrapWithLabels(fileKey []byte) ([]*age.Stanza, []string, error) {
	c.fileKey = bytes.Clone(fileKey)
	if labeled, ok := c.inner.(age.RecipientWithLabels); ok {
		return labeled.WrapWithLabels(fileKey)
	}
	stanzas, err := c.inner.Wrap(fileKey)
	return stanzas, nil, err
}
