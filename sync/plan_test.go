package sync

import (
	"crypto/sha256"
	"errors"
	"testing"
	"time"

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
		{"new file", Input{Local: local, ObjectKey: "p/a", Remote: remote}, Decision{Action: Upload, Reason: "new"}},
		{"unchanged", Input{Local: local, Row: &row, ObjectKey: "p/a", Remote: remote}, Decision{Action: Skip, Reason: "unchanged"}},
		{"touched: hash first", Input{Local: touched, Row: &row, ObjectKey: "p/a", Remote: remote}, Decision{Action: Hash, Reason: "stat-changed"}},
		{"new inode: hash first", Input{Local: moved, Row: &row, ObjectKey: "p/a", Remote: remote}, Decision{Action: Hash, Reason: "stat-changed"}},
		{"touched, same hash: record only", Input{Local: touched, Row: &row, ObjectKey: "p/a", Remote: remote, PlainMD5: &sumA}, Decision{Action: Record, Reason: "touched", ETag: "etag"}},
		{"same stat, other hash (checksum run)", Input{Local: local, Row: &row, ObjectKey: "p/a", Remote: remote, PlainMD5: &sumB, Checksum: true}, Decision{Action: Upload, Reason: "changed"}},
		{"touched, other hash", Input{Local: touched, Row: &row, ObjectKey: "p/a", Remote: remote, PlainMD5: &sumB}, Decision{Action: Upload, Reason: "changed"}},
		{"size changed: no hash needed", Input{Local: resized, Row: &row, ObjectKey: "p/a", Remote: remote}, Decision{Action: Upload, Reason: "changed"}},
		{"checksum asks for a hash", Input{Local: local, Row: &row, ObjectKey: "p/a", Remote: remote, Checksum: true}, Decision{Action: Hash, Reason: "checksum"}},
		{"checksum, same hash", Input{Local: local, Row: &row, ObjectKey: "p/a", Remote: remote, PlainMD5: &sumA, Checksum: true}, Decision{Action: Skip, Reason: "unchanged"}},
		{"object deleted", Input{Local: local, Row: &row, ObjectKey: "p/a"}, Decision{Action: Upload, Reason: "remote-missing"}},
		{"object overwritten", Input{Local: local, Row: &row, ObjectKey: "p/a", Remote: &Remote{ETag: "other", Size: 236}}, Decision{Action: Upload, Reason: "remote-changed"}},
		{"object truncated, same etag", Input{Local: local, Row: &row, ObjectKey: "p/a", Remote: &Remote{ETag: "etag", Size: 200}}, Decision{Action: Upload, Reason: "remote-changed"}},
		{"touched and object deleted", Input{Local: touched, Row: &row, ObjectKey: "p/a", PlainMD5: &sumA}, Decision{Action: Upload, Reason: "remote-missing"}},
		{"checksum, same MD5, other SHA-256 (collision)", Input{Local: local, Row: withRow(func(f *catalog.File) { f.PlainSHA256, f.HasSHA256 = shaA, true }), ObjectKey: "p/a", Remote: remote, PlainMD5: &sumA, PlainSHA256: &shaB, Checksum: true}, Decision{Action: Upload, Reason: "changed"}},
		{"checksum, same MD5 and SHA-256", Input{Local: local, Row: withRow(func(f *catalog.File) { f.PlainSHA256, f.HasSHA256 = shaA, true }), ObjectKey: "p/a", Remote: remote, PlainMD5: &sumA, PlainSHA256: &shaA, Checksum: true}, Decision{Action: Skip, Reason: "unchanged"}},
		{"row without SHA-256: MD5 decides", Input{Local: touched, Row: &row, ObjectKey: "p/a", Remote: remote, PlainMD5: &sumA, PlainSHA256: &shaB}, Decision{Action: Record, Reason: "touched", ETag: "etag"}},
		{"key changed", Input{Local: local, Row: withRow(func(f *catalog.File) { f.ObjectKey = "old/a" }), ObjectKey: "p/a", Remote: remote}, Decision{Action: Upload, Reason: "key-changed"}},
	}
	for _, tt := range tests {
		if got := Decide(tt.in); got != tt.want {
			t.Errorf("%s: Decide() = %v; want %v", tt.name, got, tt.want)
		}
	}
}

// TestDecideRelistedETag covers objects the server lists with another ETag
// than the row recorded: one of the recorded size, last written no later
// than the recorded upload, was written by nobody since, and only its row
// takes the listed ETag; any other is remote-changed and uploaded again.
func TestDecideRelistedETag(t *testing.T) {
	uploaded := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	local := Entry{Path: "a", Size: 10, ModTime: 100, ChangeTime: 100, Inode: 7}
	row := catalog.File{Path: "a", Size: 10, ModTime: 100, ChangeTime: 100, Inode: 7, PlainMD5: [16]byte{1},
		ObjectKey: "p/a", ETag: "answered", CipherSize: 236, UploadedAt: uploaded.Unix()}
	touched := local
	touched.ModTime, touched.ChangeTime = 200, 200
	listed := func(etag string, size int64, modified time.Time) *Remote {
		return &Remote{ETag: etag, Size: size, LastModified: modified}
	}
	sum, other := [16]byte{1}, [16]byte{2}
	unknownUpload := row
	unknownUpload.UploadedAt = 0 // rows that never recorded it
	relisted := Decision{Action: Record, Reason: "etag-refreshed", ETag: "listed"}
	changed := Decision{Action: Upload, Reason: "remote-changed"}

	tests := []struct {
		name string
		in   Input
		want Decision
	}{
		{"written before the upload ended", Input{Local: local, Row: &row, ObjectKey: "p/a", Remote: listed("listed", 236, uploaded.Add(-time.Minute))}, relisted},
		{"written in the second of the upload", Input{Local: local, Row: &row, ObjectKey: "p/a", Remote: listed("listed", 236, uploaded)}, relisted},
		{"written a second after", Input{Local: local, Row: &row, ObjectKey: "p/a", Remote: listed("listed", 236, uploaded.Add(time.Second))}, changed},
		{"rewritten a day later", Input{Local: local, Row: &row, ObjectKey: "p/a", Remote: listed("listed", 236, uploaded.Add(24*time.Hour))}, changed},
		{"another size", Input{Local: local, Row: &row, ObjectKey: "p/a", Remote: listed("listed", 200, uploaded.Add(-time.Minute))}, changed},
		{"another size, same ETag", Input{Local: local, Row: &row, ObjectKey: "p/a", Remote: listed("answered", 200, uploaded.Add(-time.Minute))}, changed},
		{"no LastModified listed", Input{Local: local, Row: &row, ObjectKey: "p/a", Remote: listed("listed", 236, time.Time{})}, changed},
		{"no upload time recorded", Input{Local: local, Row: &unknownUpload, ObjectKey: "p/a", Remote: listed("listed", 236, uploaded.Add(-time.Minute))}, changed},
		{"as recorded, written later", Input{Local: local, Row: &row, ObjectKey: "p/a", Remote: listed("answered", 236, uploaded.Add(time.Hour))}, Decision{Action: Skip, Reason: "unchanged"}},
		{"touched: hash first", Input{Local: touched, Row: &row, ObjectKey: "p/a", Remote: listed("listed", 236, uploaded)}, Decision{Action: Hash, Reason: "stat-changed"}},
		{"touched, same hash", Input{Local: touched, Row: &row, ObjectKey: "p/a", Remote: listed("listed", 236, uploaded), PlainMD5: &sum}, relisted},
		{"touched, other hash", Input{Local: touched, Row: &row, ObjectKey: "p/a", Remote: listed("listed", 236, uploaded), PlainMD5: &other}, Decision{Action: Upload, Reason: "changed"}},
		{"checksum, same hash", Input{Local: local, Row: &row, ObjectKey: "p/a", Remote: listed("listed", 236, uploaded), PlainMD5: &sum, Checksum: true}, relisted},
		{"in flight, unchanged", Input{Local: local, Row: &row, ObjectKey: "p/a", Remote: listed("listed", 236, uploaded), InFlight: true}, relisted},
	}
	for _, tt := range tests {
		if got := Decide(tt.in); got != tt.want {
			t.Errorf("%s: Decide() = %v; want %v", tt.name, got, tt.want)
		}
	}
}

// TestDecideNewFiles covers the decisions for paths the catalog has no row
// of: resuming an upload in flight, and recognising a renamed or duplicated
// file as a copy of an uploaded object, only when the bucket still lists that
// object as recorded and no hash says the content differs.
func TestDecideNewFiles(t *testing.T) {
	const size = copyMinSize
	sum, other := [16]byte{1}, [16]byte{2}
	sha, otherSHA := [32]byte{1}, [32]byte{2}
	local := Entry{Path: "renamed", Size: size, ModTime: 100, ChangeTime: 100, Inode: 9}
	src := catalog.File{Path: "old", Size: size, PlainMD5: sum, PlainSHA256: sha, HasSHA256: true,
		ObjectKey: "p/old", ETag: "etag-old", CipherSize: size + 236}
	listed := &Remote{ETag: "etag-old", Size: size + 236}
	twin := func(f func(*Twin)) []Twin {
		tw := Twin{Row: src, Remote: listed}
		if f != nil {
			f(&tw)
		}
		return []Twin{tw}
	}
	small := local
	small.Size = copyMinSize - 1
	hashed := func(in Input) Input { in.PlainMD5, in.PlainSHA256 = &sum, &sha; return in }

	tests := []struct {
		name string
		in   Input
		want Decision
	}{
		{"new, no row of its size", Input{Local: local, ObjectKey: "p/renamed"}, Decision{Action: Upload, Reason: "new"}},
		{"new, small: never checked", Input{Local: small, ObjectKey: "p/renamed", SizeKnown: true}, Decision{Action: Upload, Reason: "new"}},
		{"new, a row of its size: hash first", Input{Local: local, ObjectKey: "p/renamed", SizeKnown: true}, Decision{Action: Hash, Reason: "maybe-copy"}},
		{"renamed: copy", hashed(Input{Local: local, ObjectKey: "p/renamed", SizeKnown: true, Twins: twin(nil)}),
			Decision{Action: Copy, Reason: "same-content", From: &src}},
		{"twin's object gone", hashed(Input{Local: local, ObjectKey: "p/renamed", SizeKnown: true,
			Twins: twin(func(tw *Twin) { tw.Remote = nil })}), Decision{Action: Upload, Reason: "new"}},
		{"twin's object replaced", hashed(Input{Local: local, ObjectKey: "p/renamed", SizeKnown: true,
			Twins: twin(func(tw *Twin) { tw.Remote = &Remote{ETag: "other", Size: size + 236} })}), Decision{Action: Upload, Reason: "new"}},
		{"twin's object truncated", hashed(Input{Local: local, ObjectKey: "p/renamed", SizeKnown: true,
			Twins: twin(func(tw *Twin) { tw.Remote = &Remote{ETag: "etag-old", Size: 10} })}), Decision{Action: Upload, Reason: "new"}},
		{"twin's object relisted, not written since", hashed(Input{Local: local, ObjectKey: "p/renamed", SizeKnown: true,
			Twins: twin(func(tw *Twin) {
				tw.Row.UploadedAt = 1700000000
				tw.Remote = &Remote{ETag: "other", Size: size + 236, LastModified: time.Unix(1700000000, 0)}
			})}), Decision{Action: Upload, Reason: "new"}},
		{"MD5 collision: SHA-256 differs", Input{Local: local, ObjectKey: "p/renamed", SizeKnown: true, PlainMD5: &sum, PlainSHA256: &otherSHA,
			Twins: twin(nil)}, Decision{Action: Upload, Reason: "new"}},
		{"twin of other content", Input{Local: local, ObjectKey: "p/renamed", SizeKnown: true, PlainMD5: &other, PlainSHA256: &sha,
			Twins: twin(nil)}, Decision{Action: Upload, Reason: "new"}},
		{"no twin after hashing", hashed(Input{Local: local, ObjectKey: "p/renamed", SizeKnown: true}), Decision{Action: Upload, Reason: "new"}},
		{"new with an upload in flight: resume, no copy check", Input{Local: local, ObjectKey: "p/renamed", SizeKnown: true, InFlight: true},
			Decision{Action: Resume, Reason: "new"}},
	}
	for _, tt := range tests {
		got := Decide(tt.in)
		if got.Action != tt.want.Action || got.Reason != tt.want.Reason || (got.From == nil) != (tt.want.From == nil) ||
			got.From != nil && *got.From != *tt.want.From {
			t.Errorf("%s: Decide() = %v %s from %v; want %v %s from %v", tt.name, got.Action, got.Reason, got.From, tt.want.Action, tt.want.Reason, tt.want.From)
		}
	}
}

// TestDecideResume: a file with an upload in flight resumes it whatever
// makes it need an upload, and one that needs none leaves it (the run then
// aborts it); the reason stays the content's.
func TestDecideResume(t *testing.T) {
	local := Entry{Path: "big", Size: 10, ModTime: 100, ChangeTime: 100, Inode: 7}
	row := catalog.File{Path: "big", Size: 10, ModTime: 100, ChangeTime: 100, Inode: 7,
		PlainMD5: [16]byte{1}, ObjectKey: "p/big", ETag: "etag", CipherSize: 236}
	changed := local
	changed.Size = 11
	tests := []struct {
		name string
		in   Input
		want Decision
	}{
		{"changed", Input{Local: changed, Row: &row, ObjectKey: "p/big", Remote: &Remote{ETag: "etag", Size: 236}, InFlight: true}, Decision{Action: Resume, Reason: "changed"}},
		{"object missing", Input{Local: local, Row: &row, ObjectKey: "p/big", InFlight: true}, Decision{Action: Resume, Reason: "remote-missing"}},
		{"unchanged", Input{Local: local, Row: &row, ObjectKey: "p/big", Remote: &Remote{ETag: "etag", Size: 236}, InFlight: true}, Decision{Action: Skip, Reason: "unchanged"}},
		{"stat changed: hash first", Input{Local: changed, Row: &catalog.File{Path: "big", Size: 11}, ObjectKey: "p/big", InFlight: true}, Decision{Action: Hash, Reason: "stat-changed"}},
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

func TestPickRun(t *testing.T) {
	runs := []catalog.Run{{ID: 1, FinishedAt: 100}, {ID: 2, FinishedAt: 200}, {ID: 3, FinishedAt: 300}}
	tests := []struct {
		at     At
		want   int64 // 0: an error
		newest bool
	}{
		{At{ID: 2}, 2, false},
		{At{ID: 3}, 3, true},
		{At{ID: 4}, 0, false},
		{At{Time: time.Unix(0, 250)}, 2, false},
		{At{Time: time.Unix(0, 200)}, 2, false}, // finished at that very moment
		{At{Time: time.Unix(0, 999)}, 3, true},
		{At{Time: time.Unix(0, 99)}, 0, false},
	}
	for _, tt := range tests {
		got, newest, err := PickRun(runs, tt.at)
		if tt.want == 0 {
			if !errors.Is(err, ErrNoHistory) {
				t.Errorf("PickRun(%+v) = %+v, %v; want ErrNoHistory", tt.at, got, err)
			}
			continue
		}
		if err != nil || got.ID != tt.want || newest != tt.newest {
			t.Errorf("PickRun(%+v) = #%d, newest %v, %v; want #%d, %v", tt.at, got.ID, newest, err, tt.want, tt.newest)
		}
	}
	if _, _, err := PickRun(nil, At{ID: 1}); !errors.Is(err, ErrNoHistory) {
		t.Errorf("PickRun of no runs = %v; want ErrNoHistory", err)
	}
}
