package sync_test

import (
	"fmt"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/s3seal/s3seal/sync"
)

// TestSyncStreamsTheScan holds the memory of a run to the work in flight,
// not the tree: the scan of a no-change run is stopped at folder b, after
// more files than one batch in folder a, until a file of a has been
// decided. A scan that handed nothing over before it ended would never see
// that, and the run would stall until the watchdog near the test's
// deadline fails it.
func TestSyncStreamsTheScan(t *testing.T) {
	store, _ := newMemBucket()
	fx := newFixture(t, store.Bucket())
	const inA = 1200 // more than one scan batch
	for i := range inA {
		fx.write(fmt.Sprintf("a/%04d", i), []byte{byte(i)})
	}
	fx.write("b/last", []byte("last"))
	if sum := fx.mustSync(); sum.Uploaded != inA+1 {
		t.Fatalf("first Sync uploaded %d files; want %d", sum.Uploaded, inA+1)
	}

	decided := make(chan struct{})
	var once gosync.Once
	watchdog := make(<-chan time.Time) // none without a deadline
	if deadline, ok := t.Deadline(); ok {
		watchdog = time.After(time.Until(deadline) * 9 / 10)
	}
	stalled := false
	fx.tune = func(o *sync.Options) {
		report := o.Report
		o.Report = func(e sync.Event) {
			if e.Kind == sync.EventSkip && strings.HasPrefix(e.Path, "a/") {
				once.Do(func() { close(decided) })
			}
			report(e)
		}
		o.Skip = func(rel string, dir bool) bool {
			if rel == "b" && dir {
				select {
				case <-decided:
				case <-watchdog:
					stalled = true // read after Sync returns
				}
			}
			return false
		}
	}
	sum := fx.mustSync()
	if stalled {
		t.Fatalf("no file was decided before the scan ended: the run holds the whole tree")
	}
	if sum.Files != inA+1 || sum.Skipped != inA+1 || sum.Uploaded != 0 {
		t.Errorf("no-change Sync: %d files, %d skipped, %d uploaded; want %d, %d, 0", sum.Files, sum.Skipped, sum.Uploaded, inA+1, inA+1)
	}
}
