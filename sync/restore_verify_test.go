package sync

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/s3seal/s3seal/catalog"
)

// md5Collision is the classic published MD5 collision pair (Wang et al.):
// two 128-byte messages with the same MD5 and different SHA-256.
var md5Collision = [2]string{
	"d131dd02c5e6eec4693d9a0698aff95c2fcab58712467eab4004583eb8fb7f8955ad340609f4b30283e488832571415a085125e8f7cdc99fd91dbdf280373c5bd8823e3156348f5bae6dacd436c919c6dd53e2b487da03fd02396306d248cda0e99f33420f577ee8ce54b67080a80d1ec69821bcb6a8839396f9652b6ff72a70",
	"d131dd02c5e6eec4693d9a0698aff95c2fcab50712467eab4004583eb8fb7f8955ad340609f4b30283e4888325f1415a085125e8f7cdc99fd91dbd7280373c5bd8823e3156348f5bae6dacd436c919c6dd53e23487da03fd02396306d248cda0e99f33420f577ee8ce54b67080280d1ec69821bcb6a8839396f965ab6ff72a70",
}

// collisionTwins returns the two messages of md5Collision, after checking
// that their MD5s agree and their SHA-256s differ.
func collisionTwins(t *testing.T) (one, two []byte) {
	t.Helper()
	one, err1 := hex.DecodeString(md5Collision[0])
	two, err2 := hex.DecodeString(md5Collision[1])
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if sum := md5.Sum(one); sum != md5.Sum(two) || hex.EncodeToString(sum[:]) != "79054025255fb1a26e4bc422aef54eb4" {
		t.Fatal("the twins' MD5s differ; the collision tests prove nothing")
	}
	if sha256.Sum256(one) == sha256.Sum256(two) {
		t.Fatal("the twins' SHA-256s agree")
	}
	return one, two
}

// restoreFixture is a catalog and a bucket for restore tests, each row's
// object encrypted to id.
type restoreFixture struct {
	db    *catalog.DB
	store *memStore
	id    *age.X25519Identity
	dest  string
}

func newRestoreFixture(t *testing.T) *restoreFixture {
	t.Helper()
	dir := t.TempDir()
	db, err := catalog.Open(filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return &restoreFixture{db: db, store: newMemStore(t), id: id, dest: filepath.Join(dir, "dest")}
}

// add stores plain as rel's object and records the row a sync would, with
// SHA-256, after edit (when not nil) changed it.
func (fx *restoreFixture) add(t *testing.T, rel string, plain []byte, edit func(*catalog.File)) {
	t.Helper()
	key := "p/" + rel
	body := encryptTo(t, fx.id.Recipient(), plain)
	fx.store.objects[key] = body
	f := catalog.File{Path: rel, Size: int64(len(plain)), Mode: 0o640,
		ModTime: time.Date(2021, 5, 6, 7, 8, 9, 0, time.UTC).UnixNano(), PlainMD5: md5.Sum(plain),
		PlainSHA256: sha256.Sum256(plain), HasSHA256: true,
		ObjectKey: key, ETag: etagOf(body), CipherSize: int64(len(body)), UploadedAt: 1}
	if edit != nil {
		edit(&f)
	}
	if err := fx.db.Put(f); err != nil {
		t.Fatal(err)
	}
}

// restore runs Restore and returns its summary and the fail events by path.
func (fx *restoreFixture) restore(t *testing.T, opts RestoreOptions) (RestoreSummary, map[string]Event, map[string]Event) {
	t.Helper()
	fails, dones := map[string]Event{}, map[string]Event{}
	opts.Dest, opts.Identities = fx.dest, []age.Identity{fx.id}
	opts.Report = func(e Event) {
		switch e.Kind {
		case EventFail:
			fails[e.Path] = e
		case EventDone:
			dones[e.Path] = e
		}
	}
	sum, err := Restore(context.Background(), fx.db, bucketOf(fx.store), opts)
	if err != nil {
		t.Fatalf("Restore() = %v", err)
	}
	return sum, fails, dones
}

// checkAbsent fails unless DEST has nothing under rel.
func (fx *restoreFixture) checkAbsent(t *testing.T, rel string) {
	t.Helper()
	if _, err := os.Lstat(filepath.Join(fx.dest, rel)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("DEST/%s exists after it failed verification (%v)", rel, err)
	}
}

// TestRestoreVerifiesObjectAndContent records rows that disagree with
// their objects in one way each: restore must fail each of them with a
// verification error, write none under its name, and restore the intact
// file.
func TestRestoreVerifiesObjectAndContent(t *testing.T) {
	one, two := collisionTwins(t)
	fx := newRestoreFixture(t)
	fx.add(t, "intact", []byte("intact content\n"), nil)
	fx.add(t, "etag", []byte("same bytes, other etag\n"), func(f *catalog.File) { f.ETag = "0123456789abcdef0123456789abcdef" })
	fx.add(t, "cipher-size", []byte("one byte more recorded\n"), func(f *catalog.File) { f.CipherSize++ })
	fx.add(t, "plain-size", []byte("one byte more recorded\n"), func(f *catalog.File) { f.Size++ })
	// The bucket holds twin two; the row, as a forged mirror could make it,
	// has that object's ETag but twin one's hashes.
	fx.add(t, "twin", two, func(f *catalog.File) { f.PlainSHA256 = sha256.Sum256(one) })

	sum, fails, _ := fx.restore(t, RestoreOptions{})
	want := map[string]error{"etag": ErrObjectChanged, "cipher-size": ErrObjectChanged,
		"plain-size": ErrMismatch, "twin": ErrMismatch}
	for rel, sentinel := range want {
		if e, ok := fails[rel]; !ok || !errors.Is(e.Err, sentinel) || e.Reason != "verify" {
			t.Errorf("fail event for %s = %+v, %v; want reason verify and an error wrapping %q", rel, e, ok, sentinel)
		}
		fx.checkAbsent(t, rel)
	}
	if sum.Restored != 1 || sum.Failed != 4 || sum.MD5Only != 0 {
		t.Errorf("summary %+v; want 1 restored, 4 failed, none by MD5 only", sum)
	}
	if got, err := os.ReadFile(filepath.Join(fx.dest, "intact")); err != nil || string(got) != "intact content\n" {
		t.Errorf("DEST/intact = %q, %v", got, err)
	}
}

// TestRestoreRowWithoutSHA256 restores a row recorded before the catalog
// kept SHA-256: it is verified by MD5, and the summary and its done event
// say so: MD5 alone cannot tell a collision twin from the file.
func TestRestoreRowWithoutSHA256(t *testing.T) {
	fx := newRestoreFixture(t)
	noSHA := func(f *catalog.File) { f.PlainSHA256, f.HasSHA256 = [32]byte{}, false }
	fx.add(t, "old", []byte("recorded by an older version\n"), noSHA)
	fx.add(t, "new", []byte("recorded with sha-256\n"), nil)
	fx.add(t, "old-wrong", []byte("md5 disagrees\n"), func(f *catalog.File) { noSHA(f); f.PlainMD5[0] ^= 1 })

	sum, fails, dones := fx.restore(t, RestoreOptions{})
	if sum.Restored != 2 || sum.MD5Only != 1 || sum.Failed != 1 {
		t.Errorf("summary %+v; want 2 restored, 1 of them by MD5 only, 1 failed", sum)
	}
	if dones["old"].Reason != ReasonMD5Only || dones["new"].Reason != "" {
		t.Errorf("done reasons: old %q, new %q; want %q and none", dones["old"].Reason, dones["new"].Reason, ReasonMD5Only)
	}
	if !errors.Is(fails["old-wrong"].Err, ErrMismatch) {
		t.Errorf("old-wrong: %v; want a content mismatch by MD5", fails["old-wrong"].Err)
	}
	fx.checkAbsent(t, "old-wrong")
}

// TestRestoreSpecialModes restores a row with setuid, setgid and sticky
// bits: without the option the file gets its permissions only; with it (as
// root, who may set them all) the bits too.
func TestRestoreSpecialModes(t *testing.T) {
	fx := newRestoreFixture(t)
	special := fs.FileMode(0o755) | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky
	fx.add(t, "suid", []byte("#!/bin/sh\n"), func(f *catalog.File) { f.Mode = uint32(special) })
	fx.restore(t, RestoreOptions{})
	if fi, err := os.Stat(filepath.Join(fx.dest, "suid")); err != nil || fi.Mode() != 0o755 {
		t.Fatalf("restored mode %v, %v; want -rwxr-xr-x without setuid, setgid or sticky", fi.Mode(), err)
	}
	if os.Geteuid() != 0 {
		t.Skip("keeping the special bits is checked as root")
	}
	fx.dest = filepath.Join(t.TempDir(), "kept")
	fx.restore(t, RestoreOptions{KeepSpecialModes: true})
	if fi, err := os.Stat(filepath.Join(fx.dest, "suid")); err != nil || fi.Mode() != special {
		t.Errorf("restored mode with KeepSpecialModes %v, %v; want %v", fi.Mode(), err, special)
	}
}

// TestRestoreRefusesNonRegularRows gives rows the modes of a symlink, a
// device, a pipe and bits s3seal never records: each is refused, nothing is
// created under its name, and its object is not even fetched.
func TestRestoreRefusesNonRegularRows(t *testing.T) {
	fx := newRestoreFixture(t)
	modes := map[string]fs.FileMode{
		"symlink": fs.ModeSymlink | 0o777,
		"device":  fs.ModeDevice | 0o644,
		"chardev": fs.ModeDevice | fs.ModeCharDevice | 0o666,
		"pipe":    fs.ModeNamedPipe | 0o644,
		"unix":    0o100644, // a stat(2) mode, not an fs.FileMode
	}
	for rel, mode := range modes {
		fx.add(t, rel, []byte("/etc/passwd"), func(f *catalog.File) { f.Mode = uint32(mode) })
	}
	fx.add(t, "regular", []byte("fine\n"), nil)
	sum, fails, _ := fx.restore(t, RestoreOptions{})
	for rel := range modes {
		if e := fails[rel]; !errors.Is(e.Err, ErrNotRegular) || e.Reason != "mode" {
			t.Errorf("fail event for %s = %+v; want reason mode, an error wrapping %q", rel, e, ErrNotRegular)
		}
		fx.checkAbsent(t, rel)
	}
	if sum.Restored != 1 || sum.Failed != len(modes) || fx.store.gets.Load() != 1 {
		t.Errorf("summary %+v after %d GETs; want 1 restored, %d failed, 1 GET", sum, fx.store.gets.Load(), len(modes))
	}
}

// swappedGetStore answers Get for one key with another object's body
// and ETag while its listing still shows the recorded one: the object was
// replaced between the LIST and the GET.
type swappedGetStore struct {
	*memStore
	key, with string
}

func (s *swappedGetStore) Get(ctx context.Context, key string) (io.ReadCloser, Object, error) {
	if key == s.key {
		key = s.with
	}
	return s.memStore.Get(ctx, key)
}

// TestAuditDeepVerifiesGetETagAndSHA256 gives a deep audit an object whose
// GET response is another object than the listing showed, a row whose
// SHA-256 is not its object's (an MD5-collision twin, as a forged mirror
// could pair them), and rows without SHA-256: the first two are findings,
// never "verified", and the others are verified by MD5 and counted so.
func TestAuditDeepVerifiesGetETagAndSHA256(t *testing.T) {
	one, two := collisionTwins(t)
	fx := newAuditFixture(t, map[string]string{"good": "good content", "raced": "listed content", "twin": string(two)})
	row, _, err := fx.db.Lookup("twin")
	if err != nil {
		t.Fatal(err)
	}
	row.PlainSHA256, row.HasSHA256 = sha256.Sum256(one), true
	if err := fx.db.Put(row); err != nil {
		t.Fatal(err)
	}
	fx.store.objects["other"] = encryptTo(t, fx.id.Recipient(), []byte("listed content"))
	store := &swappedGetStore{memStore: fx.store, key: "p/raced", with: "other"}

	var verified []string
	opts := AuditOptions{Source: fx.src, Prefix: "p", Target: "s3://b/p", Deep: true, Identities: []age.Identity{fx.id},
		Report: func(e Event) {
			if e.Kind == EventDone {
				verified = append(verified, e.Path+" "+e.Reason)
			}
		}}
	rep, err := Audit(context.Background(), fx.db, bucketOf(store), opts)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"object-changed raced p/raced", "content-mismatch twin p/twin"}
	if got := found(rep.Findings); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("deep Audit findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(verified) != 1 || verified[0] != "good "+ReasonVerifiedMD5Only || rep.MD5Only != 1 {
		t.Errorf("verified events %q, MD5Only %d; want only good, by MD5 only, counted", verified, rep.MD5Only)
	}
}

// TestCheckObjectRefusesMissingETag: a GetObject answer without an ETag
// cannot show it is the version the catalog recorded, and for a row without
// SHA-256 the content check alone (MD5) would pass a collision twin.
func TestCheckObjectRefusesMissingETag(t *testing.T) {
	f := catalog.File{ObjectKey: "k", ETag: "0123456789abcdef0123456789abcdef", CipherSize: 100}
	for _, obj := range []Object{{ETag: "", Size: 100}, {ETag: "fedcba9876543210fedcba9876543210", Size: 100}, {ETag: f.ETag, Size: 99}} {
		if err := checkObject(f, obj); !errors.Is(err, ErrObjectChanged) {
			t.Errorf("checkObject(ETag %q, size %d) = %v; want ErrObjectChanged", obj.ETag, obj.Size, err)
		}
	}
	if err := checkObject(f, Object{ETag: f.ETag, Size: 100}); err != nil {
		t.Errorf("checkObject of the recorded object = %v", err)
	}
}
