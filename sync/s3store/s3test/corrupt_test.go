package s3test_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/s3seal/s3seal/sync"
	"github.com/s3seal/s3seal/sync/s3store/s3test"
)

// TestCorruptUploadRefused flips one byte of a PutObject's and of an
// UploadPart's body on the way to the gateway, leaving headers and
// signature alone: the gateway checks the body against the signed SHA-256
// and refuses both, the store says ErrBadDigest, and nothing damaged is
// stored. Then the same requests, undamaged, succeed.
func TestCorruptUploadRefused(t *testing.T) {
	proxy, st, direct := proxied(t)
	ctx := context.Background()
	proxy.SetFault(func(r *s3test.Request) s3test.Fault {
		if r.Op == s3test.OpPutObject || r.Op == s3test.OpUploadPart {
			return s3test.Fault{Corrupt: true, CorruptAt: 1000}
		}
		return s3test.Fault{}
	})
	body := bytes.Repeat([]byte("b"), 5<<20)
	if _, err := st.Put(ctx, "whole", body, sync.PutOptions{}); !errors.Is(err, sync.ErrBadDigest) {
		t.Errorf("Put of a body damaged on the way = %v; want ErrBadDigest", err)
	}
	if _, err := direct.Head(ctx, "whole"); !errors.Is(err, sync.ErrNotFound) {
		t.Errorf("HEAD after the refused Put = %v; want ErrNotFound", err)
	}
	id, err := st.CreateMultipart(ctx, "parts", sync.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.UploadPart(ctx, "parts", id, 1, body, sha256.Sum256(body)); !errors.Is(err, sync.ErrBadDigest) {
		t.Errorf("UploadPart of a body damaged on the way = %v; want ErrBadDigest", err)
	}
	if parts, err := direct.ListParts(ctx, "parts", id); err != nil || len(parts) != 0 {
		t.Errorf("ListParts after the refused part = %+v, %v; want none", parts, err)
	}
	if n := proxy.Faults()["corrupt"]; n != 2 {
		t.Fatalf("the proxy corrupted %d bodies; want 2", n)
	}

	proxy.SetFault(nil)
	if _, err := st.Put(ctx, "whole", body, sync.PutOptions{}); err != nil {
		t.Errorf("Put undamaged = %v", err)
	}
	if _, err := st.UploadPart(ctx, "parts", id, 1, body, sha256.Sum256(body)); err != nil {
		t.Errorf("UploadPart undamaged = %v", err)
	}
}
