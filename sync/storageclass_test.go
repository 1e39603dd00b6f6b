package sync_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/s3seal/s3seal/sync"
	"github.com/s3seal/s3seal/sync/memstore"
)

// TestRefusedStorageClassEndsRun: a server that refuses the storage class
// of every upload ends the run with one error naming the class, instead of
// failing each file; no upload starts after the first refusals.
func TestRefusedStorageClassEndsRun(t *testing.T) {
	store, log := newMemBucket()
	fx := newFixture(t, store.Bucket())
	const files = 30
	for i := range files - 1 {
		fx.write(fmt.Sprintf("small/%02d", i), []byte(fmt.Sprint("file ", i)))
	}
	fx.write("big", randomBytes(10, partSize+partSize/2))
	fx.tune = func(o *sync.Options) { o.PutOptions.StorageClass = "STANDARD_IA" }
	refused := 0
	log.setFault(func(c call) error {
		if c.op == memstore.OpPut || c.op == memstore.OpCreateMultipart {
			refused++ // under the log's lock
			return fmt.Errorf("%w: HTTP 400 InvalidStorageClass", sync.ErrInvalidStorageClass)
		}
		return nil
	})
	sum, events, err := fx.sync(context.Background())
	if !errors.Is(err, sync.ErrInvalidStorageClass) || !strings.Contains(err.Error(), "storage class STANDARD_IA") {
		t.Fatalf("Sync with a refused storage class = %v; want ErrInvalidStorageClass naming STANDARD_IA", err)
	}
	noFailures(t, "Sync with a refused storage class", events)
	if sum.Failed != 0 || sum.Uploaded != 0 {
		t.Errorf("Sync with a refused storage class: %d failed, %d uploaded; want 0, 0: the run fails, not each file", sum.Failed, sum.Uploaded)
	}
	// Each upload worker stops at its first refusal.
	if workers := 4 * jobs; refused == 0 || refused > workers {
		t.Errorf("%d uploads refused; want 1 to %d (one per worker at most)", refused, workers)
	}
	if n, err := fx.db.Count(); err != nil || n != 0 {
		t.Errorf("catalog has %d rows (%v); want 0", n, err)
	}
}
