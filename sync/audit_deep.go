package sync

import (
	"context"
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
	objects := newFetcher(a.store)
	forEach(ctx, a.opts.Jobs*downloadsPerJob, sample(present, a.opts.Sample), func(row catalog.File) {
		a.checkObject(ctx, objects, row, &tally)
	})
	if err := ctx.Err(); err != nil {
		return err
	}
	if tally.decrypted == 0 && tally.wrongIdentity > 0 {
		return fmt.Errorf("audit: none of the %d objects checked decrypts with the given identities: %w", tally.wrongIdentity, cipher.ErrWrongIdentity)
	}
	return nil
}

// downloadsPerJob is how many objects a deep audit reads at once per
// --jobs: like restore, it mostly waits for round trips.
const downloadsPerJob = 16

// ReasonVerifiedMD5Only is the Reason of a deep audit's done event for an
// object verified by MD5 alone, its catalog row having no SHA-256; fully
// verified objects have Reason "verified".
const ReasonVerifiedMD5Only = "verified-md5-only"

// checkObject verifies one row's object and records what it found: the
// object read must have the row's ETag and size, and its plaintext the
// row's size and SHA-256 (MD5 for rows without one). Only then is it
// reported verified.
func (a *auditState) checkObject(ctx context.Context, objects *fetcher, row catalog.File, tally *deepTally) {
	obj, size, sums, err := a.readObject(ctx, objects, row, tally)
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
	default:
		a.judge(row, obj, size, sums)
	}
	a.mu.Lock()
	a.out.Checked++
	a.mu.Unlock()
}

// judge records what a decrypted object says about its row. An object
// whose listing already differed from the row was reported as
// object-changed by compareRemote and is not reported twice. One listed
// with another ETag, but not written since its upload (objectRelisted), is
// the recorded object when the GET shows the ETag and size listed.
func (a *auditState) judge(row catalog.File, obj Object, size int64, sums plainSums) {
	listed, _ := a.remote.Get(row.ObjectKey)
	state := judgeObject(&row, listed)
	changed := checkObject(row, obj) != nil
	if state == objectRelisted && obj.ETag == listed.ETag && obj.Size == listed.Size {
		changed = false
	}
	if changed && state != objectChanged {
		a.add(Finding{Category: ObjectChanged, Path: row.Path, Key: row.ObjectKey,
			Detail: fmt.Sprintf("the object read has ETag %s (%s), the catalog says %s (%s)", obj.ETag, plural(obj.Size, "byte"), row.ETag, plural(row.CipherSize, "byte"))})
	}
	if diff := contentDiff(row, size, sums); diff != "" {
		a.add(Finding{Category: ContentMismatch, Path: row.Path, Key: row.ObjectKey, Detail: diff})
		return
	}
	if changed {
		return
	}
	reason := "verified"
	if !row.HasSHA256 {
		reason = ReasonVerifiedMD5Only
		a.mu.Lock()
		a.out.MD5Only++
		a.mu.Unlock()
	}
	a.report.report(Event{Kind: EventDone, Path: row.Path, Reason: reason, Size: row.Size, Bytes: size})
}

// objectOpenError is a failure to download an object, as opposed to a
// failure of its content.
type objectOpenError struct{ err error }

func (e *objectOpenError) Error() string { return e.err.Error() }

// readObject downloads and decrypts row's object, the one listed, and
// returns the object as the bucket describes it (see fetcher.open), and
// the plaintext's size and hashes.
func (a *auditState) readObject(ctx context.Context, objects *fetcher, row catalog.File, tally *deepTally) (Object, int64, plainSums, error) {
	listed, _ := a.remote.Get(row.ObjectKey)
	body, obj, err := objects.open(ctx, Object{Key: row.ObjectKey, ETag: listed.ETag, Size: listed.Size})
	if err != nil {
		return obj, 0, plainSums{}, &objectOpenError{err}
	}
	defer body.Close()
	n, sums, err := a.decryptObject(ctx, body, newVerifyHash(row), tally)
	if ferr := body.failed(); ferr != nil {
		return obj, n, sums, &objectOpenError{ferr}
	}
	return obj, n, sums, err
}

// decryptObject decrypts an object's body and returns the plaintext's size
// and its sums, as hash computes them.
func (a *auditState) decryptObject(ctx context.Context, body objectBody, hash *plainHash, tally *deepTally) (int64, plainSums, error) {
	var sum plainSums
	plain, err := body.decrypt(a.opts.Identities...)
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
	n, err := io.Copy(hash, &ctxReader{ctx: ctx, r: plain})
	if err != nil {
		return n, sum, err
	}
	return n, hash.sums(), nil
}
