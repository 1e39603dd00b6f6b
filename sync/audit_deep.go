package sync

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	gosync "sync"

	"github.com/s3seal/s3seal/catalog"
	"github.com/s3seal/s3seal/cipher"
)

// deepTally counts how the deep checks went, to tell a wrong identity from
// damaged objects.
type deepTally struct {
	mu            gosync.Mutex
	decrypted     int // objects whose age header opened
	wrongIdentity int // objects no identity opened
}

// deep downloads, decrypts and checks the objects of a sample of the
// catalog rows, on opts.Jobs workers. Rows whose object is not listed are
// already reported as object-missing and are not fetched.
func (a *auditState) deep(ctx context.Context) error {
	var present []catalog.File
	for _, row := range a.rows {
		if _, ok := a.remote.Get(row.ObjectKey); ok {
			present = append(present, row)
		}
	}
	var tally deepTally
	forEach(ctx, a.opts.Jobs, sample(present, a.opts.Sample), func(row catalog.File) {
		a.checkObject(ctx, row, &tally)
	})
	if err := ctx.Err(); err != nil {
		return err
	}
	if tally.decrypted == 0 && tally.wrongIdentity > 0 {
		return fmt.Errorf("audit: none of the %d objects checked decrypts with the given identities: %w", tally.wrongIdentity, cipher.ErrWrongIdentity)
	}
	return nil
}

// checkObject verifies one row's object and records what it found.
func (a *auditState) checkObject(ctx context.Context, row catalog.File, tally *deepTally) {
	size, plainMD5, err := a.readObject(ctx, row, tally)
	if ctx.Err() != nil {
		return
	}
	var openErr *objectOpenError
	switch {
	case errors.As(err, &openErr):
		a.report.report(Event{Kind: EventFail, Path: row.Path, Reason: "download", Size: row.Size, Err: openErr.err})
		return
	case err != nil:
		a.add(Finding{Category: DecryptFailed, Path: row.Path, Key: row.ObjectKey, Detail: err.Error()})
	case size != row.Size || plainMD5 != row.PlainMD5:
		detail := "the plaintext's MD5 is not the catalog's"
		if size != row.Size {
			detail = fmt.Sprintf("the plaintext has %s, the catalog says %s", plural(size, "byte"), plural(row.Size, "byte"))
		}
		a.add(Finding{Category: ContentMismatch, Path: row.Path, Key: row.ObjectKey, Detail: detail})
	default:
		a.report.report(Event{Kind: EventDone, Path: row.Path, Reason: "verified", Size: row.Size, Bytes: size})
	}
	a.mu.Lock()
	a.out.Checked++
	a.mu.Unlock()
}

// objectOpenError is a failure to download an object, as opposed to a
// failure of its content.
type objectOpenError struct{ err error }

func (e *objectOpenError) Error() string { return e.err.Error() }

// readObject downloads and decrypts row's object and returns the
// plaintext's size and MD5.
func (a *auditState) readObject(ctx context.Context, row catalog.File, tally *deepTally) (int64, [16]byte, error) {
	var sum [16]byte
	body, size, err := a.store.Get(ctx, row.ObjectKey)
	if err != nil {
		return 0, sum, &objectOpenError{err}
	}
	defer body.Close()
	whole := &wholeBody{r: body, key: row.ObjectKey, size: size}
	n, sum, err := a.decryptObject(ctx, whole, tally)
	if whole.err != nil {
		return n, sum, &objectOpenError{whole.err}
	}
	return n, sum, err
}

// decryptObject decrypts an object's body and returns the plaintext's size
// and MD5.
func (a *auditState) decryptObject(ctx context.Context, body io.Reader, tally *deepTally) (int64, [16]byte, error) {
	var sum [16]byte
	plain, err := cipher.Decrypt(body, a.opts.Identities...)
	tally.mu.Lock()
	switch {
	case err == nil:
		tally.decrypted++
	case errors.Is(err, cipher.ErrWrongIdentity):
		tally.wrongIdentity++
	}
	tally.mu.Unlock()
	if err != nil {
		return 0, sum, err
	}
	hash := md5.New()
	n, err := io.Copy(hash, &ctxReader{ctx: ctx, r: plain})
	if err != nil {
		return n, sum, err
	}
	copy(sum[:], hash.Sum(nil))
	return n, sum, nil
}
