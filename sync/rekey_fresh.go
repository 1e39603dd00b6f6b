package sync

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/s3seal/s3seal/catalog"
	"github.com/s3seal/s3seal/cipher"
)

// reencrypt replaces obj, the object of row, by a new age encryption of its
// plaintext to o.Recipients under a fresh file key and nonce: the real
// revocation, since nothing of the old object, its file key included, is
// in the new one. The old object is downloaded and decrypted as a stream,
// encrypted again and sent through the uploader sync uses (one Put up to a
// part, else transfer's multipart loop), so memory stays a few part
// buffers whatever the object's size.
//
// The plaintext must prove to be the row's (its size, MD5 and, where the
// row has one, SHA-256) before the object is replaced: the check runs as
// the last part is read, before it is sent, and a mismatch aborts the
// upload and leaves the old object. The header of the new envelope is
// recorded first, so a run killed after the replacement recognises the
// object as done; one killed before aborts the open upload and starts over
// under another envelope.
func reencrypt(ctx context.Context, db *catalog.DB, b Bucket, o *RekeyOptions, row catalog.File, obj Object, sum *RekeySummary) error {
	if err := checkVerifiable(row); err != nil {
		return err
	}
	env, err := cipher.NewEnvelope(o.Recipients...)
	if err != nil {
		return err
	}
	if err := db.SetSetting(rekeyPrefix+obj.Key, []byte(rekeyMark(o.markKeys(), env.Header))); err != nil {
		return err
	}
	sum.Requests++
	body, got, err := b.Get(ctx, obj.Key)
	if err != nil {
		return err
	}
	defer body.Close()
	if err := checkObject(row, got); err != nil {
		return err
	}
	whole := &wholeBody{r: body, key: obj.Key, size: got.Size}
	defer func() { sum.Read += whole.read }()
	plain, err := cipher.Decrypt(whole, o.Identities...)
	if err != nil {
		return whole.cause(fmt.Errorf("%s: %w", obj.Key, err))
	}
	stream := &streamReaderAt{r: plain, hash: newPlainHash()}
	ct := cipher.NewCiphertext(env, stream, row.Size)
	err = putVerified(ctx, db, b, o.PartSize, obj.Key, ct, func() error { return stream.check(row) }, sum)
	if errors.Is(err, ErrChanged) {
		// The uploader's word for a plaintext that ended before the size
		// it was given or went on past it; here that is the object's.
		err = fmt.Errorf("%w: object %s: the plaintext is not the catalog's %s", ErrMismatch, obj.Key, plural(row.Size, "byte"))
	}
	return whole.cause(err)
}

// putVerified uploads ct as key, calling verify once all of it has been
// read and before its last bytes are sent; an error from verify ends the
// upload and the object at key stays as it was.
func putVerified(ctx context.Context, db *catalog.DB, b Bucket, partSize int64, key string, ct *cipher.Ciphertext, verify func() error, sum *RekeySummary) error {
	size := ct.Size()
	partSize = partSizeFor(size, partSize)
	u := &uploader{store: b, buffers: newBufferPool(2, partSize), partSize: partSize}
	if size <= partSize {
		buf, err := u.buffers.getFor(ctx, size)
		if err != nil {
			return err
		}
		defer u.buffers.put(buf)
		if err := readFull(ct, buf[:size], 0); err != nil {
			return err
		}
		if err := verify(); err != nil {
			return err
		}
		sum.Requests++
		sum.Sent += size
		_, err = b.Put(ctx, key, buf[:size], PutOptions{})
		return err
	}
	last := int32((size + partSize - 1) / partSize)
	check := func(number int32, _ []byte, _ [sha256.Size]byte) (*Part, error) {
		if number == last {
			return nil, verify()
		}
		return nil, nil
	}
	return inUpload(ctx, db, b, key, sum, func(uploadID string) error {
		up := &catalog.Upload{ObjectKey: key, UploadID: uploadID, PartSize: partSize}
		parts, err := u.transfer(ctx, up, ct, size, "", check)
		if err != nil {
			return err
		}
		sum.Requests += len(parts) + 1
		sum.Sent += size
		_, err = u.complete(ctx, up, parts)
		return err
	})
}

// planReencrypt adds to sum what reencrypt would move for obj: the whole
// object down, and about as much up (the same plaintext under a header of
// about the same length). A row whose plaintext cannot be verified fails
// in the plan as it would in the run.
func planReencrypt(row catalog.File, obj Object, sum *RekeySummary) error {
	if err := checkVerifiable(row); err != nil {
		return err
	}
	sum.Read += obj.Size
	sum.Sent += obj.Size
	return nil
}

// checkVerifiable fails for a row that records no hash of its plaintext:
// its object's content could not be told from another's, and reencrypt
// would seal whatever the object holds under a new key as if it were the
// file's.
func checkVerifiable(row catalog.File) error {
	if !row.HasSHA256 && row.PlainMD5 == [16]byte{} {
		return fmt.Errorf("%s: the catalog records no hash of its plaintext to verify it by; sync it again with --checksum first", row.Path)
	}
	return nil
}

// streamReaderAt serves the reads cipher.Ciphertext makes of a plaintext
// from a stream read once, in order: each read starts where the one before
// ended, or repeats (part of) it, as when a part boundary cuts an age
// chunk and the chunk is encrypted again for the next part. It hashes the
// stream as it goes. It is not safe for concurrent use; transfer reads in
// one goroutine.
type streamReaderAt struct {
	r      io.Reader
	hash   *plainHash
	next   int64  // the offset of the byte r gives next
	window []byte // the bytes of the last read from r, which end at next
	err    error  // what r returned last, once it is not nil (io.EOF at the end)
}

func (s *streamReaderAt) ReadAt(p []byte, off int64) (int, error) {
	start := s.next - int64(len(s.window))
	if off < start || off > s.next {
		return 0, fmt.Errorf("read the decrypted stream at %d: it is at %d", off, s.next)
	}
	n := copy(p, s.window[off-start:])
	if n == len(p) {
		return n, nil
	}
	if s.err != nil {
		return n, s.err
	}
	m, err := io.ReadFull(s.r, p[n:])
	s.hash.Write(p[n : n+m])
	s.next += int64(m)
	s.window = append(s.window[:0], p[:n+m]...)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.EOF
	}
	s.err = err
	return n + m, err
}

// check returns an error unless the stream has ended, authenticated, after
// the plaintext row records: its size, its MD5 and, where the row has one,
// its SHA-256.
func (s *streamReaderAt) check(row catalog.File) error {
	if s.err != io.EOF {
		return fmt.Errorf("%w: object %s: the plaintext goes on past the catalog's %s", ErrMismatch, row.ObjectKey, plural(row.Size, "byte"))
	}
	sums := s.hash.sums()
	if diff := contentDiff(row, s.next, sums); diff != "" {
		return fmt.Errorf("%w: object %s: %s", ErrMismatch, row.ObjectKey, diff)
	}
	if sums.md5 != row.PlainMD5 {
		return fmt.Errorf("%w: object %s: the plaintext's MD5 is not the catalog's", ErrMismatch, row.ObjectKey)
	}
	return nil
}
