package sync_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"errors"
	"io"
	"testing"

	"filippo.io/age"

	"github.com/s3seal/s3seal/catalog"
	"github.com/s3seal/s3seal/cipher"
	"github.com/s3seal/s3seal/sync"
	"github.com/s3seal/s3seal/sync/memstore"
)

// freshFixture is a memory bucket whose objects are age files to oldID,
// each with a catalog row that records its plaintext's hashes.
type freshFixture struct {
	t      *testing.T
	store  *memstore.Store
	log    *opLog
	db     *catalog.DB
	oldID  *age.X25519Identity
	newID  *age.X25519Identity
	plains map[string][]byte
	old    map[string][]byte // the objects as first written
}

func newFreshFixture(t *testing.T, plains map[string][]byte) *freshFixture {
	t.Helper()
	store, log := newMemBucket()
	db, err := catalog.Open(t.TempDir() + "/catalog.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	fx := &freshFixture{t: t, store: store, log: log, db: db, plains: plains, old: map[string][]byte{}}
	fx.oldID, _ = age.GenerateX25519Identity()
	fx.newID, _ = age.GenerateX25519Identity()
	for name, plain := range plains {
		var file bytes.Buffer
		w, _ := age.Encrypt(&file, fx.oldID.Recipient())
		w.Write(plain)
		w.Close()
		obj, err := store.Put(context.Background(), "p/"+name, file.Bytes(), sync.PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		fx.old[name] = file.Bytes()
		row := catalog.File{Path: name, Size: int64(len(plain)), ObjectKey: obj.Key, ETag: obj.ETag, CipherSize: obj.Size,
			PlainMD5: md5.Sum(plain), PlainSHA256: sha256.Sum256(plain), HasSHA256: true}
		if err := db.Put(row); err != nil {
			t.Fatal(err)
		}
	}
	return fx
}

func (fx *freshFixture) options() sync.RekeyOptions {
	return sync.RekeyOptions{Prefix: "p", Identities: []age.Identity{fx.oldID}, Recipients: []age.Recipient{fx.newID.Recipient()},
		KeysID: "new", PartSize: 5 << 20, NewFileKeys: true}
}

// object returns the catalog row of name and the bytes of its object,
// after checking that the row records the object's ETag and size.
func (fx *freshFixture) object(name string) (catalog.File, []byte) {
	fx.t.Helper()
	row, _, _ := fx.db.Lookup(name)
	body, obj, err := fx.store.Get(context.Background(), row.ObjectKey)
	if err != nil {
		fx.t.Fatal(err)
	}
	defer body.Close()
	file, _ := io.ReadAll(body)
	if obj.ETag != row.ETag || obj.Size != row.CipherSize {
		fx.t.Errorf("%s: catalog has ETag %s size %d; the store %s %d", name, row.ETag, row.CipherSize, obj.ETag, obj.Size)
	}
	return row, file
}

// checkFresh checks that the object of name opens with the new key to its
// plaintext, not with the old one, and is under another file key than the
// old object: the old header (which wraps the old file key) in front of
// the new payload does not decrypt.
func (fx *freshFixture) checkFresh(name string) {
	fx.t.Helper()
	row, file := fx.object(name)
	r, err := age.Decrypt(bytes.NewReader(file), fx.newID)
	if err != nil {
		fx.t.Fatalf("%s: decrypt with the new key: %v", name, err)
	}
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, fx.plains[name]) {
		fx.t.Errorf("%s: decrypted %d bytes, %v; want the %d written", name, len(got), err, len(fx.plains[name]))
	}
	if _, err := age.Decrypt(bytes.NewReader(file), fx.oldID); err == nil {
		fx.t.Errorf("%s: the old key opens the new object", name)
	}
	oldLen, err := cipher.HeaderLen(fx.old[name])
	if err != nil {
		fx.t.Fatal(err)
	}
	newLen, err := cipher.HeaderLen(file)
	if err != nil {
		fx.t.Fatal(err)
	}
	mixed := append(bytes.Clone(fx.old[name][:oldLen]), file[newLen:]...)
	if r, err := age.Decrypt(bytes.NewReader(mixed), fx.oldID); err == nil {
		if _, err := io.ReadAll(r); err == nil {
			fx.t.Errorf("%s: the old file key decrypts the new payload; want a fresh file key", name)
		}
	}
	if row.Size != int64(len(fx.plains[name])) || row.PlainSHA256 != sha256.Sum256(fx.plains[name]) || row.PlainMD5 != md5.Sum(fx.plains[name]) {
		fx.t.Errorf("%s: the row's plaintext size or hashes changed: %+v", name, row)
	}
}

// TestRekeyNewFileKeysInMemory re-encrypts objects of one and of several
// parts under fresh file keys, after a header-only rekey to the same keys
// (which must not pass for done), and checks that a second run finds
// nothing left to do.
func TestRekeyNewFileKeysInMemory(t *testing.T) {
	ctx := context.Background()
	fx := newFreshFixture(t, map[string][]byte{"small": randomBytes(1, 1000), "empty": {}, "big": randomBytes(2, 12<<20)})
	headerOnly := fx.options()
	headerOnly.NewFileKeys = false
	if sum, err := sync.Rekey(ctx, fx.db, fx.store.Bucket(), headerOnly); err != nil || sum.Rekeyed != 3 {
		t.Fatalf("header-only Rekey = %+v, %v; want 3 rekeyed", sum, err)
	}
	for name := range fx.plains {
		// The old objects as the header-only rekey left them: the
		// same file key, so the check below still means something.
		_, fx.old[name] = fx.object(name)
	}
	opts := fx.options()
	opts.Identities = []age.Identity{fx.newID}
	fx.log.take()
	sum, err := sync.Rekey(ctx, fx.db, fx.store.Bucket(), opts)
	if err != nil || sum.Rekeyed != 3 || sum.Copied != 0 || sum.Failed != 0 {
		t.Fatalf("Rekey --new-file-keys = %+v, %v; want 3 rekeyed, nothing copied on the server", sum, err)
	}
	if parts := only(fx.log.take(), memstore.OpUploadPart); len(parts) != 3 {
		t.Errorf("the 12 MiB object went up in %d parts; want 3 of 5 MiB", len(parts))
	}
	var total int64
	for name := range fx.plains {
		fx.checkFresh(name)
		row, _ := fx.object(name)
		total += row.CipherSize
	}
	if sum.Sent != total || sum.Read < total {
		t.Errorf("summary sent %d and read %d bytes; want the %d of the new objects sent, as much read", sum.Sent, sum.Read, total)
	}
	if sum, err := sync.Rekey(ctx, fx.db, fx.store.Bucket(), opts); err != nil || sum.Already != 3 || sum.Sent != 0 {
		t.Errorf("second Rekey = %+v, %v; want 3 already done, nothing sent", sum, err)
	}
}

// TestRekeyNewFileKeysUnverified: an object whose plaintext is not the one
// its row records, or whose row records no hash, fails and stays as it
// was; the others are re-encrypted.
func TestRekeyNewFileKeysUnverified(t *testing.T) {
	ctx := context.Background()
	fx := newFreshFixture(t, map[string][]byte{"good": randomBytes(3, 5000), "wrong": randomBytes(4, 5000),
		"wrong-big": randomBytes(5, 11<<20), "nohash": randomBytes(6, 100)})
	for name, edit := range map[string]func(*catalog.File){
		"wrong":     func(r *catalog.File) { r.PlainSHA256[0] ^= 1 },
		"wrong-big": func(r *catalog.File) { r.PlainMD5[0] ^= 1 },
		"nohash":    func(r *catalog.File) { r.PlainMD5, r.HasSHA256 = [16]byte{}, false },
	} {
		row, _, _ := fx.db.Lookup(name)
		edit(&row)
		if err := fx.db.Put(row); err != nil {
			t.Fatal(err)
		}
	}
	var failed []string
	opts := fx.options()
	opts.Report = func(e sync.Event) {
		if e.Kind == sync.EventFail {
			failed = append(failed, e.Path)
			if e.Path != "nohash" && !errors.Is(e.Err, sync.ErrMismatch) {
				t.Errorf("%s failed with %v; want ErrMismatch", e.Path, e.Err)
			}
		}
	}
	fx.log.take()
	sum, err := sync.Rekey(ctx, fx.db, fx.store.Bucket(), opts)
	if err != nil || sum.Rekeyed != 1 || sum.Failed != 3 {
		t.Fatalf("Rekey = %+v, %v (failed %v); want 1 rekeyed, 3 failed", sum, err, failed)
	}
	for _, name := range []string{"wrong", "wrong-big", "nohash"} {
		if _, file := fx.object(name); !bytes.Equal(file, fx.old[name]) {
			t.Errorf("%s: the object changed though its plaintext could not be verified", name)
		}
	}
	for _, c := range writes(fx.log.take()) {
		if c.key == "p/wrong-big" && c.op != memstore.OpCreateMultipart && c.op != memstore.OpUploadPart && c.op != memstore.OpAbortMultipart {
			t.Errorf("the unverified big object saw %s; want its upload aborted", c.op)
		}
	}
	if ups, err := fx.store.Uploads(ctx, "p/"); err != nil || len(ups) != 0 {
		t.Errorf("open uploads after the run: %v, %v; want none", ups, err)
	}
	fx.checkFresh("good")
}

// TestRekeyNewFileKeysInterrupted: a run whose upload of the big object
// fails before it completes leaves the old object, and the next run
// finishes under a new envelope.
func TestRekeyNewFileKeysInterrupted(t *testing.T) {
	ctx := context.Background()
	fx := newFreshFixture(t, map[string][]byte{"big": randomBytes(7, 12<<20)})
	cut := errors.New("connection cut")
	fx.log.setFault(func(c call) error {
		if c.op == memstore.OpCompleteMultipart {
			return cut
		}
		return nil
	})
	if sum, err := sync.Rekey(ctx, fx.db, fx.store.Bucket(), fx.options()); err != nil || sum.Failed != 1 {
		t.Fatalf("Rekey with CompleteMultipart failing = %+v, %v; want 1 failed", sum, err)
	}
	if _, file := fx.object("big"); !bytes.Equal(file, fx.old["big"]) {
		t.Fatalf("the object changed though its upload did not complete")
	}
	fx.log.setFault(nil)
	if sum, err := sync.Rekey(ctx, fx.db, fx.store.Bucket(), fx.options()); err != nil || sum.Rekeyed != 1 {
		t.Fatalf("second Rekey = %+v, %v; want 1 rekeyed", sum, err)
	}
	fx.checkFresh("big")
}
