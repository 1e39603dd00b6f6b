package sync

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"filippo.io/age"
	"golang.org/x/sync/errgroup"

	"github.com/s3seal/s3seal/catalog"
	"github.com/s3seal/s3seal/cipher"
)

// ErrChanged is wrapped by upload errors when the source file changed while
// it was read. Nothing is recorded for it; the next run picks it up.
var ErrChanged = errors.New("file changed while it was read")

const (
	// DefaultPartSize is the ciphertext size of one multipart part, and the
	// largest object sent in a single PutObject.
	DefaultPartSize = 16 << 20
	minPartSize     = 5 << 20
	maxParts        = 10000
	partAttempts    = 3
)

// partSizeFor returns the part size for an object of ciphertext size
// ctSize: the requested size, raised in whole MiB so that no upload has more
// than 10,000 parts.
func partSizeFor(ctSize, want int64) int64 {
	if want < minPartSize {
		want = minPartSize
	}
	if need := (ctSize + maxParts - 1) / maxParts; need > want {
		want = (need + 1<<20 - 1) &^ (1<<20 - 1)
	}
	return want
}

// uploaded is what the catalog records of a finished upload.
type uploaded struct {
	etag       string
	version    string // the VersionId, on a versioned bucket
	plain      plainSums
	cipherSize int64
	multipart  bool
	// begun says the upload began in this run, so the version has this
	// run's retention (putOpts.Retention); a resumed one has its own.
	begun bool
}

// uploader encrypts source files and sends them to the store.
type uploader struct {
	store      Bucket
	db         *catalog.DB
	recipients []age.Recipient
	buffers    *bufferPool
	partSize   int64
	putOpts    PutOptions
	report     *reporter
	// inFlight holds the paths that had an in-flight upload in the catalog
	// when the run began; only those can resume, so only those cost a
	// catalog lookup. Read-only once the workers start.
	inFlight map[string]bool
	// optional knows whether the server lacks ListParts; only uploads that
	// resume need it.
	optional *optional
	// etags tells when the server lists other ETags than it answered;
	// nil says nothing.
	etags *etagNotice
	// multipart, when not nil, holds a slot for each multipart file in
	// flight: many small files go at once, but large ones share the part
	// buffers and only as many as before are begun at a time.
	multipart chan struct{}
}

// uploadFile uploads the source file rel (expected to have stat base) as
// key. A file whose ciphertext fits in one part goes up in one PutObject;
// a larger one as a multipart upload that resumes the catalog's in-flight
// upload for rel when there is one.
func (u *uploader) uploadFile(ctx context.Context, root string, base Entry, key string) (uploaded, error) {
	f, err := os.Open(filepath.Join(root, filepath.FromSlash(base.Path)))
	if err != nil {
		return uploaded{}, err
	}
	defer f.Close()
	if u.inFlight[base.Path] {
		if up, ok, err := u.db.Upload(base.Path); err != nil {
			return uploaded{}, err
		} else if ok {
			return u.uploadLarge(ctx, root, f, base, key, &up)
		}
	}
	env, err := cipher.NewEnvelope(u.recipients...)
	if err != nil {
		return uploaded{}, err
	}
	if env.CiphertextSize(base.Size) > u.partSize {
		return u.uploadLarge(ctx, root, f, base, key, nil)
	}
	return u.putSmall(ctx, root, f, base, key, env)
}

// uploadLarge is uploadMultipart once a multipart slot is free.
func (u *uploader) uploadLarge(ctx context.Context, root string, f *os.File, base Entry, key string, up *catalog.Upload) (uploaded, error) {
	if u.multipart != nil {
		select {
		case u.multipart <- struct{}{}:
			defer func() { <-u.multipart }()
		case <-ctx.Done():
			return uploaded{}, ctx.Err()
		}
	}
	return u.uploadMultipart(ctx, root, f, base, key, up)
}

// putSmall encrypts a file into one buffer and sends it with PutObject.
func (u *uploader) putSmall(ctx context.Context, root string, f *os.File, base Entry, key string, env *cipher.Envelope) (uploaded, error) {
	plain := newHashingReaderAt(f)
	ct := cipher.NewCiphertext(env, plain, base.Size)
	buf, err := u.buffers.getFor(ctx, ct.Size())
	if err != nil {
		return uploaded{}, err
	}
	defer u.buffers.put(buf)
	body := buf[:ct.Size()]
	if err := readFull(ct, body, 0); err != nil {
		return uploaded{}, err
	}
	sum, err := u.checkRead(root, base, plain)
	if err != nil {
		return uploaded{}, err
	}
	obj, err := u.store.Put(ctx, key, body, u.putOpts)
	if err != nil {
		return uploaded{}, err
	}
	u.report.report(Event{Kind: EventProgress, Path: base.Path, Bytes: int64(len(body))})
	return uploaded{etag: obj.ETag, version: obj.VersionID, plain: sum, cipherSize: int64(len(body)), begun: true}, nil
}

// readFull fills p from r at off.
func readFull(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if errors.Is(err, cipher.ErrPlaintextChanged) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %v", ErrChanged, err)
	}
	return err
}

// checkRead returns the hashes of what was read, after checking that all
// of the file was read and that its stat is still base.
func (u *uploader) checkRead(root string, base Entry, plain *hashingReaderAt) (plainSums, error) {
	sum, ok := plain.sum(base.Size)
	if !ok {
		return sum, fmt.Errorf("%w: read %d of %d bytes", ErrChanged, plain.next, base.Size)
	}
	now, err := statEntry(root, base.Path)
	if err != nil {
		return sum, fmt.Errorf("%w: %v", ErrChanged, err)
	}
	if !now.sameStat(base) {
		return sum, ErrChanged
	}
	return sum, nil
}

// uploadMultipart sends a file as a multipart upload. If up is the
// catalog's in-flight upload for the file and still matches it, the parts
// the server already has are checked against regenerated ones and not sent
// again; on any mismatch the upload is aborted and started over with a new
// file key and nonce.
func (u *uploader) uploadMultipart(ctx context.Context, root string, f *os.File, base Entry, key string, up *catalog.Upload) (uploaded, error) {
	for attempt := 0; ; attempt++ {
		var have []Part
		gone := false
		if up != nil {
			var err error
			have, gone, err = u.resumable(ctx, base, key, up)
			if errors.Is(err, errRestart) {
				if err := u.restart(ctx, base.Path, up, err); err != nil {
					return uploaded{}, err
				}
				up = nil
			} else if err != nil {
				return uploaded{}, err
			} else if !gone {
				u.report.report(Event{Kind: EventInfo, Path: base.Path, Reason: "resumed", Bytes: partsSize(have)})
			}
		}
		begun := up == nil
		if begun {
			var err error
			if up, err = u.begin(ctx, base, key); err != nil {
				return uploaded{}, err
			}
		}
		res, err := u.sendParts(ctx, root, f, base, up, have, gone)
		res.begun = begun
		if errors.Is(err, errRestart) && attempt == 0 {
			if err := u.restart(ctx, base.Path, up, err); err != nil {
				return uploaded{}, err
			}
			up = nil
			continue
		}
		if errors.Is(err, ErrChanged) {
			if derr := u.discard(ctx, up); derr != nil {
				return uploaded{}, errors.Join(err, derr)
			}
		}
		return res, err
	}
}

// errRestart says an in-flight upload cannot be continued safely.
var errRestart = errors.New("the upload cannot go on safely under its key")

// errPartsUnknown is the errRestart of a server that lacks ListParts: what
// it holds of an upload cannot be checked, so the upload starts over.
var errPartsUnknown = fmt.Errorf("%w: the server lacks ListParts, so the parts it holds cannot be checked", errRestart)

// restart reports why the in-flight upload up of path cannot go on, then
// aborts and forgets it. On a server that lacks ListParts the abort is best
// effort: were its failure to fail the file, the file would fail on every
// run; an upload left behind is only parts for the orphan sweep or a
// lifecycle rule, and the file goes on under a new envelope either way.
func (u *uploader) restart(ctx context.Context, path string, up *catalog.Upload, why error) error {
	if !errors.Is(why, errPartsUnknown) {
		u.report.report(Event{Kind: EventInfo, Path: path, Reason: "restarted", Err: why})
		return u.discard(ctx, up)
	}
	if err := u.store.AbortMultipart(context.WithoutCancel(ctx), up.ObjectKey, up.UploadID); err != nil {
		why = fmt.Errorf("%w; upload %s could not be aborted and stays on the server: %v", why, up.UploadID, err)
	}
	u.report.report(Event{Kind: EventInfo, Path: path, Reason: "restarted", Err: why})
	return u.db.DeleteUpload(up.Path)
}

// resumable checks the in-flight upload up against the file. It returns the
// parts the server has, or gone when the server no longer knows the upload
// (expired, or completed by a run whose response was lost). It returns
// errRestart when the file or its key changed since the upload began (the
// same file key and nonce must never encrypt other plaintext), and
// errPartsUnknown when the server lacks ListParts.
func (u *uploader) resumable(ctx context.Context, base Entry, key string, up *catalog.Upload) ([]Part, bool, error) {
	began := Entry{Size: up.Size, ModTime: up.ModTime, ChangeTime: up.ChangeTime, Inode: up.Inode}
	if up.ObjectKey != key || !began.sameStat(base) {
		return nil, false, errRestart
	}
	if !up.PartsRecorded {
		return nil, false, fmt.Errorf("%w: begun by an older s3seal, which kept no record of the parts it sent", errRestart)
	}
	if u.optional.lacks(OpListParts) {
		return nil, false, errPartsUnknown
	}
	parts, err := u.store.ListParts(ctx, key, up.UploadID)
	if errors.Is(err, ErrNotImplemented) {
		if err := u.optional.learn(OpListParts, err); err != nil {
			return nil, false, err
		}
		return nil, false, errPartsUnknown
	}
	if !errors.Is(err, ErrNoSuchUpload) {
		return parts, false, err
	}
	// Expired, or completed by a run whose response was lost. Only in the
	// second case is there an object, and only then is it worth reading the
	// whole file again to learn the ETag it should have.
	if _, err := u.store.Head(ctx, key); errors.Is(err, ErrNotFound) {
		return nil, false, fmt.Errorf("%w: upload %s expired", errRestart, up.UploadID)
	} else if err != nil {
		return nil, false, err
	}
	return nil, true, nil
}

// begin starts a new multipart upload and records it in the catalog before
// any part is sent, so that a crash leaves an upload the next run can find.
func (u *uploader) begin(ctx context.Context, base Entry, key string) (*catalog.Upload, error) {
	env, err := cipher.NewEnvelope(u.recipients...)
	if err != nil {
		return nil, err
	}
	id, err := u.store.CreateMultipart(ctx, key, u.putOpts)
	if err != nil {
		return nil, err
	}
	up := &catalog.Upload{
		Path: base.Path, ObjectKey: key, UploadID: id,
		PartSize: partSizeFor(env.CiphertextSize(base.Size), u.partSize),
		FileKey:  env.FileKey, Nonce: env.Nonce, Header: env.Header,
		Size: base.Size, ModTime: base.ModTime, ChangeTime: base.ChangeTime, Inode: base.Inode,
		StartedAt: time.Now().Unix(), PartsRecorded: true,
	}
	if err := u.db.PutUpload(*up); err != nil {
		_ = u.store.AbortMultipart(context.WithoutCancel(ctx), key, id)
		return nil, err
	}
	return up, nil
}

// discard aborts an in-flight upload and forgets it.
func (u *uploader) discard(ctx context.Context, up *catalog.Upload) error {
	if err := u.store.AbortMultipart(context.WithoutCancel(ctx), up.ObjectKey, up.UploadID); err != nil {
		return err
	}
	return u.db.DeleteUpload(up.Path)
}

func partsSize(parts []Part) int64 {
	var n int64
	for _, p := range parts {
		n += p.Size
	}
	return n
}

// sendParts regenerates every part of the upload in order, hashing the
// plaintext as it goes, sends the parts the server lacks (several at once,
// each in a pooled buffer) and completes the upload. With gone, nothing is
// sent: the parts are only regenerated to learn their MD5s, which predict
// the ETag of the object a lost CompleteMultipartUpload would have made,
// and a HEAD tells whether it did. That is the only case in which the
// ciphertext is MD5-hashed: otherwise the server checks each part against
// the SHA-256 it is signed with, the one recorded here.
//
// One envelope must never carry two plaintexts, not even in a part the
// server saw only the start of. So a part's SHA-256 is recorded in the
// catalog before its first byte is sent, and every part regenerated under
// the envelope later (to resend it, or to check one the server lists) must
// hash the same; a part that does not, or that the server lists but the
// catalog never recorded, ends the upload with errRestart before anything
// more is sent, and it starts over under a new envelope. The ciphertext is
// hashed: under one key and nonce, equal ciphertext at a position means
// equal plaintext there, and it is exactly what went on the wire.
func (u *uploader) sendParts(ctx context.Context, root string, f *os.File, base Entry, up *catalog.Upload, have []Part, gone bool) (uploaded, error) {
	env := &cipher.Envelope{FileKey: up.FileKey, Nonce: up.Nonce, Header: up.Header}
	plain := newHashingReaderAt(f)
	ct := cipher.NewCiphertext(env, plain, base.Size)
	onServer := make(map[int32]Part, len(have))
	for _, p := range have {
		onServer[p.Number] = p
	}
	recorded, err := u.db.UploadParts(up.Path)
	if err != nil {
		return uploaded{}, err
	}
	var partMD5s [][md5.Size]byte // with gone only
	check := func(number int32, body []byte, sum [sha256.Size]byte) (*Part, error) {
		p, listed := onServer[number]
		if err := checkPart(recorded, number, sum, listed, gone); err != nil {
			return nil, err
		}
		if listed {
			if p.Size != int64(len(body)) {
				return nil, fmt.Errorf("%w: the server lists part %d with %d bytes, not %d", errRestart, number, p.Size, len(body))
			}
			return &p, nil // completed with the ETag the server gave it
		}
		if gone {
			partMD5s = append(partMD5s, md5.Sum(body))
			return &Part{Number: number, Size: int64(len(body))}, nil
		}
		if _, ok := recorded[number]; !ok {
			return nil, u.db.PutUploadPart(up.Path, number, sum)
		}
		return nil, nil
	}
	parts, err := u.transfer(ctx, up, ct, ct.Size(), base.Path, check)
	if err != nil {
		return uploaded{}, err
	}
	sum, err := u.checkRead(root, base, plain)
	if err != nil {
		return uploaded{}, err
	}
	var obj Object
	if gone {
		obj, err = u.settle(ctx, up, parts, MultipartETag(partMD5s))
	} else {
		obj, err = u.complete(ctx, up, parts)
	}
	if errors.Is(err, errAnswerLost) {
		// The retried Complete found the upload gone: the first one may
		// have made the object. Regenerate the parts to tell, sending
		// nothing.
		return u.sendParts(ctx, root, f, base, up, nil, true)
	}
	if err != nil {
		return uploaded{}, err
	}
	return uploaded{etag: obj.ETag, version: obj.VersionID, plain: sum, cipherSize: ct.Size(), multipart: true}, nil
}

// checkPart returns errRestart when the regenerated part number (whose
// ciphertext hashes to sum) may not go on, or stand on the server, under
// the upload's envelope: its hash differs from the one recorded before it
// was first sent, or the server lists it (listed) though the catalog never
// recorded it as sent. With gone (the server no longer knows the upload,
// and an object stands at its key) every part must have been sent for that
// object to be the upload's.
//
// A listed part that was recorded is the regenerated one: every send of it
// under this envelope carried the recorded bytes, signed with their
// SHA-256, which the server checked before it kept the part. Its ETag is
// the server's token, used as is to complete the upload.
func checkPart(recorded map[int32][sha256.Size]byte, number int32, sum [sha256.Size]byte, listed, gone bool) error {
	want, wasSent := recorded[number]
	switch {
	case wasSent && want != sum:
		return fmt.Errorf("%w: part %d changed since it was sent", errRestart, number)
	case listed && !wasSent:
		return fmt.Errorf("%w: the server lists part %d, which this upload never sent", errRestart, number)
	case gone && !wasSent:
		return fmt.Errorf("%w: the upload is gone, and part %d was never sent, so the object at its key is another", errRestart, number)
	}
	return nil
}

// partCheck is called with each part of a transfer and its SHA-256, in
// order, before it is sent. It returns the part when the server already
// holds it (it is not sent), or an error that ends the transfer before
// anything more is sent.
type partCheck func(number int32, body []byte, sum [sha256.Size]byte) (held *Part, err error)

// transfer is the one multipart uploader, for files and the catalog mirror
// alike: it reads the parts of r (size bytes, up.PartSize each) in order
// into pooled buffers and sends those check does not hold, several at once,
// reporting progress for path. Each part's SHA-256 is computed once, here:
// check records it, and the store signs the part with it. It returns every
// part, in order.
func (u *uploader) transfer(ctx context.Context, up *catalog.Upload, r io.ReaderAt, size int64, path string, check partCheck) ([]Part, error) {
	n := int((size + up.PartSize - 1) / up.PartSize)
	parts := make([]Part, n)
	g, gctx := errgroup.WithContext(ctx)
	var stop error
	for i := range n {
		buf, err := u.buffers.get(gctx, up.PartSize)
		if err != nil {
			break // gctx is done: g.Wait or ctx says why
		}
		off := int64(i) * up.PartSize
		body := buf[:min(up.PartSize, size-off)]
		number := int32(i + 1)
		var held *Part
		var sum [sha256.Size]byte
		if stop = readFull(r, body, off); stop == nil {
			sum = sha256.Sum256(body)
			if check != nil {
				held, stop = check(number, body, sum)
			}
		}
		if stop != nil || held != nil {
			u.buffers.put(buf)
			if stop != nil {
				break
			}
			parts[i] = *held
			continue
		}
		g.Go(func() error {
			defer u.buffers.put(buf)
			p, err := u.sendPart(gctx, up, number, body, sum)
			parts[i] = p
			if err == nil {
				u.report.report(Event{Kind: EventProgress, Path: path, Bytes: p.Size})
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if stop != nil {
		return nil, stop
	}
	return parts, ctx.Err()
}

// putReader uploads size bytes of r as key, without resume (the catalog
// mirror, the passphrase key): one PutObject up to the part size, else a
// multipart upload through transfer, aborted if it fails. It returns the
// object's ETag and version.
func (u *uploader) putReader(ctx context.Context, key string, r io.ReaderAt, size int64) (obj Object, err error) {
	partSize := partSizeFor(size, u.partSize)
	if size <= partSize {
		body := make([]byte, size)
		if err := readFull(r, body, 0); err != nil {
			return Object{}, err
		}
		return u.store.Put(ctx, key, body, u.putOpts)
	}
	id, err := u.store.CreateMultipart(ctx, key, u.putOpts)
	if err != nil {
		return Object{}, err
	}
	up := &catalog.Upload{ObjectKey: key, UploadID: id, PartSize: partSize}
	parts, err := u.transfer(ctx, up, r, size, "", nil)
	if err == nil {
		obj, err = u.complete(ctx, up, parts)
	}
	if errors.Is(err, errAnswerLost) {
		var want string
		if want, err = readerETag(r, size, partSize); err == nil {
			obj, err = u.settle(ctx, up, parts, want)
		}
	}
	if err != nil {
		_ = u.store.AbortMultipart(context.WithoutCancel(ctx), key, id)
	}
	return obj, err
}

// readerETag returns the ETag S3 gives a multipart object of the size
// bytes of r in parts of partSize: the MD5 of the parts' MD5s.
func readerETag(r io.ReaderAt, size, partSize int64) (string, error) {
	var sums [][md5.Size]byte
	for off := int64(0); off < size; off += partSize {
		hash := md5.New()
		if _, err := io.Copy(hash, io.NewSectionReader(r, off, min(partSize, size-off))); err != nil {
			return "", err
		}
		sums = append(sums, [md5.Size]byte(hash.Sum(nil)))
	}
	return MultipartETag(sums), nil
}

// sendPart uploads one part, trying again a few times when the store's own
// retries gave up on a transient fault: the body is the regenerated part.
func (u *uploader) sendPart(ctx context.Context, up *catalog.Upload, number int32, body []byte, sum [sha256.Size]byte) (Part, error) {
	var err error
	for range partAttempts {
		var p Part
		p, err = u.store.UploadPart(ctx, up.ObjectKey, up.UploadID, number, body, sum)
		if err == nil {
			return p, nil
		}
		if ctx.Err() != nil || !transient(err) {
			break
		}
	}
	return Part{}, err
}

// transient reports whether err may go away if the request is sent again.
func transient(err error) bool {
	for _, e := range []error{ErrNoSuchUpload, ErrNoSuchBucket,
		ErrAccessDenied, ErrBadCredentials, context.Canceled} {
		if errors.Is(err, e) {
			return false
		}
	}
	return true
}

// errAnswerLost says that CompleteMultipartUpload found the upload gone,
// most likely because the client retried it after losing the answer to a
// first one that succeeded.
var errAnswerLost = errors.New("the upload was gone when it was completed")

// complete finishes the upload and returns the object as the server lists
// it: its ETag, as a HEAD reports it, and version. The ETag the answer
// gives is not enough: some servers answer another token than they list,
// which the notice tells once. An answer that the upload does not exist
// gives errAnswerLost.
func (u *uploader) complete(ctx context.Context, up *catalog.Upload, parts []Part) (Object, error) {
	answer, err := u.store.CompleteMultipart(ctx, up.ObjectKey, up.UploadID, parts)
	if errors.Is(err, ErrNoSuchUpload) {
		return Object{}, fmt.Errorf("complete %s: %w: %v", up.ObjectKey, errAnswerLost, err)
	}
	if err != nil {
		return Object{}, err
	}
	obj, err := u.store.Head(ctx, up.ObjectKey)
	if err != nil {
		return Object{}, fmt.Errorf("complete %s: %w", up.ObjectKey, err)
	}
	if size := partsSize(parts); obj.Size != size {
		return Object{}, fmt.Errorf("complete %s: the object has %d bytes, want %d", up.ObjectKey, obj.Size, size)
	}
	if obj.ETag != answer.ETag {
		u.etags.seen(up.Path)
	}
	answer.ETag = obj.ETag
	return answer, nil
}

// settle returns the object at the key of an upload the server no longer
// knows when it is the one the upload's parts make: it has their size and
// want, the ETag their MD5s predict (S3's MD5 of the part MD5s). Any other
// object, or none, gives errRestart. A server whose multipart ETags are not
// MD5s of MD5s cannot be settled this way, and the file is sent again.
func (u *uploader) settle(ctx context.Context, up *catalog.Upload, parts []Part, want string) (Object, error) {
	obj, err := u.store.Head(ctx, up.ObjectKey)
	if err == nil && obj.ETag == want && obj.Size == partsSize(parts) {
		return obj, nil
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Object{}, err
	}
	return Object{}, fmt.Errorf("%w: upload %s expired", errRestart, up.UploadID)
}
