package cipher

import (
	"bytes"
	"compress/zlib"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	agetest "c2sp.org/CCTV/age"
	"filippo.io/age"
)

// cctvVector is one successful, unarmored CCTV age test vector.
type cctvVector struct {
	name        string
	file        []byte
	identities  []age.Identity
	fileKey     []byte // from the vector's "file key" line, if any
	payloadHash []byte
	usable      bool // expect: success and not armored
}

// parseCCTVVector parses the text header of a vector and decompresses it.
func parseCCTVVector(t *testing.T, name string, content []byte) cctvVector {
	t.Helper()
	v := cctvVector{name: name}
	expectSuccess, armored, compressed := false, false, false
	rest := content
	for {
		line, after, ok := bytes.Cut(rest, []byte("\n"))
		if !ok {
			t.Fatalf("vector %s: no blank line before the age file", name)
		}
		rest = after
		if len(line) == 0 {
			break
		}
		key, value, _ := strings.Cut(string(line), ": ")
		switch key {
		case "expect":
			expectSuccess = value == "success"
		case "armored":
			armored = true
		case "compressed":
			compressed = true
		case "file key":
			v.fileKey = mustHex(t, value)
		case "payload":
			v.payloadHash = mustHex(t, value)
		case "identity":
			v.identities = append(v.identities, parseVectorIdentity(t, value))
		case "passphrase":
			id, err := age.NewScryptIdentity(value)
			if err != nil {
				t.Fatalf("vector %s: NewScryptIdentity: %v", name, err)
			}
			v.identities = append(v.identities, id)
		}
	}
	v.usable = expectSuccess && !armored
	v.file = rest
	if compressed && v.usable {
		zr, err := zlib.NewReader(bytes.NewReader(rest))
		if err != nil {
			t.Fatalf("vector %s: zlib: %v", name, err)
		}
		if v.file, err = io.ReadAll(zr); err != nil {
			t.Fatalf("vector %s: zlib: %v", name, err)
		}
	}
	return v
}

func parseVectorIdentity(t *testing.T, value string) age.Identity {
	t.Helper()
	if id, err := age.ParseX25519Identity(value); err == nil {
		return id
	}
	id, err := age.ParseHybridIdentity(value)
	if err != nil {
		t.Fatalf("vector identity: neither X25519 nor hybrid: %v", err)
	}
	return id
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("hex %q: %v", s, err)
	}
	return b
}

// splitAgeFile returns the header (through the "--- MAC" line), the nonce
// and the payload of a binary age file.
func splitAgeFile(t *testing.T, file []byte) (header, nonce, payload []byte) {
	t.Helper()
	macLine := bytes.Index(file, []byte("\n--- "))
	if macLine < 0 {
		t.Fatal("no MAC line in age file")
	}
	end := bytes.IndexByte(file[macLine+1:], '\n')
	if end < 0 {
		t.Fatal("unterminated MAC line")
	}
	headerEnd := macLine + 1 + end + 1
	if len(file) < headerEnd+16 {
		t.Fatal("age file shorter than header plus nonce")
	}
	return file[:headerEnd], file[headerEnd : headerEnd+16], file[headerEnd+16:]
}

// TestCCTVVectors rebuilds every successful CCTV vector from its file key,
// nonce, header and plaintext, byte for byte, reading from the start and
// resuming from every chunk index and from unaligned offsets around chunk
// boundaries.
func TestCCTVVectors(t *testing.T) {
	entries, err := fs.ReadDir(agetest.Vectors, ".")
	if err != nil {
		t.Fatalf("read vectors: %v", err)
	}
	checked := 0
	for _, entry := range entries {
		content, err := fs.ReadFile(agetest.Vectors, entry.Name())
		if err != nil {
			t.Fatalf("read vector %s: %v", entry.Name(), err)
		}
		v := parseCCTVVector(t, entry.Name(), content)
		if !v.usable {
			continue
		}
		checked++
		t.Run(v.name, func(t *testing.T) { checkVector(t, v) })
	}
	t.Logf("checked %d successful unarmored CCTV vectors", checked)
	if checked < 10 {
		t.Errorf("checked %d CCTV vectors; want at least 10", checked)
	}
}

func checkVector(t *testing.T, v cctvVector) {
	header, nonce, _ := splitAgeFile(t, v.file)
	plain := decryptAll(t, v.file, v.identities...)
	if v.payloadHash != nil {
		if got := sha256.Sum256(plain); !bytes.Equal(got[:], v.payloadHash) {
			t.Fatalf("plaintext hash %x; want %x", got, v.payloadHash)
		}
	}
	fileKey, err := age.DecryptHeader(header, v.identities...)
	if err != nil {
		t.Fatalf("DecryptHeader: %v", err)
	}
	if v.fileKey != nil && !bytes.Equal(fileKey, v.fileKey) {
		t.Fatalf("DecryptHeader file key %x; want %x", fileKey, v.fileKey)
	}
	env := &Envelope{FileKey: fileKey, Nonce: nonce, Header: header}
	c := NewCiphertext(env, bytes.NewReader(plain), int64(len(plain)))
	if c.Size() != int64(len(v.file)) {
		t.Fatalf("Size() = %d; want %d", c.Size(), len(v.file))
	}
	if got := readAllAt(t, c, len(v.file)+1); !bytes.Equal(got, v.file) {
		t.Fatalf("Ciphertext differs from the vector (got %d bytes, want %d)", len(got), len(v.file))
	}
	payloadStart := int64(len(header) + len(nonce))
	for k := int64(0); k < chunkCount(int64(len(plain))); k++ {
		chunkOff := payloadStart + k*encChunkSize
		for _, delta := range []int64{0, -1, 1, encChunkSize - 7} {
			checkReadAtMatches(t, c, v.file, chunkOff+delta, encChunkSize+100)
		}
		for _, n := range []int{encChunkSize - 1, encChunkSize, encChunkSize + 1} {
			checkReadAtMatches(t, c, v.file, chunkOff, n)
		}
		checkReadAtMatches(t, c, v.file, chunkOff-3, 7) // straddles the boundary
	}
}

// checkReadAtMatches checks that ReadAt(len n, off) returns want[off:off+n].
func checkReadAtMatches(t *testing.T, c *Ciphertext, want []byte, off int64, n int) {
	t.Helper()
	if off < 0 || off >= int64(len(want)) {
		return
	}
	buf := make([]byte, n)
	got, err := c.ReadAt(buf, off)
	end := min(off+int64(n), int64(len(want)))
	if got != int(end-off) {
		t.Fatalf("ReadAt(len %d, off %d) = %d bytes, %v; want %d bytes", n, off, got, err, end-off)
	}
	if err != nil && !(err == io.EOF && end == int64(len(want))) {
		t.Fatalf("ReadAt(len %d, off %d) error %v", n, off, err)
	}
	if !bytes.Equal(buf[:got], want[off:end]) {
		t.Fatalf("ReadAt(len %d, off %d) bytes differ from the reference", n, off)
	}
}

func TestCiphertextRoundTrip(t *testing.T) {
	sizes := []int{0, 1, 65535, 65536, 65537, 2 * 65536, 5<<20 + 3}
	for _, size := range sizes {
		env, id := newTestEnvelope(t)
		plain := pseudoRandomBytes(size, uint64(size))
		c := NewCiphertext(env, bytes.NewReader(plain), int64(size))
		want := referenceCiphertext(t, env, plain)

		// Sequential read through an io.SectionReader (32 KiB reads).
		sequential, err := io.ReadAll(io.NewSectionReader(c, 0, c.Size()))
		if err != nil {
			t.Fatalf("size %d: sequential read: %v", size, err)
		}
		if !bytes.Equal(sequential, want) {
			t.Fatalf("size %d: sequential ciphertext differs from the reference", size)
		}
		if got := decryptAll(t, sequential, id); !bytes.Equal(got, plain) {
			t.Fatalf("size %d: age.Decrypt gave %d bytes that differ from the %d-byte plaintext", size, len(got), size)
		}
		rng := rand.New(rand.NewPCG(uint64(size), 1))
		for range 50 {
			off := rng.Int64N(c.Size())
			n := rng.IntN(3*encChunkSize) + 1
			checkReadAtMatches(t, c, want, off, n)
		}
	}
}

// TestCiphertextSize checks the size formula against the bytes produced and
// against the stock library's own encryption of the same plaintext size.
func TestCiphertextSize(t *testing.T) {
	id := newX25519(t)
	env, err := NewEnvelope(id.Recipient())
	if err != nil {
		t.Fatalf("NewEnvelope: %v", err)
	}
	for _, size := range []int64{0, 1, 100, 65535, 65536, 65537, 3 * 65536, 3*65536 + 1} {
		var stock bytes.Buffer
		w, err := age.Encrypt(&stock, id.Recipient())
		if err != nil {
			t.Fatalf("age.Encrypt: %v", err)
		}
		if _, err := w.Write(make([]byte, size)); err != nil {
			t.Fatalf("age write: %v", err)
		}
		if err := w.Close(); err != nil {
			t.Fatalf("age close: %v", err)
		}
		if got := env.CiphertextSize(size); got != int64(stock.Len()) {
			t.Errorf("CiphertextSize(%d) = %d; want %d (age.Encrypt output)", size, got, stock.Len())
		}
		c := NewCiphertext(env, bytes.NewReader(make([]byte, size)), size)
		if got := int64(len(readAllAt(t, c, 4096))); got != c.Size() {
			t.Errorf("size %d: read %d bytes; Size() = %d", size, got, c.Size())
		}
	}
}

func TestCiphertextReadAtEdges(t *testing.T) {
	env, _ := newTestEnvelope(t)
	plain := pseudoRandomBytes(70000, 3)
	c := NewCiphertext(env, bytes.NewReader(plain), int64(len(plain)))
	want := referenceCiphertext(t, env, plain)

	if n, err := c.ReadAt(make([]byte, 10), c.Size()); n != 0 || err != io.EOF {
		t.Errorf("ReadAt(off Size) = %d, %v; want 0, io.EOF", n, err)
	}
	if n, err := c.ReadAt(make([]byte, 10), -1); n != 0 || err == nil {
		t.Errorf("ReadAt(off -1) = %d, %v; want 0 and an error", n, err)
	}
	buf := make([]byte, 10)
	if n, err := c.ReadAt(buf, c.Size()-4); n != 4 || err != io.EOF || !bytes.Equal(buf[:4], want[len(want)-4:]) {
		t.Errorf("ReadAt(10 bytes, 4 before end) = %d, %v; want 4 correct bytes, io.EOF", n, err)
	}
	if n, err := c.ReadAt(nil, 5); n != 0 || err != nil {
		t.Errorf("ReadAt(empty, 5) = %d, %v; want 0, nil", n, err)
	}
}

func TestCiphertextPlaintextChanged(t *testing.T) {
	env, _ := newTestEnvelope(t)
	plain := pseudoRandomBytes(3*65536+1000, 4)
	size := int64(len(plain))
	lastChunkOff := env.CiphertextSize(size) - 1000 - tagSize

	tests := []struct {
		name   string
		source []byte
	}{
		{"shrank", plain[:len(plain)-1]},
		{"shrank to a chunk boundary", plain[:3*65536]},
		{"grew", append(bytes.Clone(plain), 'x')},
	}
	for _, tt := range tests {
		c := NewCiphertext(env, bytes.NewReader(tt.source), size)
		// The header and the first chunk are unaffected.
		if _, err := c.ReadAt(make([]byte, 1000), 0); err != nil {
			t.Errorf("%s: ReadAt(first bytes) error %v; want nil", tt.name, err)
		}
		buf := make([]byte, 64)
		_, err := c.ReadAt(buf, lastChunkOff)
		if !errors.Is(err, ErrPlaintextChanged) {
			t.Errorf("%s: ReadAt(last chunk) error %v; want ErrPlaintextChanged", tt.name, err)
		}
		whole := make([]byte, c.Size())
		n, err := c.ReadAt(whole, 0)
		if !errors.Is(err, ErrPlaintextChanged) || int64(n) != lastChunkOff {
			t.Errorf("%s: ReadAt(whole file) = %d, %v; want %d (the good bytes), ErrPlaintextChanged", tt.name, n, err, lastChunkOff)
		}
		if bytes.Contains(whole[n:], plain[len(plain)-900:len(plain)-100]) {
			t.Errorf("%s: plaintext left in the buffer after the error", tt.name)
		}
	}
}

// failingReaderAt fails every read.
type failingReaderAt struct{ err error }

func (f failingReaderAt) ReadAt([]byte, int64) (int, error) { return 0, f.err }

func TestCiphertextReadError(t *testing.T) {
	env, _ := newTestEnvelope(t)
	diskErr := errors.New("disk on fire")
	c := NewCiphertext(env, failingReaderAt{diskErr}, 1000)
	_, err := c.ReadAt(make([]byte, 100), int64(len(env.Header))+16)
	if !errors.Is(err, diskErr) || errors.Is(err, ErrPlaintextChanged) {
		t.Errorf("ReadAt error %v; want one wrapping the read error, not ErrPlaintextChanged", err)
	}
}

func TestCiphertextInvalidEnvelope(t *testing.T) {
	good, _ := newTestEnvelope(t)
	tests := []struct {
		name string
		env  *Envelope
		size int64
	}{
		{"nil envelope", nil, 10},
		{"short key", &Envelope{FileKey: good.FileKey[:15], Nonce: good.Nonce, Header: good.Header}, 10},
		{"short nonce", &Envelope{FileKey: good.FileKey, Nonce: good.Nonce[:8], Header: good.Header}, 10},
		{"not an age header", &Envelope{FileKey: good.FileKey, Nonce: good.Nonce, Header: []byte("hello\n")}, 10},
		{"negative size", good, -1},
	}
	for _, tt := range tests {
		c := NewCiphertext(tt.env, bytes.NewReader(make([]byte, 10)), tt.size)
		if n, err := c.ReadAt(make([]byte, 10), 0); err == nil || err == io.EOF {
			t.Errorf("%s: ReadAt = %d, %v; want an error", tt.name, n, err)
		} else if strings.Contains(err.Error(), hex.EncodeToString(good.FileKey)) {
			t.Errorf("%s: error %q contains the file key", tt.name, err)
		}
	}
}

func TestCiphertextConcurrentReadAt(t *testing.T) {
	env, _ := newTestEnvelope(t)
	plain := pseudoRandomBytes(1<<20+17, 5)
	c := NewCiphertext(env, bytes.NewReader(plain), int64(len(plain)))
	want := referenceCiphertext(t, env, plain)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for worker := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(worker), 2))
			for range 20 {
				off := rng.Int64N(c.Size())
				buf := make([]byte, rng.IntN(200000)+1)
				n, err := c.ReadAt(buf, off)
				if err != nil && err != io.EOF {
					errs <- err
					return
				}
				if !bytes.Equal(buf[:n], want[off:off+int64(n)]) {
					errs <- errors.New("concurrent ReadAt returned wrong bytes")
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// BenchmarkCiphertextReadAt reads 16 MiB parts, as a multipart upload does.
func BenchmarkCiphertextReadAt(b *testing.B) {
	const partSize = 16 << 20
	env, _ := newTestEnvelope(b)
	plain := pseudoRandomBytes(4*partSize, 6)
	c := NewCiphertext(env, bytes.NewReader(plain), int64(len(plain)))
	part := make([]byte, partSize)
	b.SetBytes(partSize)
	for i := 0; b.Loop(); i++ {
		off := int64(i%4) * partSize
		if _, err := c.ReadAt(part, off); err != nil && err != io.EOF {
			b.Fatalf("ReadAt(off %d): %v", off, err)
		}
	}
}
