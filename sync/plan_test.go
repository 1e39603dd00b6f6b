package sync

import (
	"crypto/sha256"
	"testing"

	"github.com/s3seal/s3seal/catalog"
)

func TestDecide(t *testing.T) {
	sumA := [16]byte{1}
	sumB := [16]byte{2}
	shaA, shaB := [32]byte{1}, [32]byte{2}
	local := Entry{Path: "a", Size: 10, ModTime: 100, ChangeTime: 100, Inode: 7}
	row := catalog.File{Path: "a", Size: 10, ModTime: 100, ChangeTime: 100, Inode: 7,
		PlainMD5: sumA, ObjectKey: "p/a", ETag: "etag", CipherSize: 236}
	remote := &Remote{ETag: "etag", Size: 236}
	touched := local
	touched.ModTime, touched.ChangeTime = 200, 200
	resized := local
	resized.Size = 11
	moved := local
	moved.Inode = 8
	withRow := func(f func(*catalog.File)) *catalog.File {
		r := row
		f(&r)
		return &r
	}

	tests := []struct {
		name string
		in   Input
		want Decision
	}{
		{"new file", Input{Local: local, ObjectKey: "p/a", Remote: remote}, Decision{Upload, "new"}},
		{"unchanged", Input{Local: local, Row: &row, ObjectKey: "p/a", Remote: remote}, Decision{Skip, "unchanged"}},
		{"touched: hash first", Input{Local: touched, Row: &row, ObjectKey: "p/a", Remote: remote}, Decision{Hash, "stat-changed"}},
		{"new inode: hash first", Input{Local: moved, Row: &row, ObjectKey: "p/a", Remote: remote}, Decision{Hash, "stat-changed"}},
		{"touched, same hash: record only", Input{Local: touched, Row: &row, ObjectKey: "p/a", Remote: remote, PlainMD5: &sumA}, Decision{Record, "touched"}},
		{"same stat, other hash (checksum run)", Input{Local: local, Row: &row, ObjectKey: "p/a", Remote: remote, PlainMD5: &sumB, Checksum: true}, Decision{Upload, "changed"}},
		{"touched, other hash", Input{Local: touched, Row: &row, ObjectKey: "p/a", Remote: remote, PlainMD5: &sumB}, Decision{Upload, "changed"}},
		{"size changed: no hash needed", Input{Local: resized, Row: &row, ObjectKey: "p/a", Remote: remote}, Decision{Upload, "changed"}},
		{"checksum asks for a hash", Input{Local: local, Row: &row, ObjectKey: "p/a", Remote: remote, Checksum: true}, Decision{Hash, "checksum"}},
		{"checksum, same hash", Input{Local: local, Row: &row, ObjectKey: "p/a", Remote: remote, PlainMD5: &sumA, Checksum: true}, Decision{Skip, "unchanged"}},
		{"object deleted", Input{Local: local, Row: &row, ObjectKey: "p/a"}, Decision{Upload, "remote-missing"}},
		{"object overwritten", Input{Local: local, Row: &row, ObjectKey: "p/a", Remote: &Remote{ETag: "other", Size: 236}}, Decision{Upload, "remote-changed"}},
		{"object truncated, same etag", Input{Local: local, Row: &row, ObjectKey: "p/a", Remote: &Remote{ETag: "etag", Size: 200}}, Decision{Upload, "remote-changed"}},
		{"touched and object deleted", Input{Local: touched, Row: &row, ObjectKey: "p/a", PlainMD5: &sumA}, Decision{Upload, "remote-missing"}},
		{"checksum, same MD5, other SHA-256 (collision)", Input{Local: local, Row: withRow(func(f *catalog.File) { f.PlainSHA256, f.HasSHA256 = shaA, true }), ObjectKey: "p/a", Remote: remote, PlainMD5: &sumA, PlainSHA256: &shaB, Checksum: true}, Decision{Upload, "changed"}},
		{"checksum, same MD5 and SHA-256", Input{Local: local, Row: withRow(func(f *catalog.File) { f.PlainSHA256, f.HasSHA256 = shaA, true }), ObjectKey: "p/a", Remote: remote, PlainMD5: &sumA, PlainSHA256: &shaA, Checksum: true}, Decision{Skip, "unchanged"}},
		{"row without SHA-256: MD5 decides", Input{Local: touched, Row: &row, ObjectKey: "p/a", Remote: remote, PlainMD5: &sumA, PlainSHA256: &shaB}, Decision{Record, "touched"}},
		{"key changed", Input{Local: local, Row: withRow(func(f *catalog.File) { f.ObjectKey = "old/a" }), ObjectKey: "p/a", Remote: remote}, Decision{Upload, "key-changed"}},
	}
	for _, tt := range tests {
		if got := Decide(tt.in); got != tt.want {
			t.Errorf("%s: Decide() = %v; want %v", tt.name, got, tt.want)
		}
	}
}

func TestPartSizeFor(t *testing.T) {
	tests := []struct {
		ctSize, want, got int64
	}{
		{0, DefaultPartSize, DefaultPartSize},
		{1 << 30, DefaultPartSize, DefaultPartSize},
		{1 << 20, 1, minPartSize},              // below S3's minimum
		{200 << 30, DefaultPartSize, 21 << 20}, // 200 GiB needs > 16 MiB parts
		{10000 * DefaultPartSize, DefaultPartSize, DefaultPartSize},
	}
	for _, tt := range tests {
		got := partSizeFor(tt.ctSize, tt.want)
		if got != tt.got {
			t.Errorf("partSizeFor(%d, %d) = %d; want %d", tt.ctSize, tt.want, got, tt.got)
		}
		if tt.ctSize > 0 && (tt.ctSize+got-1)/got > maxParts {
			t.Errorf("partSizeFor(%d, %d) = %d gives more than %d parts", tt.ctSize, tt.want, got, maxParts)
		}
	}
}

func TestCheckPath(t *testing.T) {
	good := []string{"a", "a/b", "a b/ü.txt", "..a", "a..", ".hidden/x"}
	bad := []string{"", "/etc/passwd", "../x", "a/../../x", "a/./b", "a//b", "a/", "a/..", ".", "x\x00y"}
	for _, p := range good {
		if err := CheckPath(p); err != nil {
			t.Errorf("CheckPath(%q) = %v; want nil", p, err)
		}
	}
	for _, p := range bad {
		if err := CheckPath(p); err == nil {
			t.Errorf("CheckPath(%q) = nil; want an error", p)
		}
	}
}

func TestHashingReaderAt(t *testing.T) {
	data := []byte("0123456789abcdefghij")
	h := newHashingReaderAt(readerAt(data))
	buf := make([]byte, 8)
	for _, off := range []int64{0, 5, 8, 12, 16} { // overlapping, in order
		n, _ := h.ReadAt(buf[:min(8, len(data)-int(off))], off)
		_ = n
	}
	got, ok := h.sum(int64(len(data)))
	want := plainSums{md5: md5Sum(data), sha256: sha256.Sum256(data)}
	if !ok || got != want {
		t.Errorf("sum after overlapping reads = %x, %v; want %x, true", got, ok, want)
	}
	h2 := newHashingReaderAt(readerAt(data))
	h2.ReadAt(buf, 0)
	h2.ReadAt(buf, 12) // a gap: 8..12 never read
	if _, ok := h2.sum(int64(len(data))); ok {
		t.Errorf("sum after a gap reported complete")
	}
}
