package catalog

import (
	"bytes"
	"crypto/md5"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestPutLookupRoundTrip(t *testing.T) {
	db := openTest(t)
	want := putSamples(t, db, 20)
	for _, f := range want {
		got, ok, err := db.Lookup(f.Path)
		if err != nil || !ok {
			t.Fatalf("Lookup(%q) = %v, %v; want the row", f.Path, ok, err)
		}
		if got != f {
			t.Errorf("Lookup(%q) = %+v; want %+v", f.Path, got, f)
		}
	}
	if _, ok, err := db.Lookup("dir/missing"); ok || err != nil {
		t.Errorf("Lookup(missing) = %v, %v; want false, nil", ok, err)
	}
	if n, err := db.Count(); n != len(want) || err != nil {
		t.Errorf("Count() = %d, %v; want %d", n, err, len(want))
	}
}

func TestPutReplacesAndLastDuplicateWins(t *testing.T) {
	db := openTest(t)
	first := sampleFile(1, "a")
	second := sampleFile(2, "a")
	if err := db.Put(first); err != nil {
		t.Fatal(err)
	}
	if err := db.Put(sampleFile(3, "a"), second); err != nil {
		t.Fatal(err)
	}
	got, _, err := db.Lookup("a")
	if err != nil || got != second {
		t.Fatalf("Lookup(a) = %+v, %v; want %+v", got, err, second)
	}
	if n, _ := db.Count(); n != 1 {
		t.Fatalf("Count() = %d; want 1", n)
	}
}

func TestPutIsAllOrNothing(t *testing.T) {
	tests := []struct {
		name string
		bad  File
	}{
		{"empty path", File{}},
		{"negative size", File{Path: "neg", Size: -1}},
		{"negative cipher size", File{Path: "neg", CipherSize: -5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTest(t)
			good := sampleFile(1, "good")
			if err := db.Put(good, tt.bad); err == nil {
				t.Fatalf("Put(good, %+v) = nil; want an error", tt.bad)
			}
			if _, ok, err := db.Lookup("good"); ok || err != nil {
				t.Fatalf("Lookup(good) after failed Put = %v, %v; want no row", ok, err)
			}
		})
	}
}

func TestOddPathsRoundTrip(t *testing.T) {
	paths := []struct{ name, path string }{
		{"non-UTF-8", "a/\xff\xfe/b\x80"},
		{"newline", "dir/line1\nline2\r\n"},
		{"4000 bytes", strings.Repeat("d/", 1999) + "xx"},
		{"URI and SQL specials", "it's 100%?#;--/\"x\".txt"},
		{"unicode", "naïve/日本語.txt"},
		{"spaces", " lead and trail "},
		{"backslash", `a\b`},
	}
	db := openTest(t)
	for i, p := range paths {
		f := sampleFile(i, p.path)
		f.ObjectKey = "plain/" + p.path // object keys may carry the same bytes
		if err := db.Put(f); err != nil {
			t.Fatalf("%s: Put = %v", p.name, err)
		}
		got, ok, err := db.Lookup(p.path)
		if err != nil || !ok || got != f {
			t.Errorf("%s: Lookup(%q) = %+v, %v, %v; want %+v", p.name, p.path, got, ok, err, f)
		}
		up := Upload{Path: p.path, ObjectKey: f.ObjectKey, UploadID: "u", FileKey: []byte("k")}
		if err := db.PutUpload(up); err != nil {
			t.Fatalf("%s: PutUpload = %v", p.name, err)
		}
		gotUp, ok, err := db.Upload(p.path)
		if err != nil || !ok || !reflect.DeepEqual(gotUp, up) {
			t.Errorf("%s: Upload(%q) = %+v, %v, %v; want %+v", p.name, p.path, gotUp, ok, err, up)
		}
	}

	var listed []string
	if err := db.Files(func(f File) error {
		listed = append(listed, f.Path)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, p := range paths {
		want = append(want, p.path)
	}
	slices.Sort(want) // bytewise, as Files promises
	if !slices.Equal(listed, want) {
		t.Errorf("Files() paths = %q; want %q", listed, want)
	}

	for _, p := range paths {
		if err := db.Delete(p.path); err != nil {
			t.Fatalf("%s: Delete = %v", p.name, err)
		}
	}
	if n, err := db.Count(); n != 0 || err != nil {
		t.Errorf("Count() after deleting every odd path = %d, %v; want 0", n, err)
	}
}

func TestFilesStreamsInOrderAndStopsOnError(t *testing.T) {
	db := openTest(t)
	var files []File
	for _, i := range []int{5, 3, 9, 1, 7} {
		files = append(files, sampleFile(i, fmt.Sprintf("p%d", i)))
	}
	if err := db.Put(files...); err != nil {
		t.Fatal(err)
	}
	var got []File
	if err := db.Files(func(f File) error {
		got = append(got, f)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(files)
	slices.SortFunc(want, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Files() = %+v; want %+v", got, want)
	}

	stop := errors.New("stop")
	calls := 0
	err := db.Files(func(File) error {
		calls++
		if calls == 2 {
			return stop
		}
		return nil
	})
	if err != stop || calls != 2 {
		t.Fatalf("Files(stop at 2) = %v after %d calls; want the callback's error after 2", err, calls)
	}
	// The connection must be usable again after an early stop.
	if _, ok, err := db.Lookup("p1"); !ok || err != nil {
		t.Fatalf("Lookup after stopped Files = %v, %v", ok, err)
	}
}

func TestFindByMD5(t *testing.T) {
	db := openTest(t)
	sum := md5.Sum([]byte("shared content"))
	small := sampleFile(1, "small")
	small.PlainMD5, small.Size = sum, 10
	big := sampleFile(2, "big")
	big.PlainMD5, big.Size = sum, 20
	if err := db.Put(small, big, sampleFile(3, "other")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		sum      [16]byte
		size     int64
		wantPath string // "" for no match
	}{
		{sum, 10, "small"},
		{sum, 20, "big"},
		{sum, 30, ""},
		{md5.Sum([]byte("nothing")), 10, ""},
	}
	for _, tt := range tests {
		got, ok, err := db.FindByMD5(tt.sum, tt.size)
		if err != nil || ok != (tt.wantPath != "") || got.Path != tt.wantPath {
			t.Errorf("FindByMD5(%x, %d) = %q, %v, %v; want %q", tt.sum, tt.size, got.Path, ok, err, tt.wantPath)
		}
	}
}

func TestSettings(t *testing.T) {
	db := openTest(t)
	nameKey := bytes.Repeat([]byte{0, 0xff, 7, '\n'}, 8) // 32 raw bytes
	if err := db.SetSetting("naming", []byte("plain")); err != nil {
		t.Fatal(err)
	}
	for _, kv := range []struct {
		key   string
		value []byte
	}{{"naming", []byte("hidden")}, {"name_key", nameKey}, {"empty", nil}} {
		if err := db.SetSetting(kv.key, kv.value); err != nil {
			t.Fatalf("SetSetting(%q) = %v", kv.key, err)
		}
	}
	tests := []struct {
		key    string
		want   []byte
		wantOK bool
	}{
		{"naming", []byte("hidden"), true},
		{"name_key", nameKey, true},
		{"empty", []byte{}, true},
		{"missing", nil, false},
	}
	for _, tt := range tests {
		got, ok, err := db.Setting(tt.key)
		if err != nil || ok != tt.wantOK || !bytes.Equal(got, tt.want) || (ok && got == nil) {
			t.Errorf("Setting(%q) = %q, %v, %v; want %q, %v", tt.key, got, ok, err, tt.want, tt.wantOK)
		}
	}
	if err := db.SetSetting("", []byte("x")); err == nil {
		t.Error(`SetSetting("") = nil; want an error`)
	}
}

func TestUploads(t *testing.T) {
	db := openTest(t)
	mk := func(path string, i int) Upload {
		return Upload{
			Path: path, ObjectKey: "obj/" + path, UploadID: fmt.Sprintf("upload-%d", i),
			PartSize: 16 << 20, FileKey: bytes.Repeat([]byte{byte(i)}, 16),
			Nonce: bytes.Repeat([]byte{byte(i + 1)}, 16), Header: []byte("age-encryption.org/v1\n..."),
			Size: 1 << 40, ModTime: 1_700_000_000_000_000_001, ChangeTime: 1_700_000_000_000_000_002,
			Inode: ^uint64(0), StartedAt: 1_750_000_000 + int64(i),
		}
	}
	b, a, replaced := mk("b/big.iso", 1), mk("a/big.iso", 2), mk("b/big.iso", 3)
	for _, u := range []Upload{b, a, replaced} {
		if err := db.PutUpload(u); err != nil {
			t.Fatalf("PutUpload(%q) = %v", u.Path, err)
		}
	}
	got, err := db.Uploads()
	if want := []Upload{a, replaced}; err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Uploads() = %+v, %v; want %+v", got, err, want)
	}
	if err := db.DeleteUpload("a/big.iso"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := db.Upload("a/big.iso"); ok || err != nil {
		t.Fatalf("Upload after DeleteUpload = %v, %v; want false, nil", ok, err)
	}
	if u, ok, err := db.Upload("b/big.iso"); !ok || err != nil || !reflect.DeepEqual(u, replaced) {
		t.Fatalf("Upload(b/big.iso) = %+v, %v, %v; want %+v", u, ok, err, replaced)
	}
	if err := db.PutUpload(Upload{}); err == nil {
		t.Error("PutUpload(empty path) = nil; want an error")
	}
}

func TestDeletedUploadKeyIsOverwritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	gone := []byte("GONE-file-key-16")
	kept := []byte("KEPT-file-key-16")
	putSamples(t, db, 50)
	for _, u := range []Upload{{Path: "gone", FileKey: gone}, {Path: "kept", FileKey: kept}} {
		if err := db.PutUpload(u); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.DeleteUpload("gone"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil { // checkpoints the WAL into the file
		t.Fatal(err)
	}
	raw := readFile(t, path)
	if !bytes.Contains(raw, kept) {
		t.Fatal("catalog file does not contain the live upload's key; the search below proves nothing")
	}
	if bytes.Contains(raw, gone) {
		t.Error("catalog file still contains the file key of a deleted upload")
	}
}
