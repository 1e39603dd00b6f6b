package cipher

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"
)

// HeaderLen returns the length of the age header at the start of file: the
// bytes up to and including the newline of its "---" MAC line. It fails if
// file does not start with a whole header.
func HeaderLen(file []byte) (int, error) {
	if !bytes.HasPrefix(file, headerIntro) {
		return 0, errors.New("read age header: not an age v1 file")
	}
	macLine := bytes.Index(file, []byte("\n--- "))
	if macLine < 0 {
		return 0, errors.New("read age header: no MAC line in the bytes read")
	}
	end := bytes.IndexByte(file[macLine+1:], '\n')
	if end < 0 {
		return 0, errors.New("read age header: MAC line cut off")
	}
	return macLine + 1 + end + 1, nil
}

// Rewrap returns a new age header for the file that starts with prefix (its
// header and at least the 16-byte payload nonce): the same file key,
// unwrapped with identities, wrapped to recipients instead. The payload
// bytes after the old header stay valid after the new one, so the new file
// is the new header followed by prefix[oldLen:] and the rest of the old
// file. Before it is returned, the new header is checked by age.Decrypt
// itself; a header age would refuse is never returned.
func Rewrap(prefix []byte, identities []age.Identity, recipients []age.Recipient) (header []byte, oldLen int, err error) {
	oldLen, err = HeaderLen(prefix)
	if err != nil {
		return nil, 0, err
	}
	if len(prefix) < oldLen+nonceSize {
		return nil, 0, errors.New("rewrap: the payload nonce is missing")
	}
	fileKey, err := age.DecryptHeader(prefix[:oldLen], identities...)
	var noMatch *age.NoIdentityMatchError
	switch {
	case errors.As(err, &noMatch):
		return nil, 0, fmt.Errorf("rewrap: %w: %w", ErrWrongIdentity, err)
	case err != nil:
		return nil, 0, fmt.Errorf("rewrap: %w", err)
	}
	if len(recipients) == 0 {
		return nil, 0, errors.New("rewrap: no recipients")
	}
	wrapped := make([]age.Recipient, len(recipients))
	for i, r := range recipients {
		wrapped[i] = &fixedKey{inner: r, fileKey: fileKey}
	}
	// age writes the stanzas (wrapping fileKey, through fixedKey) and a MAC
	// under the random file key it drew itself, which is discarded: only the
	// MAC has to be made again, under fileKey. The writer is never closed,
	// so no payload is written.
	var buf bytes.Buffer
	if _, err := age.Encrypt(&buf, wrapped...); err != nil {
		return nil, 0, fmt.Errorf("rewrap: %w", err)
	}
	header, err = remac(buf.Bytes(), fileKey)
	if err != nil {
		return nil, 0, err
	}
	nonce := prefix[oldLen : oldLen+nonceSize]
	src := io.MultiReader(bytes.NewReader(header), bytes.NewReader(nonce))
	if _, err := age.Decrypt(src, age.NewInjectedFileKeyIdentity(fileKey)); err != nil {
		return nil, 0, fmt.Errorf("rewrap: age refuses the new header: %w", err)
	}
	return header, oldLen, nil
}

// remac returns the age header at the start of out with its MAC replaced by
// the one fileKey gives. The age spec (C2SP age, "Header MAC"): the MAC is
// HMAC-SHA-256 under HKDF-SHA-256(ikm = file key, salt = empty, info =
// "header"), over the header up to and including the "---" of the MAC
// line, written after "--- " in unpadded base64.
func remac(out []byte, fileKey []byte) ([]byte, error) {
	n, err := HeaderLen(out)
	if err != nil {
		return nil, fmt.Errorf("rewrap: %w", err)
	}
	covered := out[:bytes.LastIndex(out[:n], []byte("\n--- "))+len("\n---")]
	macKey, err := hkdf.Key(sha256.New, fileKey, nil, "header", sha256.Size)
	if err != nil {
		return nil, fmt.Errorf("rewrap: %w", err)
	}
	mac := hmac.New(sha256.New, macKey)
	mac.Write(covered)
	header := bytes.Clone(covered)
	header = append(header, ' ')
	header = base64.RawStdEncoding.AppendEncode(header, mac.Sum(nil))
	return append(header, '\n'), nil
}

// fixedKey is a recipient that wraps one given file key, whatever file key
// age asks it to wrap. It keeps the inner recipient's labels.
type fixedKey struct {
	inner   age.Recipient
	fileKey []byte
}

// Wrap wraps the fixed file key with the inner recipient.
func (f *fixedKey) Wrap([]byte) ([]*age.Stanza, error) { return f.inner.Wrap(f.fileKey) }

// WrapWithLabels is Wrap with the inner recipient's labels.
func (f *fixedKey) WrapWithLabels([]byte) ([]*age.Stanza, []string, error) {
	if labeled, ok := f.inner.(age.RecipientWithLabels); ok {
		return labeled.WrapWithLabels(f.fileKey)
	}
	stanzas, err := f.inner.Wrap(f.fileKey)
	return stanzas, nil, err
}
