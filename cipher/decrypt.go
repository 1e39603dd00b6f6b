package cipher

import (
	"errors"
	"fmt"
	"io"

	"filippo.io/age"
)

// ErrWrongIdentity is wrapped by [Decrypt] when no identity matches the
// file's recipients. The same error also wraps the *age.NoIdentityMatchError.
var ErrWrongIdentity = errors.New("no identity matches this file")

// Decrypt is age.Decrypt with the no-match error wrapped as
// [ErrWrongIdentity] (keeping age's text and its *age.NoIdentityMatchError
// for errors.As). Other header errors (malformed, bad MAC) are returned
// wrapped. Errors found while reading the payload (truncated, tampered) are
// returned by Read, wrapped; io.EOF is returned only after the whole payload
// authenticated.
func Decrypt(src io.Reader, identities ...age.Identity) (io.Reader, error) {
	r, err := age.Decrypt(src, identities...)
	var noMatch *age.NoIdentityMatchError
	switch {
	case errors.As(err, &noMatch):
		return nil, fmt.Errorf("decrypt: %w: %w", ErrWrongIdentity, err)
	case err != nil:
		return nil, fmt.Errorf("decrypt: %w", err)
	}
	return &payloadReader{r: r}, nil
}

// payloadReader wraps payload errors so they say what failed.
type payloadReader struct {
	r io.Reader
}

// Read reads decrypted plaintext; io.EOF passes through unwrapped.
func (p *payloadReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("decrypt payload: %w", err)
	}
	return n, err
}

// DecryptAt is age.DecryptReaderAt with Decrypt's errors: it decrypts the
// age file of size bytes that src holds and returns a ReaderAt of the
// plaintext and the plaintext's size. It reads the header and then the
// final chunk (which authenticates the size) before it returns; each
// ReadAt then reads and authenticates the chunks it covers, with one chunk
// buffer per call, so callers reading a whole file should read in calls
// of many chunks.
func DecryptAt(src io.ReaderAt, size int64, identities ...age.Identity) (io.ReaderAt, int64, error) {
	r, n, err := age.DecryptReaderAt(src, size, identities...)
	var noMatch *age.NoIdentityMatchError
	switch {
	case errors.As(err, &noMatch):
		return nil, 0, fmt.Errorf("decrypt: %w: %w", ErrWrongIdentity, err)
	case err != nil:
		return nil, 0, fmt.Errorf("decrypt: %w", err)
	}
	return &payloadReaderAt{r: r}, n, nil
}

// payloadReaderAt wraps payload errors as payloadReader does.
type payloadReaderAt struct {
	r io.ReaderAt
}

func (p *payloadReaderAt) ReadAt(b []byte, off int64) (int, error) {
	n, err := p.r.ReadAt(b, off)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("decrypt payload: %w", err)
	}
	return n, err
}
