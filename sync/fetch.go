package sync

import (
	"context"
	"errors"
	"fmt"
	"io"
	gosync "sync"

	"filippo.io/age"

	"github.com/s3seal/s3seal/cipher"
)

// Restore and deep audit read objects through a fetcher. A small object is
// one GET, streamed: many of them are in flight at once, so a restore of
// small files waits for round trips side by side rather than one after
// another. A large object is read as ranges of rangeSize bytes, a few of
// them fetched ahead in parallel, each pinned to the object the caller
// expects (its ETag as an opaque If-Match token, and its version where one
// is known), and handed to the decrypter in order: age's own checks see
// the object exactly as one GET would give it. Ranges are read into a fixed
// pool of rangeSize buffers, downloadMemory bytes over the whole run, which
// bounds the memory of a restore whatever the number of files in flight.

const (
	// rangeSize is the size of the ranges a large object is read in; an
	// object of at most rangeSize bytes is one GET.
	rangeSize = 8 << 20
	// rangesPerObject is how many ranges of one object are fetched or
	// waiting to be read at once.
	rangesPerObject = 4
	// downloadMemory is the size of a run's pool of range buffers, over
	// all its objects.
	downloadMemory = 64 << 20
)

// fetcher opens objects of one bucket for reading.
type fetcher struct {
	store   Bucket
	buffers *bufferPool // of the ranges
}

func newFetcher(store Bucket) *fetcher {
	return &fetcher{store: store, buffers: newBufferPool(downloadMemory/rangeSize, rangeSize)}
}

// objectBody is an object's ciphertext as fetcher.open returns it.
type objectBody interface {
	io.Closer
	// decrypt returns the plaintext, read as the body arrives (see
	// cipher.Decrypt); it may be called once.
	decrypt(ids ...age.Identity) (io.Reader, error)
	// failed returns why the body did not arrive whole (an error wrapping
	// ErrTransfer, or ErrObjectChanged for an object replaced while it
	// was read), or nil.
	failed() error
}

// open returns the body of the object want describes (Key, ETag, Size,
// and VersionID when the store keeps versions) and the object as the
// bucket describes it. An object of more than rangeSize bytes, on a store
// with Ranges, is read in ranges that the server checks against want's
// ETag and version, so want is returned as its description; a replaced
// object fails the read with ErrObjectChanged rather than mixing two.
// Others are one GET (of want's version, when given), described by the
// response.
func (f *fetcher) open(ctx context.Context, want Object) (objectBody, Object, error) {
	if f.store.History == nil {
		want.VersionID = "" // a store that keeps no versions cannot read one
	}
	if want.Size > rangeSize && f.store.Ranges != nil {
		return f.openRanges(ctx, want), want, nil
	}
	var body io.ReadCloser
	var obj Object
	var err error
	if want.VersionID != "" {
		body, obj, err = f.store.History.GetVersion(ctx, want.Key, want.VersionID)
	} else {
		body, obj, err = f.store.Get(ctx, want.Key)
	}
	if err != nil {
		return nil, obj, err
	}
	return &streamBody{wholeBody: wholeBody{r: body, key: want.Key, size: obj.Size}, closer: body}, obj, nil
}

// streamBody is one GET's body.
type streamBody struct {
	wholeBody
	closer io.Closer
}

func (b *streamBody) Close() error  { return b.closer.Close() }
func (b *streamBody) failed() error { return b.err }

func (b *streamBody) decrypt(ids ...age.Identity) (io.Reader, error) {
	return cipher.Decrypt(&b.wholeBody, ids...)
}

// fetchedRange is one range of an object, fetched or being fetched.
type fetchedRange struct {
	off, n int64
	buf    []byte        // from the pool
	ready  chan struct{} // closed once body and err are set
	body   []byte        // the bytes read, in buf
	err    error
}

// tailSize is how many bytes at the end of an object its rangeBody fetches
// on their own: age's largest chunk, 64 KiB and its 16-byte tag, so the
// final chunk, which age's DecryptReaderAt reads right after the header,
// does not wait for every range before it.
const tailSize = 64<<10 + 16

// rangeBody reads an object as consecutive ranges fetched ahead by a
// goroutine of its own, which Close stops and waits for. It is read with
// ReadAt, in the order age's DecryptReaderAt reads a file: the header from
// the first range, the final chunk from the tail, then the payload in
// order, each range given back once read past. It is not safe for
// concurrent use.
type rangeBody struct {
	want    Object
	buffers *bufferPool
	cancel  context.CancelFunc
	ranges  chan *fetchedRange // in offset order; closed when the fetching is over
	slots   chan struct{}      // one per range fetched and not yet read
	tail    *fetchedRange      // the last tailSize bytes, fetched first
	current *fetchedRange      // the range being read; its buffer is held
	next    int64              // the offset after the last range taken
	err     error              // sticky: why the read failed
}

func (f *fetcher) openRanges(ctx context.Context, want Object) *rangeBody {
	ctx, cancel := context.WithCancel(ctx)
	n := min(tailSize, want.Size)
	b := &rangeBody{want: want, buffers: f.buffers, cancel: cancel,
		ranges: make(chan *fetchedRange, rangesPerObject), slots: make(chan struct{}, rangesPerObject),
		tail: &fetchedRange{off: want.Size - n, n: n, buf: make([]byte, n), ready: make(chan struct{})}}
	go b.fetchAll(ctx, f.store.Ranges)
	return b
}

// fetchAll fetches the tail, starts the fetch of every range in order,
// each once a slot and a buffer are free, and closes b.ranges when they
// are all done or ctx is.
func (b *rangeBody) fetchAll(ctx context.Context, ranges RangeCopier) {
	var fetches gosync.WaitGroup
	defer close(b.ranges)
	defer fetches.Wait()
	fetches.Go(func() {
		defer close(b.tail.ready)
		b.tail.body, b.tail.err = fetchRange(ctx, ranges, b.want, b.tail.off, b.tail.buf)
	})
	for off := int64(0); off < b.want.Size; off += rangeSize {
		select {
		case b.slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		r := &fetchedRange{off: off, n: min(rangeSize, b.want.Size-off), ready: make(chan struct{})}
		var err error
		if r.buf, err = b.buffers.get(ctx, r.n); err != nil {
			<-b.slots
			return
		}
		b.ranges <- r // never blocks: a slot is held for it
		fetches.Go(func() {
			defer close(r.ready)
			r.body, r.err = fetchRange(ctx, ranges, b.want, r.off, r.buf[:r.n])
		})
	}
}

// fetchRange reads one range into buf, trying again when its body broke
// off.
func fetchRange(ctx context.Context, ranges RangeCopier, want Object, off int64, buf []byte) ([]byte, error) {
	for attempt := 1; ; attempt++ {
		got, err := ranges.GetRange(ctx, want, off, buf)
		switch {
		case err == nil && got != len(buf):
			// The server checked the ETag: the object is shorter than the
			// one described.
			return nil, fmt.Errorf("%w: object %s ended at %d bytes, %d were recorded", ErrObjectChanged, want.Key, off+int64(got), want.Size)
		case err == nil:
			return buf, nil
		case !errors.Is(err, ErrTransfer) || attempt == downloadAttempts || ctx.Err() != nil:
			return nil, err
		}
	}
}

func (b *rangeBody) decrypt(ids ...age.Identity) (io.Reader, error) {
	plain, size, err := cipher.DecryptAt(b, b.want.Size, ids...)
	if err != nil {
		return nil, err
	}
	return &plainReader{r: plain, size: size}, nil
}

// ReadAt reads len(p) bytes at off: from the tail when they lie in it,
// else from the ranges, taking the next one whenever the read goes past
// the current one. A read before the current range, which age never makes,
// is refused.
func (b *rangeBody) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off > b.want.Size-int64(len(p)) {
		return 0, fmt.Errorf("read of %d bytes at %d from object %s of %d bytes", len(p), off, b.want.Key, b.want.Size)
	}
	if t := b.tail; off >= t.off {
		<-t.ready
		if t.err != nil {
			b.err = t.err
			return 0, t.err
		}
		return copy(p, t.body[off-t.off:]), nil
	}
	n := 0
	for n < len(p) {
		at := off + int64(n)
		for b.err == nil && at >= b.next {
			b.take()
		}
		if b.err != nil {
			return n, b.err
		}
		if at < b.current.off {
			return n, fmt.Errorf("read at %d from object %s after its range at %d was given back", at, b.want.Key, b.current.off)
		}
		n += copy(p[n:], b.current.body[at-b.current.off:])
	}
	return n, nil
}

// take gives back the range read and waits for the next one.
func (b *rangeBody) take() {
	b.drop()
	r, ok := <-b.ranges
	if !ok { // only a done context stops the fetching early
		b.err = fmt.Errorf("%w: object %s after %d of %d bytes: %w", ErrTransfer, b.want.Key, b.next, b.want.Size, context.Canceled)
		return
	}
	b.current, b.next = r, r.off+r.n
	<-r.ready
	b.err = r.err
}

// drop gives back the buffer and the slot of the current range.
func (b *rangeBody) drop() {
	if b.current != nil {
		b.buffers.put(b.current.buf)
		<-b.slots
		b.current = nil
	}
}

// failed returns the error that ended the read early, if one did.
func (b *rangeBody) failed() error { return b.err }

// Close stops the fetching, waits for it and gives back the buffers of the
// ranges fetched and not read.
func (b *rangeBody) Close() error {
	b.cancel()
	b.drop()
	for r := range b.ranges {
		<-r.ready
		b.buffers.put(r.buf)
	}
	return nil
}

// plainReader reads a plaintext ReaderAt from start to end, through a
// buffer of plainBufferSize: age's ReadAt allocates a chunk buffer per
// call, so it is called for many chunks at once. WriteTo writes from the
// buffer directly, as io.Copy does through it.
type plainReader struct {
	r         io.ReaderAt
	size, off int64
	buf       *[]byte // from plainBuffers while reading
	unread    []byte  // in buf
	err       error
}

// plainBufferSize is the size of a plainReader's buffer: two chunks, so
// that it stays in the core's cache between decrypting and writing (at
// 512 KiB, a restore of 4 x 256 MiB measured 30-50% more system time).
const plainBufferSize = 2 * 64 << 10

var plainBuffers = gosync.Pool{New: func() any { b := make([]byte, plainBufferSize); return &b }}

// fill reads the next buffer of plaintext, once the last is read.
func (p *plainReader) fill() {
	if p.off == p.size {
		p.err = io.EOF
	}
	if p.err != nil {
		if p.buf != nil {
			plainBuffers.Put(p.buf)
			p.buf, p.unread = nil, nil
		}
		return
	}
	if p.buf == nil {
		p.buf = plainBuffers.Get().(*[]byte)
	}
	buf := (*p.buf)[:min(int64(len(*p.buf)), p.size-p.off)]
	n, err := p.r.ReadAt(buf, p.off)
	if err == io.EOF && n == len(buf) {
		err = nil
	}
	if err == nil && n < len(buf) {
		err = io.ErrUnexpectedEOF
	}
	p.off += int64(n)
	p.unread, p.err = buf[:n], err
}

func (p *plainReader) Read(b []byte) (int, error) {
	if len(p.unread) == 0 {
		p.fill()
		if len(p.unread) == 0 {
			return 0, p.err
		}
	}
	n := copy(b, p.unread)
	p.unread = p.unread[n:]
	return n, nil
}

func (p *plainReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if len(p.unread) == 0 {
			p.fill()
			if len(p.unread) == 0 {
				if p.err == io.EOF {
					return total, nil
				}
				return total, p.err
			}
		}
		n, err := w.Write(p.unread)
		total += int64(n)
		p.unread = p.unread[n:]
		if err != nil {
			return total, err
		}
	}
}
