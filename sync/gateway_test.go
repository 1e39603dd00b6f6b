package sync_test

import (
	"context"
	"os"
	"testing"

	"github.com/s3seal/s3seal/sync"
	"github.com/s3seal/s3seal/sync/s3store"
	"github.com/s3seal/s3seal/sync/s3store/s3test"
)

// TestMain starts the S3 gateway for the package's tests (see s3test).
func TestMain(m *testing.M) { os.Exit(s3test.Main(m)) }

// TestEngineOnGateway runs a sync, a sync with nothing to do, an audit and
// a restore in this process against the real S3 gateway, through the
// SDK's store, so that the race detector sees the engine and s3store
// together, on the path users run: with MD5 ETags, and with ETags that are
// not (--data-integrity-etag).
func TestEngineOnGateway(t *testing.T) {
	for _, mode := range []s3test.Mode{s3test.Default, s3test.DataIntegrityETags} {
		t.Run(mode.String(), func(t *testing.T) { engineOnGateway(t, s3test.GetMode(t, mode)) })
	}
}

func engineOnGateway(t *testing.T, srv *s3test.Server) {
	st, err := s3store.New(context.Background(), srv.Config(srv.NewBucket(t)))
	if err != nil {
		t.Fatal(err)
	}
	fx := newFixture(t, sync.Bucket{Name: st.Bucket(), Objects: st, Multipart: st, Copier: st, UploadLister: st})
	fx.write("a.txt", []byte("alpha\n"))
	fx.write("empty", nil)
	fx.write("dir/b.bin", randomBytes(1, 300<<10))
	fx.write("dir/big", randomBytes(2, partSize+partSize/4)) // two parts

	if sum := fx.mustSync(); sum.Uploaded != 4 || sum.Failed != 0 {
		t.Errorf("first Sync: %d uploaded, %d failed; want 4, 0", sum.Uploaded, sum.Failed)
	}
	fx.checkObjects()
	fx.mirror()
	if sum := fx.mustSync(); sum.Uploaded != 0 || sum.Skipped != 4 || sum.BytesSent != 0 {
		t.Errorf("Sync with no change: %d uploaded, %d skipped, %d bytes sent; want 0, 4, 0", sum.Uploaded, sum.Skipped, sum.BytesSent)
	}
	rep, err := sync.Audit(context.Background(), fx.db, fx.bucket, sync.AuditOptions{
		Source: fx.src, Prefix: prefix, Target: "s3://" + st.Bucket() + "/" + prefix, Jobs: jobs,
	})
	if err != nil {
		t.Fatalf("Audit = %v", err)
	}
	if !rep.Consistent() || rep.Failed != 0 || rep.Objects != 4 {
		t.Errorf("Audit after a sync: %+v; want 4 objects and no findings", rep)
	}
	if sum := fx.restore(); sum.Restored != 4 || sum.Failed != 0 {
		t.Errorf("Restore: %d restored, %d failed; want 4, 0", sum.Restored, sum.Failed)
	}
}
