package sync_test

import (
	"fmt"
	gosync "sync"
	"testing"

	"github.com/s3seal/s3seal/sync"
	"github.com/s3seal/s3seal/sync/memstore"
)

// putGate holds every PutObject until n of them are in flight at once,
// then lets them all go, and those after them; it records the most in
// flight at once. A run that never has n in flight hangs in it, and the
// test binary's timeout names the gate in its stack dump.
type putGate struct {
	n    int
	open chan struct{}

	mu       gosync.Mutex
	in, most int
	opened   bool
}

func newPutGate(n int) *putGate { return &putGate{n: n, open: make(chan struct{})} }

func (g *putGate) hook(op memstore.Op, key string, part int32) error {
	if op != memstore.OpPut {
		return nil
	}
	g.mu.Lock()
	g.in++
	g.most = max(g.most, g.in)
	if g.in == g.n && !g.opened {
		g.opened = true
		close(g.open)
	}
	g.mu.Unlock()
	<-g.open
	g.mu.Lock()
	g.in--
	g.mu.Unlock()
	return nil
}

// TestSmallFilesInFlight: small files go up many at once, as many as
// FilesInFlight (by default DefaultFilesInFlight, far more than --jobs
// part buffers) and never more; files of nearly 1 MiB are held back by
// the 16 MiB budget of small bodies, 16 at once.
func TestSmallFilesInFlight(t *testing.T) {
	for _, test := range []struct {
		name          string
		filesInFlight int
		files, size   int
		want          int
	}{
		{"default", 0, 2 * sync.DefaultFilesInFlight, 1000, sync.DefaultFilesInFlight},
		{"flag", 20, 50, 1000, 20},
		{"budget", 0, 40, 1<<20 - 4<<10, 16},
	} {
		t.Run(test.name, func(t *testing.T) {
			store := memstore.New("mem")
			gate := newPutGate(test.want)
			store.Hook = gate.hook
			fx := newFixture(t, store.Bucket())
			fx.tune = func(o *sync.Options) { o.FilesInFlight = test.filesInFlight }
			for i := range test.files {
				fx.write(fmt.Sprintf("d/f%03d", i), randomBytes(byte(i), test.size))
			}
			if sum := fx.mustSync(); sum.Uploaded != test.files {
				t.Fatalf("Sync uploaded %d files; want %d", sum.Uploaded, test.files)
			}
			if gate.most != test.want {
				t.Errorf("at most %d PutObject in flight at once; want %d", gate.most, test.want)
			}
		})
	}
}
