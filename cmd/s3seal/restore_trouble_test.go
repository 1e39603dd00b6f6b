package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	gosync "sync"
	"testing"

	"github.com/s3seal/s3seal/sync/s3store/s3test"
)

// leftovers returns the restore's temporary files under dest.
func leftovers(t *testing.T, dest string) []string {
	t.Helper()
	var found []string
	filepath.WalkDir(dest, func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".s3seal-restore-") {
			found = append(found, path)
		}
		return nil
	})
	return found
}

// restoreTo runs a restore of the env's target into dest through endpoint.
func (e *env) restoreTo(endpoint, dest string, extra ...string) result {
	e.t.Helper()
	return e.run(append([]string{"restore", e.target, dest, "-i", e.keyFile, "--endpoint", endpoint}, extra...)...)
}

// TestRestoreTamperedAndMissingObjects damages one object (one byte of its
// ciphertext flipped) and deletes another: restore must name both files as
// failed, exit 3, leave nothing under their names and no temporary file,
// and restore the other files intact.
func TestRestoreTamperedAndMissingObjects(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"a", "tampered", "missing", "z"} {
		writeRandom(t, filepath.Join(e.src, "d", name), 300<<10)
	}
	e.sync(0)
	ctx := context.Background()
	st := e.store()
	key := e.row("d/tampered").ObjectKey
	body := getObject(t, st, key)
	body[len(body)/2] ^= 0x01
	if _, err := st.Put(ctx, key, body, s3PutOptions()); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx, e.row("d/missing").ObjectKey); err != nil {
		t.Fatal(err)
	}

	dest := filepath.Join(t.TempDir(), "out")
	res := e.restoreTo(e.srv.Endpoint, dest)
	if res.code != exitPartial {
		t.Errorf("restore: exit %d; want 3\n%s", res.code, res.stderr)
	}
	for _, want := range []string{"d/tampered: object is not the one the catalog recorded", "d/missing: get", "object not found"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("restore stderr lacks %q:\n%s", want, res.stderr)
		}
	}
	for _, name := range []string{"tampered", "missing"} {
		if _, err := os.Lstat(filepath.Join(dest, "d", name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("restore left d/%s under its final name (%v)", name, err)
		}
	}
	if tmp := leftovers(t, dest); len(tmp) != 0 {
		t.Errorf("restore left temporary files: %v", tmp)
	}
	for _, name := range []string{"a", "z"} {
		if !sameContent(t, filepath.Join(e.src, "d", name), filepath.Join(dest, "d", name)) {
			t.Errorf("d/%s was not restored intact", name)
		}
	}
}

// TestRestoreUnderFaults restores a mixed tree through a proxy that answers
// 5% of requests with 500, 2% with 503 SlowDown, resets 2% of connections
// and cuts 5% of response bodies short: every file must come back intact
// (a body cut short is downloaded again). A deep audit whose one GET is cut
// short must report a failed download, not a damaged object.
func TestRestoreUnderFaults(t *testing.T) {
	e := newEnv(t)
	files := e.writeMixedTree([]int64{20 << 20}, 80)
	e.sync(0)
	proxy := s3test.StartProxy(t, e.srv.Endpoint)
	// Restore downloads a file whose body is cut short three times in all,
	// right away: which download gets which draw of the generator depends
	// on the order of concurrent requests, and one that drew all three
	// cuts would fail by design. Each object is cut at most twice.
	random := s3test.RandomFaults(9, s3test.Rates{InternalError: 0.05, SlowDown: 0.02, Reset: 0.02, Truncate: 0.05})
	var mu gosync.Mutex
	cuts := map[string]int{}
	proxy.SetFault(func(r *s3test.Request) s3test.Fault {
		f := random(r)
		if f.Truncate && r.Op == s3test.OpGetObject {
			mu.Lock()
			defer mu.Unlock()
			if cuts[r.Key] == 2 {
				return s3test.Fault{}
			}
			cuts[r.Key]++
		}
		return f
	})
	dest := filepath.Join(t.TempDir(), "out")
	res := e.restoreTo(proxy.URL, dest)
	if res.code != 0 {
		t.Fatalf("restore under faults: exit %d\n%s", res.code, res.stderr)
	}
	if proxy.Faults()["truncate"] == 0 {
		t.Errorf("the proxy cut no response short (%s); the test proves nothing", faultFigures(proxy))
	}
	mu.Lock()
	mostCuts := 0
	for _, n := range cuts {
		mostCuts = max(mostCuts, n)
	}
	mu.Unlock()
	t.Logf("restore of %d files: %s; at most %d cuts of one object", files, faultFigures(proxy), mostCuts)
	assertSameTree(t, e.src, dest)

	proxy.SetFault(s3test.Nth(s3test.OpGetObject, 1, s3test.Fault{Truncate: true, TruncateAfter: -1}))
	res = e.run("audit", e.src, e.target, "--endpoint", proxy.URL, "--catalog", e.catalog, "--json", "--deep", "-i", e.keyFile, "-j", "1")
	if strings.Contains(res.stdout, `"decrypt-failed"`) || strings.Contains(res.stdout, `"content-mismatch"`) {
		t.Errorf("deep audit with one response cut short reports a damaged object:\n%s", res.stdout)
	}
	fails := events(t, res.stdout, "fail")
	if len(fails) != 1 || !strings.Contains(fmt.Sprint(fails[0]["error"]), "download cut short") {
		t.Errorf("deep audit with one response cut short: fail events %v; want one download cut short (exit %d)", fails, res.code)
	}
}
