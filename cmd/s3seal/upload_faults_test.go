package main

import (
	"fmt"
	"path/filepath"
	gosync "sync"
	"testing"

	"github.com/s3seal/s3seal/sync/s3store/s3test"
)

// TestSlowDownRetried answers the first PutObject of every file with 503
// SlowDown, as S3 does when a prefix takes more requests than it can: the
// S3 client backs off and tries again, and the run completes with every
// file uploaded once.
func TestSlowDownRetried(t *testing.T) {
	e := newEnv(t)
	const files = 30
	for i := range files {
		writeFile(t, filepath.Join(e.src, fmt.Sprintf("f%02d", i)), []byte(fmt.Sprintf("small file %d\n", i)))
	}
	proxy := s3test.StartProxy(t, e.srv.Endpoint)
	var mu gosync.Mutex
	refused := make(map[string]bool)
	proxy.SetFault(func(r *s3test.Request) s3test.Fault {
		mu.Lock()
		defer mu.Unlock()
		if r.Op != s3test.OpPutObject || refused[r.Key] {
			return s3test.Fault{}
		}
		refused[r.Key] = true
		return s3test.Fault{Status: 503, Code: "SlowDown"}
	})
	sum, _ := e.syncVia(proxy.URL, 0)
	if sum.Uploaded != files || sum.Failed != 0 {
		t.Errorf("sync through SlowDown answers: %+v; want %d uploaded, none failed", sum, files)
	}
	mu.Lock()
	keys := len(refused) // the files' objects and the catalog mirror
	mu.Unlock()
	if n := proxy.Faults()["SlowDown"]; n != keys || keys <= files {
		t.Errorf("the proxy answered %d SlowDown for %d keys; want one per key, and more keys than the %d files", n, keys, files)
	}
	if n := proxy.Requests(s3test.OpPutObject); n != 2*keys {
		t.Errorf("%d PutObject requests; want %d, each key twice", n, 2*keys)
	}
	assertSameTree(t, e.src, e.restore())
}

// TestDamagedPartSentAgain flips a byte of the first UploadPart on its way
// to the gateway, which refuses the part (it does not hash to the SHA-256
// it is signed with): the part is regenerated and sent again, and the
// file is restored intact.
func TestDamagedPartSentAgain(t *testing.T) {
	e := newEnv(t)
	writeRandom(t, filepath.Join(e.src, "big.bin"), 20<<20)
	proxy := s3test.StartProxy(t, e.srv.Endpoint)
	var once gosync.Once
	proxy.SetFault(func(r *s3test.Request) s3test.Fault {
		fault := s3test.Fault{}
		if r.Op == s3test.OpUploadPart {
			once.Do(func() { fault = s3test.Fault{Corrupt: true, CorruptAt: 12345} })
		}
		return fault
	})
	sum, _ := e.syncVia(proxy.URL, 0)
	if sum.Uploaded != 1 || sum.Failed != 0 {
		t.Errorf("sync with a damaged part: %+v; want the file uploaded", sum)
	}
	if n := proxy.Faults()["corrupt"]; n != 1 {
		t.Fatalf("the proxy damaged %d parts; want 1", n)
	}
	row := e.row("big.bin")
	if parts := (row.CipherSize + partSize - 1) / partSize; int64(proxy.Requests(s3test.OpUploadPart)) != parts+1 {
		t.Errorf("%d UploadPart requests; want %d, the damaged one sent again", proxy.Requests(s3test.OpUploadPart), parts+1)
	}
	assertSameTree(t, e.src, e.restore())
}
