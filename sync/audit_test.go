package sync

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/s3seal/s3seal/catalog"
	"github.com/s3seal/s3seal/cipher"
)

// memStore is an in-memory bucket for audit unit tests. Audit only reads,
// so every write method fails the test.
type memStore struct {
	t       *testing.T
	objects map[string][]byte
	uploads []MultipartUpload
	gets    atomic.Int64
}

func newMemStore(t *testing.T) *memStore {
	return &memStore{t: t, objects: make(map[string][]byte)}
}

func etagOf(body []byte) string {
	sum := md5.Sum(body)
	return hex.EncodeToString(sum[:])
}

func (m *memStore) List(ctx context.Context, prefix string, fn func(Object) error) error {
	keys := make([]string, 0, len(m.objects))
	for k := range m.objects {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := fn(Object{Key: k, ETag: etagOf(m.objects[k]), Size: int64(len(m.objects[k]))}); err != nil {
			return err
		}
	}
	return nil
}

func (m *memStore) Head(ctx context.Context, key string) (Object, error) {
	body, ok := m.objects[key]
	if !ok {
		return Object{}, ErrNotFound
	}
	return Object{Key: key, ETag: etagOf(body), Size: int64(len(body))}, nil
}

func (m *memStore) Get(ctx context.Context, key string) (io.ReadCloser, Object, error) {
	m.gets.Add(1)
	body, ok := m.objects[key]
	if !ok {
		return nil, Object{}, ErrNotFound
	}
	return io.NopCloser(bytes.NewReader(body)), Object{Key: key, ETag: etagOf(body), Size: int64(len(body))}, nil
}

func (m *memStore) Uploads(ctx context.Context, prefix string) ([]MultipartUpload, error) {
	return m.uploads, nil
}

func (m *memStore) ListParts(ctx context.Context, key, uploadID string) ([]Part, error) {
	return nil, nil
}

func (m *memStore) write(op string) error {
	m.t.Errorf("audit called %s; it must not write to the bucket", op)
	return errors.New("read-only store")
}

func (m *memStore) Put(ctx context.Context, key string, body []byte, opts PutOptions) (Object, error) {
	return Object{}, m.write("Put")
}

func (m *memStore) Copy(ctx context.Context, srcKey, dstKey string, opts PutOptions) (Object, error) {
	return Object{}, m.write("Copy")
}

func (m *memStore) Delete(ctx context.Context, keys ...string) error { return m.write("Delete") }

func (m *memStore) CreateMultipart(ctx context.Context, key string, opts PutOptions) (string, error) {
	return "", m.write("CreateMultipart")
}

func (m *memStore) UploadPart(ctx context.Context, key, uploadID string, number int32, body []byte, sum [32]byte) (Part, error) {
	return Part{}, m.write("UploadPart")
}

func (m *memStore) CompleteMultipart(ctx context.Context, key, uploadID string, parts []Part) (Object, error) {
	return Object{}, m.write("CompleteMultipart")
}

func (m *memStore) AbortMultipart(ctx context.Context, key, uploadID string) error {
	return m.write("AbortMultipart")
}

// bucketOf is the Bucket "b" served by s.
func bucketOf(s interface {
	Objects
	Multipart
	Copier
	UploadLister
}) Bucket {
	return Bucket{Name: "b", Objects: s, Multipart: s, Copier: s, UploadLister: s}
}

// auditFixture is a source folder whose files are all recorded in a plain-
// names catalog, with each object encrypted to id.
type auditFixture struct {
	src   string
	db    *catalog.DB
	store *memStore
	id    *age.X25519Identity
}

func newAuditFixture(t *testing.T, files map[string]string) *auditFixture {
	t.Helper()
	dir := t.TempDir()
	db, err := catalog.Open(filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := PrepareTarget(db, "s3://b/p", NamingPlain, false); err != nil {
		t.Fatal(err)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	fx := &auditFixture{src: filepath.Join(dir, "src"), db: db, store: newMemStore(t), id: id}
	for rel, content := range files {
		fx.write(t, rel, content)
		fx.record(t, rel)
	}
	return fx
}

func (fx *auditFixture) write(t *testing.T, rel, content string) {
	t.Helper()
	path := filepath.Join(fx.src, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// record encrypts rel's content as its object and writes its catalog row,
// as a sync would.
func (fx *auditFixture) record(t *testing.T, rel string) {
	t.Helper()
	e, err := statEntry(fx.src, rel)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := os.ReadFile(filepath.Join(fx.src, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	key := "p/" + rel
	fx.store.objects[key] = encryptTo(t, fx.id.Recipient(), plain)
	body := fx.store.objects[key]
	err = fx.db.Put(catalog.File{Path: rel, Size: e.Size, Mode: uint32(e.Mode), ModTime: e.ModTime,
		ChangeTime: e.ChangeTime, Inode: e.Inode, Device: e.Device, PlainMD5: md5.Sum(plain),
		ObjectKey: key, ETag: etagOf(body), CipherSize: int64(len(body)), UploadedAt: time.Now().Unix()})
	if err != nil {
		t.Fatal(err)
	}
}

func encryptTo(t *testing.T, r age.Recipient, plain []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func (fx *auditFixture) audit(t *testing.T, opts AuditOptions) AuditReport {
	t.Helper()
	opts.Source, opts.Prefix, opts.Target = fx.src, "p", "s3://b/p"
	rep, err := Audit(context.Background(), fx.db, bucketOf(fx.store), opts)
	if err != nil {
		t.Fatalf("Audit: %v", err)
	}
	return rep
}

// found renders findings as "category path key" lines for comparison.
func found(findings []Finding) []string {
	var out []string
	for _, f := range findings {
		out = append(out, strings.Join(strings.Fields(f.Category+" "+f.Path+" "+f.Key), " "))
	}
	return out
}

func TestAuditConsistentAndTouched(t *testing.T) {
	fx := newAuditFixture(t, map[string]string{"a": "alpha", "dir/b": "beta", "c": "gamma"})
	fx.store.objects["p/.s3seal/catalog.age"] = []byte("the mirror")
	fx.store.objects["p/.s3seal/key.age"] = []byte("the sealed key")
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(fx.src, "a"), later, later); err != nil {
		t.Fatal(err)
	}
	rep := fx.audit(t, AuditOptions{})
	if !rep.Consistent() || rep.Failed != 0 {
		t.Errorf("Audit of a synced tree with a touched file = %q (failed %d); want no findings", found(rep.Findings), rep.Failed)
	}
	if rep.Files != 3 || rep.Rows != 3 || rep.Objects != 3 {
		t.Errorf("Audit counted %d files, %d rows, %d objects; want 3 of each (internal objects not counted)", rep.Files, rep.Rows, rep.Objects)
	}
	if fx.store.gets.Load() != 0 {
		t.Errorf("a LIST-only audit made %d GETs; want 0", fx.store.gets.Load())
	}
}

func TestAuditCategories(t *testing.T) {
	fx := newAuditFixture(t, map[string]string{
		"same-size": "0123456789", "resized": "short", "gone": "local file deleted",
		"no-object": "object deleted", "overwritten": "object replaced", "in-flight": "being uploaded", "ok": "fine",
	})
	// Same size and mtime, other content: only the ctime tells, and the hash.
	path := filepath.Join(fx.src, "same-size")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	rewriteWithNewCtime(t, fx, "same-size", "0123456780", fi.ModTime())
	fx.write(t, "resized", "longer than before")
	fx.write(t, "new/file", "never synced")
	if err := os.Remove(filepath.Join(fx.src, "gone")); err != nil {
		t.Fatal(err)
	}
	delete(fx.store.objects, "p/no-object")
	fx.store.objects["p/overwritten"] = []byte("someone else's bytes")
	fx.store.objects["p/stray"] = []byte("put by another tool")
	fx.store.uploads = []MultipartUpload{
		{Key: "p/abandoned", UploadID: "u-unknown", Initiated: time.Now()},
		{Key: "p/in-flight", UploadID: "u-known", Initiated: time.Now()},
	}
	if err := fx.db.PutUpload(catalog.Upload{Path: "in-flight", ObjectKey: "p/in-flight", UploadID: "u-known", StartedAt: time.Now().Unix()}); err != nil {
		t.Fatal(err)
	}

	rep := fx.audit(t, AuditOptions{})
	want := []string{
		"local-new new/file",
		"local-changed resized p/resized",
		"local-changed same-size p/same-size",
		"local-missing gone p/gone",
		"object-missing no-object p/no-object",
		"object-changed overwritten p/overwritten",
		"object-unknown p/stray",
		"upload-unfinished p/abandoned",
		"upload-unfinished in-flight p/in-flight",
	}
	if got := found(rep.Findings); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Audit findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if fx.store.gets.Load() != 0 {
		t.Errorf("a LIST-only audit made %d GETs; want 0", fx.store.gets.Load())
	}
	if n, _ := fx.db.Count(); n != 7 {
		t.Errorf("catalog has %d rows after the audit; want the 7 it had", n)
	}
}

// rewriteWithNewCtime writes content to rel, sets its mtime back to mtime,
// and makes sure its ctime is not the one its catalog row recorded. Where
// the kernel stamps files from a coarse clock (a tick of 1 to 10 ms, as
// before Linux 6.13), a rewrite a millisecond after the row was recorded
// can get the same ctime, and then nothing but a hash could tell the
// change. Any real later edit comes after the clock has moved: the row is
// moved back a nanosecond to say so, rather than waiting for the clock.
func rewriteWithNewCtime(t *testing.T, fx *auditFixture, rel, content string, mtime time.Time) {
	t.Helper()
	row, ok, err := fx.db.Lookup(rel)
	if err != nil || !ok {
		t.Fatalf("catalog row of %s: %v, %v", rel, ok, err)
	}
	fx.write(t, rel, content)
	if err := os.Chtimes(filepath.Join(fx.src, filepath.FromSlash(rel)), mtime, mtime); err != nil {
		t.Fatal(err)
	}
	e, err := statEntry(fx.src, rel)
	if err != nil {
		t.Fatal(err)
	}
	if e.Size != row.Size || e.ModTime != row.ModTime || e.Inode != row.Inode {
		t.Fatalf("rewritten %s: size %d, mtime %d, inode %d; want the row's %d, %d, %d", rel,
			e.Size, e.ModTime, e.Inode, row.Size, row.ModTime, row.Inode)
	}
	if e.ChangeTime == row.ChangeTime {
		row.ChangeTime--
		if err := fx.db.Put(row); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAuditDeep(t *testing.T) {
	fx := newAuditFixture(t, map[string]string{"good": "good content", "swapped": "original", "cut": strings.Repeat("x", 100000)})
	other := encryptTo(t, fx.id.Recipient(), []byte("not the original"))
	fx.store.objects["p/swapped"] = other
	cut := fx.store.objects["p/cut"]
	fx.store.objects["p/cut"] = cut[:len(cut)-100]

	rep := fx.audit(t, AuditOptions{Deep: true, Identities: []age.Identity{fx.id}})
	want := []string{
		"object-changed cut p/cut",
		"object-changed swapped p/swapped",
		"decrypt-failed cut p/cut",
		"content-mismatch swapped p/swapped",
	}
	if got := found(rep.Findings); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("deep Audit findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if rep.Checked != 3 {
		t.Errorf("deep Audit checked %d objects; want 3", rep.Checked)
	}

	rep = fx.audit(t, AuditOptions{Deep: true, Identities: []age.Identity{fx.id}, Sample: 10})
	if rep.Checked != 1 {
		t.Errorf("deep Audit with a 10%% sample of 3 rows checked %d objects; want 1", rep.Checked)
	}
}

func TestAuditDeepWrongIdentity(t *testing.T) {
	fx := newAuditFixture(t, map[string]string{"a": "alpha", "b": "beta"})
	stranger, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	_, err = Audit(context.Background(), fx.db, bucketOf(fx.store), AuditOptions{Source: fx.src, Prefix: "p",
		Deep: true, Identities: []age.Identity{stranger}})
	if !errors.Is(err, cipher.ErrWrongIdentity) {
		t.Errorf("deep Audit with a stranger's identity: err = %v; want ErrWrongIdentity", err)
	}
}

func TestAuditRefusesOtherOrUnsyncedCatalog(t *testing.T) {
	fx := newAuditFixture(t, map[string]string{"a": "alpha"})
	_, err := Audit(context.Background(), fx.db, bucketOf(fx.store), AuditOptions{Source: fx.src, Prefix: "q", Target: "s3://b/q"})
	if !errors.Is(err, ErrOtherTarget) {
		t.Errorf("Audit against another target: err = %v; want ErrOtherTarget", err)
	}
	db, err := catalog.Open(filepath.Join(t.TempDir(), "fresh.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = Audit(context.Background(), db, bucketOf(fx.store), AuditOptions{Source: fx.src, Prefix: "p"})
	if !errors.Is(err, ErrNotSynced) {
		t.Errorf("Audit with a fresh catalog: err = %v; want ErrNotSynced", err)
	}
}

func TestSampleSize(t *testing.T) {
	tests := []struct {
		n       int
		percent float64
		want    int
	}{
		{0, 10, 0}, {3, 0, 3}, {3, 100, 3}, {3, 10, 1}, {1000, 10, 100},
		{1000, 0.01, 1}, {1001, 10, 101}, {7, 50, 4}, {5, 150, 5},
	}
	for _, tt := range tests {
		if got := sampleSize(tt.n, tt.percent); got != tt.want {
			t.Errorf("sampleSize(%d, %v) = %d; want %d", tt.n, tt.percent, got, tt.want)
		}
	}
}

// TestAuditRetentionLapsed: a row whose version's Object Lock retention
// ended is a finding; one still retained, and one never locked, are not.
func TestAuditRetentionLapsed(t *testing.T) {
	fx := newAuditFixture(t, map[string]string{"lapsed": "a", "held": "b", "never": "c"})
	for path, until := range map[string]int64{"lapsed": time.Now().Add(-time.Hour).Unix(), "held": time.Now().Add(time.Hour).Unix()} {
		row, _, err := fx.db.Lookup(path)
		if err != nil {
			t.Fatal(err)
		}
		row.VersionID, row.RetainUntil = "v-"+path, until
		if err := fx.db.Put(row); err != nil {
			t.Fatal(err)
		}
	}
	rep := fx.audit(t, AuditOptions{})
	if got := found(rep.Findings); len(got) != 1 || got[0] != "retention-lapsed lapsed p/lapsed" {
		t.Errorf("Audit = %q; want only the lapsed retention", got)
	}
}
