package sync

import (
	"bytes"
	"context"
	"crypto/md5"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/s3seal/s3seal/catalog"
	"github.com/s3seal/s3seal/cipher"
)

// FuzzRestorePath restores one object under a fuzzed catalog path into a
// destination that holds symlinks pointing out of it (one relative, one
// absolute). Whatever the path: nothing may be written outside the
// destination, no temporary file may be left, a path CheckPath refuses must
// fail, and a path that restores must read back under DEST with the
// object's bytes.
func FuzzRestorePath(f *testing.F) {
	for _, seed := range []string{"a", "d/e/f", "../x", "/abs", "up/../../x", "link/x", "abs/x",
		"a/./b", "a//b", "", ".", "..", "link", "a\x00b", "a\\..\\b", "dir/", "\xff\xfe", "new\nline",
		strings.Repeat("n", 300), "link/../x"} {
		f.Add(seed)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		f.Fatal(err)
	}
	plain := []byte("restored content\n")
	object := encryptTo(&testing.T{}, id.Recipient(), plain)
	store := &memStore{objects: map[string][]byte{"obj": object}}
	row := catalog.File{Size: int64(len(plain)), Mode: 0o644, ModTime: time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano(),
		PlainMD5: md5.Sum(plain), ObjectKey: "obj", ETag: etagOf(object), CipherSize: int64(len(object))}

	f.Fuzz(func(t *testing.T, rel string) {
		parent := t.TempDir()
		dest := filepath.Join(parent, "dest")
		outside := filepath.Join(parent, "outside")
		for _, dir := range []string{dest, outside} {
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Symlink("../outside", filepath.Join(dest, "link")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(outside, filepath.Join(dest, "abs")); err != nil {
			t.Fatal(err)
		}
		root, err := os.OpenRoot(dest)
		if err != nil {
			t.Fatal(err)
		}
		defer root.Close()

		r := row
		r.Path = rel
		_, _, err = restoreFile(context.Background(), root, newFetcher(bucketOf(store)), r, &RestoreOptions{Identities: []age.Identity{id}}, &reporter{})

		if entries, _ := os.ReadDir(outside); len(entries) != 0 {
			t.Fatalf("restoreFile(%q) wrote %d entries outside DEST (err %v)", rel, len(entries), err)
		}
		if entries, _ := os.ReadDir(parent); len(entries) != 2 {
			t.Fatalf("restoreFile(%q) wrote next to DEST: %d entries in its parent (err %v)", rel, len(entries), err)
		}
		filepath.WalkDir(dest, func(path string, d fs.DirEntry, werr error) error {
			if werr == nil && strings.HasPrefix(d.Name(), ".s3seal-restore-") {
				t.Errorf("restoreFile(%q) left a temporary file %s (err %v)", rel, path, err)
			}
			return nil
		})
		if CheckPath(rel) != nil {
			if err == nil {
				t.Fatalf("restoreFile(%q) succeeded; CheckPath refuses the path", rel)
			}
			return
		}
		if !filepath.IsLocal(filepath.FromSlash(rel)) {
			t.Fatalf("CheckPath(%q) accepts a path that is not local", rel)
		}
		if err != nil {
			return // for example a name too long, or a path through a symlink
		}
		got, rerr := os.ReadFile(filepath.Join(dest, filepath.FromSlash(rel)))
		if rerr != nil || !bytes.Equal(got, plain) {
			t.Fatalf("restoreFile(%q) succeeded but DEST/%s reads %q, %v", rel, rel, got, rerr)
		}
	})
}

// listingStore lists a fixed, possibly absurd, listing; every other read
// goes to the memStore.
type listingStore struct {
	*memStore
	listing []Object
}

func (s *listingStore) List(ctx context.Context, prefix string, fn func(Object) error) error {
	for _, o := range s.listing {
		if err := fn(o); err != nil {
			return err
		}
	}
	return nil
}

// parseListing turns fuzz bytes into listing entries, one a line of
// "key|etag|size"; a size that does not parse is the line's length.
func parseListing(data string) []Object {
	var objs []Object
	for _, line := range strings.Split(data, "\n") {
		fields := strings.SplitN(line, "|", 3)
		o := Object{Key: fields[0], Size: int64(len(line))}
		if len(fields) > 1 {
			o.ETag = fields[1]
		}
		if len(fields) > 2 {
			if n, err := strconv.ParseInt(fields[2], 10, 64); err == nil {
				o.Size = n
			}
		}
		objs = append(objs, o)
	}
	return objs
}

// FuzzAuditListing audits a catalog of three files against a fuzzed object
// listing (as a server, faulty or hostile, could send: duplicate keys, keys
// outside the prefix, empty or odd ETags, negative sizes). The remote
// findings must be exactly those that follow from the listing: a row whose
// key is not listed is object-missing, one listed with another ETag or size
// object-changed, a listed key no row has object-unknown (unless it is an
// internal one); the last listing of a key counts.
func FuzzAuditListing(f *testing.F) {
	f.Add("p/a|ETAG_a|SIZE_a\np/b/c|ETAG_b/c|SIZE_b/c\np/d|ETAG_d|SIZE_d")
	f.Add("p/a|ETAG_a|SIZE_a\np/a|0123|SIZE_a\np/x|x|-1")
	f.Add("p/.s3seal/catalog.age|e|1\n|\n\xff|\"q\"|9223372036854775807\nother/a|ETAG_a|SIZE_a")
	f.Add("")
	files := map[string]string{"a": "alpha", "b/c": "charlie", "d": ""}

	f.Fuzz(func(t *testing.T, data string) {
		fx := newAuditFixture(t, files)
		rows := make(map[string]catalog.File)
		for rel := range files {
			row, _, err := fx.db.Lookup(rel)
			if err != nil {
				t.Fatal(err)
			}
			rows[row.ObjectKey] = row
			data = strings.ReplaceAll(data, "ETAG_"+rel+"|", row.ETag+"|")
			data = strings.ReplaceAll(data, "SIZE_"+rel, strconv.FormatInt(row.CipherSize, 10))
		}
		listing := parseListing(data)
		store := &listingStore{memStore: fx.store, listing: listing}
		opts := AuditOptions{Source: fx.src, Prefix: "p", Target: "s3://b/p"}
		rep, err := Audit(context.Background(), fx.db, bucketOf(store), opts)
		for _, o := range listing {
			// An ETag or key no S3 server gives is refused, the whole
			// listing with it, and the error says so.
			if len(o.ETag) > math.MaxUint8 || len(o.Key) > math.MaxUint16 {
				if err == nil || !strings.Contains(err.Error(), "too long") {
					t.Fatalf("Audit with a %d-byte ETag or %d-byte key listed = %v; want the listing refused", len(o.ETag), len(o.Key), err)
				}
				return
			}
		}
		if err != nil {
			t.Fatalf("Audit with listing %q: %v", data, err)
		}

		last := make(map[string]Object)
		for _, o := range listing {
			last[o.Key] = o
		}
		var want []string
		for key, row := range rows {
			o, ok := last[key]
			switch {
			case !ok:
				want = append(want, finding(ObjectMissing, row.Path, key))
			case o.ETag != row.ETag || o.Size != row.CipherSize:
				want = append(want, finding(ObjectChanged, row.Path, key))
			}
		}
		meta := cipher.MetaKey("p", "")
		for key := range last {
			if _, known := rows[key]; !known && !strings.HasPrefix(key, meta) {
				want = append(want, finding(ObjectUnknown, "", key))
			}
		}
		var got []string
		for _, fd := range rep.Findings {
			got = append(got, finding(fd.Category, fd.Path, fd.Key))
		}
		if !sameSet(got, want) {
			t.Fatalf("Audit with listing %q found %q; want %q", data, got, want)
		}
	})
}

// finding renders a finding's category, path and key for comparison.
func finding(category, path, key string) string {
	return strconv.Quote(category) + " " + strconv.Quote(path) + " " + strconv.Quote(key)
}

func sameSet(a, b []string) bool {
	count := make(map[string]int)
	for _, s := range a {
		count[s]++
	}
	for _, s := range b {
		count[s]--
	}
	for _, n := range count {
		if n != 0 {
			return false
		}
	}
	return true
}

// FuzzImportCatalog imports fuzzed bytes as an exported catalog: as the
// age file itself, or (first byte odd) as the plaintext of one encrypted to
// the right identity, which reaches the SQLite checks. Whatever the bytes,
// ImportCatalog must not panic; on error the catalog must be unchanged,
// and on success every row must read back.
func FuzzImportCatalog(f *testing.F) {
	dir := f.TempDir()
	db, err := catalog.Open(filepath.Join(dir, "catalog.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	for i := range 5 {
		p := "file" + strconv.Itoa(i)
		if err := db.Put(catalog.File{Path: p, ObjectKey: "p/" + p, ETag: "e", Size: int64(i), UploadedAt: 1}); err != nil {
			f.Fatal(err)
		}
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		f.Fatal(err)
	}
	var export bytes.Buffer
	if err := ExportCatalog(db, &export, []age.Recipient{id.Recipient()}); err != nil {
		f.Fatal(err)
	}
	want := dumpRows(f, db)
	valid := export.Bytes()
	f.Add(append([]byte{0}, valid...))
	f.Add(append([]byte{0}, valid[:len(valid)/2]...))
	f.Add([]byte{0})
	f.Add([]byte("\x00age-encryption.org/v1\n-> X25519 abc\n"))
	f.Add([]byte("\x01not sqlite"))
	f.Add([]byte("\x01SQLite format 3\x00"))

	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		input := data[1:]
		if data[0]%2 == 1 {
			input = encryptTo(t, id.Recipient(), data[1:])
		}
		// The export is unsigned (db has no signing key): this fuzzes the
		// decoding, not the judgement.
		trust := Trust{AllowUnsigned: true, AllowPlainNames: true}
		_, err := ImportCatalog(db, bytes.NewReader(input), []age.Identity{id}, trust)
		if err != nil {
			if got := dumpRows(t, db); !reflect.DeepEqual(got, want) {
				t.Fatalf("ImportCatalog failed (%v) and changed the catalog: %d rows, was %d", err, len(got), len(want))
			}
			return
		}
		dumpRows(t, db)
		if _, err := ImportCatalog(db, bytes.NewReader(valid), []age.Identity{id}, trust); err != nil {
			t.Fatalf("re-import of the valid export after a success: %v", err)
		}
	})
}

// dumpRows returns every row of db, failing the test if one does not read.
func dumpRows(t testing.TB, db *catalog.DB) []catalog.File {
	t.Helper()
	var rows []catalog.File
	if err := db.Files(func(f catalog.File) error { rows = append(rows, f); return nil }); err != nil {
		t.Fatal(err)
	}
	return rows
}
