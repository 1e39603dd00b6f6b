package sync

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"hash"
	"io"

	"golang.org/x/sync/semaphore"

	"github.com/s3seal/s3seal/catalog"
)

// bufferPool hands out part-sized buffers, and buffers of their own for
// small objects. Its fixed number of part buffers and its budget of small
// bytes are what bound the memory of a run: every upload body is one of
// them.
type bufferPool struct {
	free chan []byte
	size int64
	// small holds smallBytesInFlight bytes, taken by each small object's
	// buffer while it is in use.
	small *semaphore.Weighted
}

func newBufferPool(n int, size int64) *bufferPool {
	p := &bufferPool{free: make(chan []byte, n), size: size, small: semaphore.NewWeighted(smallBytesInFlight)}
	for range n {
		p.free <- nil // allocated on first use
	}
	return p
}

// get waits for a free buffer and returns it with at least size bytes.
// A part larger than the pool's (an upload begun with a larger
// --part-size, or one whose part size was raised to stay within 10,000
// parts) gets its buffer enlarged: the number of buffers still bounds
// memory, at jobs x the largest part in flight.
func (p *bufferPool) get(ctx context.Context, size int64) ([]byte, error) {
	select {
	case b := <-p.free:
		if int64(cap(b)) < max(size, p.size) {
			b = make([]byte, max(size, p.size))
		}
		return b[:cap(b)], nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// defaultJobs is a sync's Jobs when Options leave it 0.
const defaultJobs = 4

// PooledMemory is the most a sync with opts keeps in its buffer pools: the
// part buffers, the small objects' budget and the two parts of the mirror's
// upload. What else a run allocates is short-lived, per request or per
// batch.
func PooledMemory(opts Options) int64 {
	jobs := opts.Jobs
	if jobs <= 0 {
		jobs = defaultJobs
	}
	return int64(jobs)*partSizeFor(0, opts.PartSize) + smallBytesInFlight + 2*DefaultPartSize
}

// RestorePooledMemory is the most a restore or deep audit keeps in its pool
// of range buffers, whatever its number of files in flight.
const RestorePooledMemory = downloadMemory

// smallObjectMax is the largest object that does not take one of the
// pool's part buffers: its body is allocated for it alone, within the
// budget of smallBytesInFlight, so many small files can be in flight at
// once while the part buffers stay jobs x part size.
const smallObjectMax = 1 << 20

// smallBytesInFlight bounds the bodies of small objects in memory at once,
// whatever the number of files in flight: 16 objects of smallObjectMax, or
// thousands of a few KiB.
const smallBytesInFlight = 16 << 20

// DefaultFilesInFlight is the number of files in flight by default
// (Options.FilesInFlight). Uploading a small file is one request whose time
// is mostly the round trip: at 20 ms, 64 in flight allow some 3,000 files
// per second, where S3 takes thousands of PUTs per second per prefix.
const DefaultFilesInFlight = 64

// multipartPerJob is how many multipart files are in flight per --jobs:
// their parts share the jobs part buffers, so more files than that only
// leave more uploads half done.
const multipartPerJob = 4

// filesInFlight returns the number of upload workers: small files in
// flight, and never fewer than the multipart files jobs allows.
func filesInFlight(small, jobs int) int { return max(small, jobs*multipartPerJob) }

// getFor returns a buffer of at least size bytes: a pooled part buffer, or
// a buffer of its own for an object of at most smallObjectMax bytes, once
// the budget of small bytes has room for it.
func (p *bufferPool) getFor(ctx context.Context, size int64) ([]byte, error) {
	if size <= smallObjectMax && size < p.size {
		if err := p.small.Acquire(ctx, size); err != nil {
			return nil, err
		}
		return make([]byte, size), nil
	}
	return p.get(ctx, size)
}

// put gives back a buffer from get or getFor; a buffer of getFor's own
// gives its bytes back to the small budget and is left to the garbage
// collector.
func (p *bufferPool) put(b []byte) {
	if int64(cap(b)) < p.size {
		p.small.Release(int64(cap(b)))
		return
	}
	p.free <- b
}

// plainSums are the hashes of a plaintext that the catalog records: MD5 for
// the change map, SHA-256 for restore to verify.
type plainSums struct {
	md5    [16]byte
	sha256 [32]byte
}

// plainHash computes plainSums in one pass over the bytes written to it.
// A verifying hash (newVerifyHash) computes only one of them, and leaves
// the other zero.
type plainHash struct{ md5, sha256 hash.Hash }

func newPlainHash() *plainHash { return &plainHash{md5: md5.New(), sha256: sha256.New()} }

// newVerifyHash returns the hash that contentDiff compares with f: its
// SHA-256 when the row has one, which alone tells contents apart (MD5 does
// not: collisions can be made), else its MD5. Restore and deep audit hash
// every byte they read; one hash costs them about half as much CPU as two.
func newVerifyHash(f catalog.File) *plainHash {
	if f.HasSHA256 {
		return &plainHash{sha256: sha256.New()}
	}
	return &plainHash{md5: md5.New()}
}

func (h *plainHash) Write(p []byte) (int, error) {
	if h.md5 != nil {
		h.md5.Write(p)
	}
	if h.sha256 != nil {
		h.sha256.Write(p)
	}
	return len(p), nil
}

func (h *plainHash) sums() plainSums {
	var s plainSums
	if h.md5 != nil {
		h.md5.Sum(s.md5[:0])
	}
	if h.sha256 != nil {
		h.sha256.Sum(s.sha256[:0])
	}
	return s
}

// hashingReaderAt hashes the bytes of r in order as they are first read
// through it. Reads may overlap or repeat (a part boundary that cuts an age
// chunk makes the chunk be read twice); each byte is hashed once. It is not
// safe for concurrent use.
type hashingReaderAt struct {
	r    io.ReaderAt
	hash *plainHash
	next int64 // the offset up to which the hash has seen the bytes
}

func newHashingReaderAt(r io.ReaderAt) *hashingReaderAt {
	return &hashingReaderAt{r: r, hash: newPlainHash()}
}

func (h *hashingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := h.r.ReadAt(p, off)
	if off <= h.next && off+int64(n) > h.next {
		h.hash.Write(p[h.next-off : n])
		h.next = off + int64(n)
	}
	return n, err
}

// sum returns the hashes of the first size bytes, or false if they have not
// all been read in order.
func (h *hashingReaderAt) sum(size int64) (plainSums, bool) {
	if h.next != size {
		return plainSums{}, false
	}
	return h.hash.sums(), true
}
