package sync

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	gosync "sync"
	"time"

	"filippo.io/age"

	"github.com/s3seal/s3seal/catalog"
	"github.com/s3seal/s3seal/cipher"
)

// ErrUnsafePath is wrapped by restore errors for catalog paths that would
// land outside the destination.
var ErrUnsafePath = errors.New("unsafe path")

// ErrMismatch is wrapped when restored content does not match the catalog.
var ErrMismatch = errors.New("content does not match the catalog")

// ErrObjectChanged is wrapped when the object read is not the one the
// catalog recorded: its ETag or size differs.
var ErrObjectChanged = errors.New("object is not the one the catalog recorded")

// ErrNotRegular is wrapped when a catalog row's mode is not that of a
// regular file (a symlink, a device, or bits s3seal never records).
var ErrNotRegular = errors.New("not a regular file")

// ReasonMD5Only is the Reason of a restore's done event for a file whose
// catalog row has no SHA-256 (recorded before s3seal kept one), so its
// content was verified by size and MD5 alone.
const ReasonMD5Only = "md5-only"

// RestoreOptions configure a restore.
type RestoreOptions struct {
	Dest       string // the destination folder, created if missing; partial files a killed restore left in it are removed first, so run one Restore into a Dest at a time
	Identities []age.Identity
	// Jobs is how many files are downloaded at once (0 = DefaultRestoreJobs);
	// a large file's ranges, a few in flight each, share one memory bound
	// whatever the number.
	Jobs int
	// KeepSpecialModes applies the setuid, setgid and sticky bits of the
	// catalog rows; by default they are dropped.
	KeepSpecialModes bool
	// Match, if set, restores only the rows whose path it accepts.
	Match  func(path string) bool
	Report Reporter
}

// DefaultRestoreJobs is RestoreOptions.Jobs when none is given: a small
// file costs a round trip and little else, so many of them in flight keep
// a distant link busy.
const DefaultRestoreJobs = 64

// RestoreSummary counts what a restore did.
type RestoreSummary struct {
	Files    int   // rows in the catalog (that Match accepts)
	Restored int   // files written
	MD5Only  int   // of Restored, files verified by MD5 alone (rows without SHA-256)
	Skipped  int   // files already restored
	Failed   int   // files that failed (see the fail events)
	Bytes    int64 // plaintext bytes written
}

// Restore brings every file of the catalog back under opts.Dest. Each object
// is downloaded, decrypted and written to a temporary file next to its final
// name; only when the object's ETag and size (as the GetObject response
// gives them; for an object read in ranges, the ETag the server checked
// for each range and the ranges' lengths) are the catalog's, and the plaintext's size and SHA-256 (or
// MD5, for rows recorded before SHA-256 was, counted in MD5Only) match the
// catalog, is its mode and mtime set and the file renamed into place. The
// setuid, setgid and sticky bits are dropped unless opts.KeepSpecialModes;
// a row whose mode is not a regular file's is refused. All writes go
// through an os.Root, so no catalog path and no symlink in the destination
// can make Restore write outside it. A file already present with the
// catalog's size and mtime was restored and verified by an earlier run and
// is skipped, so an interrupted restore continues. A wrong identity stops
// the whole run.
func Restore(ctx context.Context, db *catalog.DB, store Bucket, opts RestoreOptions) (RestoreSummary, error) {
	var sum RestoreSummary
	if opts.Jobs <= 0 {
		opts.Jobs = DefaultRestoreJobs
	}
	r := &reporter{fn: opts.Report}
	if err := os.MkdirAll(opts.Dest, 0o755); err != nil {
		return sum, fmt.Errorf("restore: %w", err)
	}
	root, err := os.OpenRoot(opts.Dest)
	if err != nil {
		return sum, fmt.Errorf("restore: %w", err)
	}
	defer root.Close()
	var rows []catalog.File
	err = db.Files(func(f catalog.File) error {
		if opts.Match == nil || opts.Match(f.Path) {
			rows = append(rows, f)
		}
		return nil
	})
	if err != nil {
		return sum, fmt.Errorf("restore: read catalog: %w", err)
	}
	sum.Files = len(rows)
	sweepPartials(root, rows, r)
	var total int64
	for _, f := range rows {
		total += f.Size
	}
	r.report(Event{Kind: EventScan, Count: len(rows), Size: total})
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var mu gosync.Mutex // guards sum
	objects := newFetcher(store)
	forEach(ctx, opts.Jobs, rows, func(f catalog.File) {
		n, skipped, err := restoreFile(ctx, root, objects, f, &opts, r)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil && skipped:
			sum.Skipped++
			r.report(Event{Kind: EventSkip, Path: f.Path, Reason: "restored", Size: f.Size})
		case err == nil:
			sum.Restored++
			sum.Bytes += n
			done := Event{Kind: EventDone, Path: f.Path, Size: f.Size, Bytes: n}
			if !f.HasSHA256 {
				sum.MD5Only++
				done.Reason = ReasonMD5Only
			}
			r.report(done)
		case errors.Is(err, cipher.ErrWrongIdentity):
			cancel(fmt.Errorf("restore %s: %w", f.Path, err))
		case ctx.Err() == nil:
			sum.Failed++
			r.report(Event{Kind: EventFail, Path: f.Path, Reason: failReason(err), Size: f.Size, Err: err})
		}
	})
	return sum, context.Cause(ctx)
}

// failReason is the Reason of a restore's fail event: "verify" when the
// object or its content is not what the catalog recorded, "mode" for a row
// that is not a regular file, else empty.
func failReason(err error) string {
	switch {
	case errors.Is(err, ErrObjectChanged), errors.Is(err, ErrMismatch):
		return "verify"
	case errors.Is(err, ErrNotRegular):
		return "mode"
	}
	return ""
}

// CheckPath returns an error wrapping ErrUnsafePath unless rel is a clean,
// relative, slash-separated path with no "." or ".." element.
func CheckPath(rel string) error {
	if rel == "" || strings.HasPrefix(rel, "/") || strings.ContainsRune(rel, 0) || strings.ContainsRune(rel, '\\') && os.PathSeparator == '\\' {
		return fmt.Errorf("%w %q", ErrUnsafePath, rel)
	}
	for _, elem := range strings.Split(rel, "/") {
		if elem == "" || elem == "." || elem == ".." {
			return fmt.Errorf("%w %q", ErrUnsafePath, rel)
		}
	}
	return nil
}

// restoreFile restores one catalog row under root. Its folder is opened
// once, as a Root of its own, and every step on the file (the check for a
// file already restored, the temporary file, its mtime and the rename) is
// done by name in it, rather than resolving the whole path for each.
func restoreFile(ctx context.Context, root *os.Root, objects *fetcher, f catalog.File, opts *RestoreOptions, r *reporter) (int64, bool, error) {
	if err := CheckPath(f.Path); err != nil {
		return 0, false, err
	}
	if err := checkMode(f); err != nil {
		return 0, false, err
	}
	dir, name := root, f.Path
	if d := path.Dir(f.Path); d != "." {
		sub, err := root.OpenRoot(d)
		if errors.Is(err, fs.ErrNotExist) {
			if err = root.MkdirAll(d, 0o755); err == nil {
				sub, err = root.OpenRoot(d)
			}
		}
		if err != nil {
			return 0, false, err
		}
		defer sub.Close()
		dir, name = sub, path.Base(f.Path)
	}
	if fi, err := dir.Lstat(name); err == nil && fi.Mode().IsRegular() &&
		fi.Size() == f.Size && fi.ModTime().UnixNano() == f.ModTime {
		return 0, true, nil
	}
	r.report(Event{Kind: EventStart, Path: f.Path, Size: f.Size})
	for attempt := 1; ; attempt++ {
		n, err := restoreOnce(ctx, dir, name, objects, f, opts, r)
		if err == nil || !errors.Is(err, ErrTransfer) || attempt == downloadAttempts || ctx.Err() != nil {
			return n, false, err
		}
	}
}

// downloadAttempts is how many times a download whose body broke off is
// tried; the SDK's retries end when the response headers arrive.
const downloadAttempts = 3

// restoreOnce downloads f into a new temporary file in dir and renames it
// to name, or removes it.
func restoreOnce(ctx context.Context, dir *os.Root, name string, objects *fetcher, f catalog.File, opts *RestoreOptions, r *reporter) (int64, error) {
	tmp, err := tempName(name)
	if err != nil {
		return 0, err
	}
	out, err := dir.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := download(ctx, objects, f, opts.Identities, &progressWriter{w: out, path: f.Path, report: r})
	if err == nil {
		err = out.Chmod(restoredMode(f, opts.KeepSpecialModes)) // by descriptor: no path to resolve again
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = finish(dir, tmp, name, f)
	}
	if err != nil {
		_ = dir.Remove(tmp)
		return 0, err
	}
	return n, nil
}

// progressWriter reports the bytes written through it as progress events,
// one per write (io.Copy writes 32 KiB at a time).
type progressWriter struct {
	w      io.Writer
	path   string
	report *reporter
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.report.report(Event{Kind: EventProgress, Path: p.path, Bytes: int64(n)})
	return n, err
}

// tempName is a fresh name next to rel for the file being written.
func tempName(rel string) (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return path.Join(path.Dir(rel), partialPrefix+hex.EncodeToString(b[:])), nil
}

// download writes the decrypted object of f to out after checking that the
// object read is the one f records, and checks the plaintext against f.
// The object read is the version f points to when the catalog knows one
// and the store keeps versions (so a file overwritten or deleted since, by
// a later sync or by someone else, still restores as recorded), else the
// current object.
func download(ctx context.Context, objects *fetcher, f catalog.File, ids []age.Identity, out io.Writer) (int64, error) {
	recorded := Object{Key: f.ObjectKey, ETag: f.ETag, Size: f.CipherSize, VersionID: f.VersionID}
	body, obj, err := objects.open(ctx, recorded)
	if errors.Is(err, ErrInvalidObjectState) {
		return 0, fmt.Errorf("%w: restore it from its archive storage class first (S3 RestoreObject), then run restore again", err)
	}
	if err != nil {
		return 0, err
	}
	defer body.Close()
	if err := checkObject(f, obj); err != nil {
		return 0, err
	}
	plain, err := body.decrypt(ids...)
	if err != nil {
		return 0, causeOf(body, err)
	}
	h := newVerifyHash(f)
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	n, err := io.CopyBuffer(io.MultiWriter(out, h), plain, *buf)
	if err != nil {
		return n, causeOf(body, fmt.Errorf("decrypt %s: %w", f.ObjectKey, err))
	}
	return n, checkContent(f, n, h.sums())
}

// copyBuffers hold the buffers download copies plaintext through: one
// per file in flight, instead of io.Copy's new 32 KiB per file, which a
// restore of many small files would otherwise spend its time collecting.
var copyBuffers = gosync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// causeOf returns why body did not arrive whole if it did not, else err: a
// failure to decrypt a body that did not arrive whole is that failure.
func causeOf(body objectBody, err error) error {
	if ferr := body.failed(); err != nil && ferr != nil {
		return ferr
	}
	return err
}

// checkObject returns an error wrapping ErrObjectChanged unless obj, as the
// GetObject response describes it, has the ETag and size f records. A
// response without an ETag is refused too: the ETag is what tells the
// object's version from another, and a row without SHA-256 has only MD5
// to tell content apart.
func checkObject(f catalog.File, obj Object) error {
	if obj.Size != f.CipherSize || obj.ETag != f.ETag {
		return fmt.Errorf("%w: object %s has ETag %s and %d bytes, the catalog recorded ETag %s and %d bytes",
			ErrObjectChanged, f.ObjectKey, obj.ETag, obj.Size, f.ETag, f.CipherSize)
	}
	return nil
}

// checkContent returns an error wrapping ErrMismatch unless a plaintext of
// size bytes with hashes sums is the one f records (see contentDiff).
func checkContent(f catalog.File, size int64, sums plainSums) error {
	if diff := contentDiff(f, size, sums); diff != "" {
		return fmt.Errorf("%w: object %s: %s", ErrMismatch, f.ObjectKey, diff)
	}
	return nil
}

// contentDiff says how a plaintext of size bytes with hashes sums differs
// from the one f records, or "" when it is that one: same size and
// SHA-256, or same MD5 when f has no SHA-256.
func contentDiff(f catalog.File, size int64, sums plainSums) string {
	switch {
	case size != f.Size:
		return fmt.Sprintf("the plaintext has %s, the catalog says %s", plural(size, "byte"), plural(f.Size, "byte"))
	case f.HasSHA256 && sums.sha256 != f.PlainSHA256:
		return "the plaintext's SHA-256 is not the catalog's"
	case !f.HasSHA256 && sums.md5 != f.PlainMD5:
		return "the plaintext's MD5 is not the catalog's"
	}
	return ""
}

// specialModes are the mode bits besides the permissions that a catalog
// row may carry.
const specialModes = fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

// checkMode returns an error wrapping ErrNotRegular unless f's mode is a
// regular file's: permissions and the special bits, nothing else. Restore
// never makes a symlink, a device or a pipe from a catalog row.
func checkMode(f catalog.File) error {
	mode := fs.FileMode(f.Mode)
	if mode&^(fs.ModePerm|specialModes) != 0 {
		return fmt.Errorf("%w: the catalog gives %q mode %v (%#o); refusing to create it", ErrNotRegular, f.Path, mode, f.Mode)
	}
	return nil
}

// restoredMode is the mode f is restored with: its permissions, and its
// special bits (setuid, setgid, sticky) only when keepSpecial.
func restoredMode(f catalog.File, keepSpecial bool) fs.FileMode {
	mode := fs.FileMode(f.Mode) & fs.ModePerm
	if keepSpecial {
		mode |= fs.FileMode(f.Mode) & specialModes
	}
	return mode
}

// finish gives the verified temporary file tmp in dir, already given its
// mode, f's mtime and renames it to name.
func finish(dir *os.Root, tmp, name string, f catalog.File) error {
	mtime := time.Unix(0, f.ModTime)
	if err := dir.Chtimes(tmp, mtime, mtime); err != nil {
		return err
	}
	return dir.Rename(tmp, name)
}
