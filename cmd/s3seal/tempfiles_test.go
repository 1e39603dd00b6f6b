package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	gosync "sync"
	"syscall"
	"testing"

	"github.com/s3seal/s3seal/sync/s3store/s3test"
)

// partialName is the name restore gives a file it is writing.
var partialName = regexp.MustCompile(`^\.s3seal-restore-[0-9a-f]{12}$`)

// glob returns the names in dir that match pattern.
func glob(t *testing.T, dir, pattern string) []string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range matches {
		matches[i] = filepath.Base(m)
	}
	return matches
}

// TestKilledRestoreTempSwept kills a restore (SIGKILL) while it downloads a
// file, at the moment the proxy receives that file's GET: the decrypted
// catalog must be under the data directory, not in the system's temporary
// folder, and the partial file in DEST under restore's temporary name. The
// next restore into DEST removes both, and nothing else: not a file that
// merely looks alike, nor the temporary folder of a live restore. The
// catalog snapshot a sync encrypts for the mirror is likewise next to the
// catalog, never in the system's temporary folder.
func TestKilledRestoreTempSwept(t *testing.T) {
	e := newEnv(t)
	systemTmp := t.TempDir()
	e.extraEnv = append(e.extraEnv, "TMPDIR="+systemTmp)
	writeRandom(t, filepath.Join(e.src, "d", "big.bin"), 1<<20)
	writeFile(t, filepath.Join(e.src, "d", "small.txt"), []byte("small"))
	proxy := s3test.StartProxy(t, e.srv.Endpoint)
	var mu gosync.Mutex
	var atMirrorPut []string // system temp, then the catalog's folder, while the mirror goes up
	proxy.SetFault(func(r *s3test.Request) s3test.Fault {
		if r.Op == s3test.OpPutObject && strings.HasSuffix(r.Key, "/.s3seal/catalog.age") {
			mu.Lock()
			atMirrorPut = append(glob(t, systemTmp, "*"), glob(t, filepath.Dir(e.catalog), "*.s3seal-tmp-mirror-*")...)
			mu.Unlock()
		}
		return s3test.Fault{}
	})
	if res := e.run("sync", e.src, e.target, "-r", e.recipient, "--endpoint", proxy.URL, "--catalog", e.catalog); res.code != 0 {
		t.Fatalf("sync: exit %d\n%s", res.code, res.stderr)
	}
	mu.Lock()
	if len(atMirrorPut) != 1 || !strings.HasPrefix(atMirrorPut[0], "catalog.db.s3seal-tmp-mirror-") {
		t.Errorf("while the mirror was uploaded, the temporary files were %q; want one snapshot folder next to the catalog, none in the system's", atMirrorPut)
	}
	mu.Unlock()

	key := e.row("d/big.bin").ObjectKey
	reached, never := make(chan struct{}), make(chan struct{})
	var once gosync.Once
	proxy.SetFault(func(r *s3test.Request) s3test.Fault {
		if r.Op == s3test.OpGetObject && r.Key == key {
			once.Do(func() { close(reached) })
			return s3test.Fault{Hold: never} // until the client is gone
		}
		return s3test.Fault{}
	})
	dest := filepath.Join(t.TempDir(), "dest")
	lookalike := filepath.Join(dest, "d", ".s3seal-restore-notes.txt")
	writeFile(t, lookalike, []byte("mine"))
	c := &child{cmd: exec.Command(binary, "restore", e.target, dest, "-i", e.keyFile, "--endpoint", proxy.URL), done: make(chan struct{})}
	c.cmd.Env = e.environ()
	c.cmd.Stdout, c.cmd.Stderr = &c.stdout, &c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.cmd.Wait(); c.state = c.cmd.ProcessState; close(c.done) }()
	t.Cleanup(func() { c.cmd.Process.Kill(); <-c.done })
	select {
	case <-reached:
	case <-c.done:
		t.Fatalf("restore ended before it asked for d/big.bin\n%s", c.stderr.String())
	}
	c.cmd.Process.Kill()
	mustBeKilled(t, c, syscall.SIGKILL)

	dataTmp := filepath.Join(e.home, "data", "s3seal", "tmp")
	stale := glob(t, dataTmp, "restore-*")
	if len(stale) != 1 || len(glob(t, filepath.Join(dataTmp, stale[0]), "catalog.db")) != 1 {
		t.Fatalf("after the kill the data directory's tmp holds %q; want one restore folder with the decrypted catalog", stale)
	}
	if fi, err := os.Stat(dataTmp); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the folder of the decrypted catalog: %v, %v; want mode 0700", fi.Mode(), err)
	}
	if left := glob(t, systemTmp, "*"); len(left) != 0 {
		t.Errorf("the killed restore left %q in the system's temporary folder", left)
	}
	partials := 0 // d/big.bin's, and d/small.txt's if it was not done
	for _, name := range glob(t, filepath.Join(dest, "d"), ".s3seal-restore-*") {
		if partialName.MatchString(name) {
			partials++
		}
	}
	if partials == 0 {
		t.Fatalf("after the kill DEST/d holds no partial file; the test proves nothing")
	}

	live := filepath.Join(dataTmp, "restore-live")
	mustMkdir(t, live)
	lock, err := lockFile(filepath.Join(live, ".lock"), false) // as a running restore holds it
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if res := e.run("restore", e.target, dest, "-i", e.keyFile, "--endpoint", e.srv.Endpoint); res.code != 0 {
		t.Fatalf("restore after the kill: exit %d\n%s", res.code, res.stderr)
	}
	if got := glob(t, dataTmp, "restore-*"); len(got) != 1 || got[0] != "restore-live" {
		t.Errorf("after the next restore the data directory's tmp holds %q; want only the live restore's folder", got)
	}
	for _, name := range glob(t, filepath.Join(dest, "d"), ".s3seal-restore-*") {
		if partialName.MatchString(name) {
			t.Errorf("the next restore left the partial file %s in DEST", name)
		}
	}
	if _, err := os.Stat(lookalike); err != nil {
		t.Errorf("the next restore removed a user's file that only looks like a partial one: %v", err)
	}
	for _, rel := range []string{"d/big.bin", "d/small.txt"} {
		if !sameContent(t, filepath.Join(e.src, rel), filepath.Join(dest, rel)) {
			t.Errorf("%s was not restored intact", rel)
		}
	}
}

// TestRestoreRefusesABusyDest holds DEST's lock as a running restore does:
// a second restore into it must stop with an explanation rather than remove
// the first one's partial files, and write nothing.
func TestRestoreRefusesABusyDest(t *testing.T) {
	e := newEnv(t)
	writeFile(t, filepath.Join(e.src, "a.txt"), []byte("a"))
	e.sync(0)
	dest := t.TempDir()
	lock, err := lockDir(dest)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	res := e.run("restore", e.target, dest, "-i", e.keyFile, "--endpoint", e.srv.Endpoint)
	if res.code != exitError || !strings.Contains(res.stderr, "another restore into "+dest+" is running") {
		t.Errorf("restore into a busy DEST: exit %d; want 1 and a refusal\n%s", res.code, res.stderr)
	}
	if entries, _ := os.ReadDir(dest); len(entries) != 0 {
		t.Errorf("restore into a busy DEST wrote %d entries", len(entries))
	}
}
