package sync

import (
	"errors"
	"fmt"
	"io"
)

// ErrTransfer is wrapped when an object's body failed or ended before its
// declared size: the connection broke, not the content. Trying again may
// help; the object itself is not known to be damaged.
var ErrTransfer = errors.New("download cut short")

// wholeBody reads an object's body and turns a read error, or an end
// before size bytes, into an error wrapping ErrTransfer. Decryption would
// otherwise report a body cut short as tampered-with ciphertext.
type wholeBody struct {
	r    io.Reader
	key  string
	size int64 // the declared size; negative: unknown
	read int64
	err  error // the transfer error, once there is one
}

func (b *wholeBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.read += int64(n)
	switch {
	case err == io.EOF && b.size >= 0 && b.read < b.size:
		b.err = fmt.Errorf("%w: object %s ended after %d of %d bytes", ErrTransfer, b.key, b.read, b.size)
	case err != nil && err != io.EOF:
		b.err = fmt.Errorf("%w: object %s after %d of %d bytes: %v", ErrTransfer, b.key, b.read, b.size, err)
	}
	if b.err != nil {
		return n, b.err
	}
	return n, err
}

// cause returns the transfer error if there was one, else err: a failure
// to decrypt a body that did not arrive whole is a transfer failure.
func (b *wholeBody) cause(err error) error {
	if err != nil && b.err != nil {
		return b.err
	}
	return err
}
