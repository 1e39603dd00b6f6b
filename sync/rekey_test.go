package sync_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"filippo.io/age"

	"github.com/s3seal/s3seal/catalog"
	"github.com/s3seal/s3seal/sync"
	"github.com/s3seal/s3seal/sync/memstore"
)

// TestRekeyInMemory rekeys objects of one and of several parts on the
// in-memory store, then checks that the new key opens them, the old one
// does not, and that a second run finds nothing left to do.
func TestRekeyInMemory(t *testing.T) {
	ctx := context.Background()
	store := memstore.New("bucket")
	b := store.Bucket()
	db, err := catalog.Open(t.TempDir() + "/catalog.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	oldID, _ := age.GenerateX25519Identity()
	newID, _ := age.GenerateX25519Identity()
	plains := map[string][]byte{"small": bytes.Repeat([]byte("s"), 1000), "big": bytes.Repeat([]byte("big "), 4<<20)}
	for name, plain := range plains {
		var file bytes.Buffer
		w, _ := age.Encrypt(&file, oldID.Recipient())
		w.Write(plain)
		w.Close()
		obj, err := store.Put(ctx, "p/"+name, file.Bytes(), sync.PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Put(catalog.File{Path: name, ObjectKey: obj.Key, ETag: obj.ETag, CipherSize: obj.Size}); err != nil {
			t.Fatal(err)
		}
	}
	opts := sync.RekeyOptions{Prefix: "p", Identities: []age.Identity{oldID}, Recipients: []age.Recipient{newID.Recipient()},
		KeysID: "new", PartSize: 5 << 20}
	sum, err := sync.Rekey(ctx, db, b, opts)
	if err != nil || sum.Rekeyed != 2 || sum.Copied == 0 {
		t.Fatalf("Rekey = %+v, %v; want 2 rekeyed, the big one partly copied by the server", sum, err)
	}
	for name, plain := range plains {
		row, _, _ := db.Lookup(name)
		body, obj, err := store.Get(ctx, row.ObjectKey)
		if err != nil {
			t.Fatal(err)
		}
		file, _ := io.ReadAll(body)
		if obj.ETag != row.ETag || obj.Size != row.CipherSize {
			t.Errorf("%s: catalog has ETag %s size %d; the store %s %d", name, row.ETag, row.CipherSize, obj.ETag, obj.Size)
		}
		r, err := age.Decrypt(bytes.NewReader(file), newID)
		if err != nil {
			t.Fatalf("%s: decrypt with the new key: %v", name, err)
		}
		if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, plain) {
			t.Errorf("%s: decrypted %d bytes, %v; want the %d written", name, len(got), err, len(plain))
		}
		if _, err := age.Decrypt(bytes.NewReader(file), oldID); err == nil {
			t.Errorf("%s: the old key still opens the rekeyed object", name)
		}
	}
	// Run again with both keys: the objects are recognised as done.
	opts.Identities = append(opts.Identities, newID)
	if sum, err := sync.Rekey(ctx, db, b, opts); err != nil || sum.Already != 2 || sum.Sent != 0 {
		t.Errorf("second Rekey = %+v, %v; want 2 already done, nothing sent", sum, err)
	}
}
