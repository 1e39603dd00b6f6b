package sync_test

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	gosync "sync"
	"testing"

	"filippo.io/age"

	"github.com/s3seal/s3seal/catalog"
	"github.com/s3seal/s3seal/sync"
	"github.com/s3seal/s3seal/sync/memstore"
)

const (
	prefix = "backup"
	// partSize is the smallest part size the engine uses (it raises smaller
	// ones to S3's minimum), so a multipart file costs 5 MiB a part.
	partSize = 5 << 20
	jobs     = 2
)

// fixture is a source folder, a new catalog for a bucket's prefix (the
// first Sync binds it, with hidden names) and an X25519 identity.
type fixture struct {
	t      *testing.T
	src    string
	db     *catalog.DB
	bucket sync.Bucket
	id     *age.X25519Identity
	// mirrored makes Sync push the catalog mirror, as the CLI does; the
	// tests that count requests leave it off and push it with mirror.
	mirrored bool
	// tune, when set, adjusts the options of every sync (Delete,
	// PutOptions, ...).
	tune func(*sync.Options)
}

func newFixture(t *testing.T, bucket sync.Bucket) *fixture {
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
	src := filepath.Join(dir, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, src: src, db: db, bucket: bucket, id: id}
}

// write makes rel, with its folders, hold content.
func (fx *fixture) write(rel string, content []byte) {
	fx.t.Helper()
	path := filepath.Join(fx.src, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		fx.t.Fatal(err)
	}
	if err := os.WriteFile(path, content, 0o640); err != nil {
		fx.t.Fatal(err)
	}
}

// sync runs the engine over the source and returns its summary, error and
// events. The events are appended without a lock: the engine promises to
// serialize its calls to the Reporter, and the race detector holds it to it.
func (fx *fixture) sync(ctx context.Context) (sync.Summary, []sync.Event, error) {
	fx.t.Helper()
	var events []sync.Event
	opts := sync.Options{
		Source: fx.src, Target: "s3://" + fx.bucket.Name + "/" + prefix, Prefix: prefix,
		Keys: func(context.Context, *catalog.DB, sync.Bucket) ([]age.Recipient, string, error) {
			return []age.Recipient{fx.id.Recipient()}, "test", nil
		},
		NoMirror: !fx.mirrored, Jobs: jobs, PartSize: partSize, Report: func(e sync.Event) { events = append(events, e) },
	}
	if fx.tune != nil {
		fx.tune(&opts)
	}
	sum, err := sync.Sync(ctx, fx.db, fx.bucket, opts)
	return sum, events, err
}

// mustSync runs a sync that must finish with no failed file.
func (fx *fixture) mustSync() sync.Summary {
	fx.t.Helper()
	sum, events, err := fx.sync(context.Background())
	if err != nil {
		fx.t.Fatalf("Sync = %v", err)
	}
	noFailures(fx.t, "Sync", events)
	return sum
}

// mirror pushes the catalog's mirror, as the CLI does after a sync.
func (fx *fixture) mirror() {
	fx.t.Helper()
	if _, err := sync.UpdateMirror(context.Background(), fx.db, fx.bucket, prefix, []age.Recipient{fx.id.Recipient()}, "test"); err != nil {
		fx.t.Fatalf("UpdateMirror = %v", err)
	}
}

// noFailures fails the test for every fail event.
func noFailures(t *testing.T, run string, events []sync.Event) {
	t.Helper()
	for _, e := range events {
		if e.Kind == sync.EventFail {
			t.Errorf("%s: %s failed: %v", run, e.Path, e.Err)
		}
	}
}

// object returns the key of rel's object as the catalog records it.
func (fx *fixture) object(rel string) string {
	fx.t.Helper()
	row, ok, err := fx.db.Lookup(rel)
	if err != nil || !ok {
		fx.t.Fatalf("catalog row of %s: %v, %v", rel, ok, err)
	}
	return row.ObjectKey
}

// checkObjects checks that every file of the source has an object that
// decrypts, with age and the fixture's identity, to the file's bytes.
func (fx *fixture) checkObjects() {
	fx.t.Helper()
	for rel, want := range readTree(fx.t, fx.src) {
		key := fx.object(rel)
		rc, _, err := fx.bucket.Get(context.Background(), key)
		if err != nil {
			fx.t.Errorf("Get the object of %s: %v", rel, err)
			continue
		}
		plain, err := age.Decrypt(rc, fx.id)
		var got []byte
		if err == nil {
			got, err = io.ReadAll(plain)
		}
		rc.Close()
		if err != nil || !bytes.Equal(got, want.content) {
			fx.t.Errorf("the object of %s decrypts to %d bytes (%v); want the file's %d", rel, len(got), err, len(want.content))
		}
	}
}

// restore restores the catalog into a fresh folder and checks that the
// folder then holds the source tree, byte for byte.
func (fx *fixture) restore() sync.RestoreSummary {
	fx.t.Helper()
	dest := filepath.Join(fx.t.TempDir(), "restored")
	var events []sync.Event
	sum, err := sync.Restore(context.Background(), fx.db, fx.bucket, sync.RestoreOptions{
		Dest: dest, Identities: []age.Identity{fx.id}, Jobs: jobs,
		Report: func(e sync.Event) { events = append(events, e) },
	})
	if err != nil {
		fx.t.Fatalf("Restore = %v", err)
	}
	noFailures(fx.t, "Restore", events)
	sameTree(fx.t, fx.src, dest)
	return sum
}

// file is what a restore must bring back of a file.
type file struct {
	content []byte
	mode    fs.FileMode
	modTime int64
}

// readTree returns the regular files under root by slash-separated path.
func readTree(t *testing.T, root string) map[string]file {
	t.Helper()
	files := make(map[string]file)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		content, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		files[filepath.ToSlash(rel)] = file{content, info.Mode(), info.ModTime().UnixNano()}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// sameTree fails the test unless got holds the files of want with their
// content, permissions and modification times, and no other file.
func sameTree(t *testing.T, want, got string) {
	t.Helper()
	wantFiles, gotFiles := readTree(t, want), readTree(t, got)
	for rel, w := range wantFiles {
		g, ok := gotFiles[rel]
		switch {
		case !ok:
			t.Errorf("restored tree lacks %s", rel)
		case !bytes.Equal(g.content, w.content):
			t.Errorf("restored %s has %d bytes differing from the source's %d", rel, len(g.content), len(w.content))
		case g.mode != w.mode || g.modTime != w.modTime:
			t.Errorf("restored %s has mode %v, mtime %d; want %v, %d", rel, g.mode, g.modTime, w.mode, w.modTime)
		}
	}
	for rel := range gotFiles {
		if _, ok := wantFiles[rel]; !ok {
			t.Errorf("restored tree has %s, which the source has not", rel)
		}
	}
}

// randomBytes returns n bytes drawn from seed: the same bytes on every run.
func randomBytes(seed byte, n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{seed}).Read(b)
	return b
}

// call is one operation the memory store served.
type call struct {
	op   memstore.Op
	key  string
	part int32
}

// opLog is a memstore hook: it records every operation and lets a test
// fail one.
type opLog struct {
	mu    gosync.Mutex
	calls []call
	fault func(call) error // may be nil
}

// newMemBucket returns a memory store whose operations log records.
func newMemBucket() (*memstore.Store, *opLog) {
	store, log := memstore.New("mem"), &opLog{}
	store.Hook = log.hook
	return store, log
}

func (l *opLog) hook(op memstore.Op, key string, part int32) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := call{op, key, part}
	l.calls = append(l.calls, c)
	if l.fault != nil {
		return l.fault(c)
	}
	return nil
}

// take returns the operations since the last take.
func (l *opLog) take() []call {
	l.mu.Lock()
	defer l.mu.Unlock()
	calls := l.calls
	l.calls = nil
	return calls
}

func (l *opLog) setFault(fault func(call) error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fault = fault
}

// only returns the calls of the operations ops.
func only(calls []call, ops ...memstore.Op) []call {
	var out []call
	for _, c := range calls {
		if slices.Contains(ops, c.op) {
			out = append(out, c)
		}
	}
	return out
}

// writes returns the calls that can change the bucket.
func writes(calls []call) []call {
	var out []call
	for _, c := range calls {
		if c.op.Writes() {
			out = append(out, c)
		}
	}
	return out
}
