package sync

import (
	"context"
	"crypto/md5"
	"hash"
	"io"
)

// bufferPool hands out part-sized buffers. Its fixed number of buffers is
// what bounds the memory of a run: every upload body is one of them.
type bufferPool struct {
	free chan []byte
	size int64
}

func newBufferPool(n int, size int64) *bufferPool {
	p := &bufferPool{free: make(chan []byte, n), size: size}
	for range n {
		p.free <- nil // allocated on first use
	}
	return p
}

// get waits for a free buffer.
func (p *bufferPool) get(ctx context.Context) ([]byte, error) {
	select {
	case b := <-p.free:
		if b == nil {
			b = make([]byte, p.size)
		}
		return b, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *bufferPool) put(b []byte) { p.free <- b }

// hashingReaderAt hashes the bytes of r in order as they are first read
// through it. Reads may overlap or repeat (a part boundary that cuts an age
// chunk makes the chunk be read twice); each byte is hashed once. It is not
// safe for concurrent use.
type hashingReaderAt struct {
	r    io.ReaderAt
	hash hash.Hash
	next int64 // the offset up to which the hash has seen the bytes
}

func newHashingReaderAt(r io.ReaderAt) *hashingReaderAt {
	return &hashingReaderAt{r: r, hash: md5.New()}
}

func (h *hashingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := h.r.ReadAt(p, off)
	if off <= h.next && off+int64(n) > h.next {
		h.hash.Write(p[h.next-off : n])
		h.next = off + int64(n)
	}
	return n, err
}

// sum returns the MD5 of the first size bytes, or false if they have not all
// been read in order.
func (h *hashingReaderAt) sum(size int64) ([16]byte, bool) {
	var s [16]byte
	if h.next != size {
		return s, false
	}
	copy(s[:], h.hash.Sum(nil))
	return s, true
}
