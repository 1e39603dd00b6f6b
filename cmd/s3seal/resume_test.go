package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	gosync "sync"
	"syscall"
	"testing"
	"time"

	"github.com/s3seal/s3seal/catalog"
	"github.com/s3seal/s3seal/sync"
	"github.com/s3seal/s3seal/sync/s3store/s3test"
)

// partSize is the --part-size of these tests: small, so that a killed
// upload leaves many parts behind.
const partSize = 8 << 20

// child is a sync running in the background.
type child struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	stderr bytes.Buffer
	done   chan struct{}
	state  *os.ProcessState
}

// startSync starts a sync of the env to endpoint with --json, the env's
// catalog and --part-size partSize.
func (e *env) startSync(endpoint string, extra ...string) *child {
	e.t.Helper()
	args := append([]string{"sync", e.src, e.target, "-r", e.recipient, "--endpoint", endpoint, "--json",
		"--catalog", e.catalog, "--part-size", itoa(partSize)}, extra...)
	c := &child{cmd: exec.Command(binary, args...), done: make(chan struct{})}
	c.cmd.Env = e.environ()
	c.cmd.Stdout, c.cmd.Stderr = &c.stdout, &c.stderr
	if err := c.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() {
		c.cmd.Wait()
		c.state = c.cmd.ProcessState
		close(c.done)
	}()
	e.t.Cleanup(func() {
		c.cmd.Process.Kill()
		<-c.done
	})
	return c
}

// wait waits for the child and returns its exit code, or -1 and the signal
// that ended it.
func (c *child) wait() (int, syscall.Signal) {
	<-c.done
	if ws, ok := c.state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return -1, ws.Signal()
	}
	return c.state.ExitCode(), 0
}

// syncVia runs a sync to endpoint to its end and fails the test unless it
// exits with want.
func (e *env) syncVia(endpoint string, want int, extra ...string) (summary, string) {
	e.t.Helper()
	c := e.startSync(endpoint, extra...)
	if code, sig := c.wait(); code != want {
		e.t.Fatalf("s3seal sync: exit %d (signal %v), want %d\nstdout:\n%s\nstderr:\n%s", code, sig, want, c.stdout.String(), c.stderr.String())
	}
	return parseSummary(e.t, c.stdout.String()), c.stdout.String()
}

// signalAtPartBytes sends sig to c once the proxy has received at least
// limit bytes of UploadPart bodies.
func signalAtPartBytes(proxy *s3test.Proxy, c *child, sig syscall.Signal, limit int64) {
	var once gosync.Once
	proxy.OnBody(func(r *s3test.Request, _ int64) {
		if r.Op == s3test.OpUploadPart && proxy.BytesOf(s3test.OpUploadPart, "") >= limit {
			once.Do(func() { c.cmd.Process.Signal(sig) })
		}
	})
}

// mustBeKilled fails the test unless c was ended by sig.
func mustBeKilled(t *testing.T, c *child, sig syscall.Signal) {
	t.Helper()
	if code, got := c.wait(); got != sig {
		t.Fatalf("sync ended with exit %d, signal %v; want it killed by %v\nstdout:\n%s\nstderr:\n%s", code, got, sig, c.stdout.String(), c.stderr.String())
	}
}

// waitIdle waits, once the client is dead, until the proxy has finished
// every request it sent, so that the server's state no longer moves: a part
// whose body the proxy had received when the client died may still be
// stored after the death.
func waitIdle(t *testing.T, proxy *s3test.Proxy) {
	t.Helper()
	if err := proxy.WaitIdle(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// inflight returns the catalog's in-flight uploads.
func (e *env) inflight() []catalog.Upload {
	e.t.Helper()
	db, err := catalog.Open(e.catalog)
	if err != nil {
		e.t.Fatal(err)
	}
	defer db.Close()
	ups, err := db.Uploads()
	if err != nil {
		e.t.Fatal(err)
	}
	return ups
}

// oneInflight returns the only in-flight upload, which must be rel's.
func (e *env) oneInflight(rel string) catalog.Upload {
	e.t.Helper()
	ups := e.inflight()
	if len(ups) != 1 || ups[0].Path != rel {
		e.t.Fatalf("in-flight uploads in the catalog: %+v; want one, of %s", ups, rel)
	}
	return ups[0]
}

// serverUploads lists the multipart uploads on the server under prefix.
func (e *env) serverUploads(prefix string) []sync.MultipartUpload {
	e.t.Helper()
	ups, err := e.store().Uploads(context.Background(), prefix)
	if err != nil {
		e.t.Fatal(err)
	}
	return ups
}

// partsOnServer returns the total size of the parts the server holds for up.
func (e *env) partsOnServer(up catalog.Upload) int64 {
	e.t.Helper()
	parts, err := e.store().ListParts(context.Background(), up.ObjectKey, up.UploadID)
	if err != nil {
		e.t.Fatal(err)
	}
	var n int64
	for _, p := range parts {
		n += p.Size
	}
	return n
}

// sentFor returns the object body bytes the proxy received for key.
func sentFor(proxy *s3test.Proxy, key string) int64 {
	return proxy.BytesOf(s3test.OpUploadPart, key) + proxy.BytesOf(s3test.OpPutObject, key)
}

// infoEvents returns the --json "info" events for path with reason.
func infoEvents(t *testing.T, stdout, path, reason string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, ev := range events(t, stdout, "info") {
		if ev["path"] == path && ev["reason"] == reason {
			out = append(out, ev)
		}
	}
	return out
}

// requireAge skips the test (fails it in CI) without the age CLI.
func requireAge(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("age"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the age CLI is missing: run scripts/install-deps.sh")
		}
		t.Skip("the age CLI is missing")
	}
}

// assertAgeDecrypts fails unless the stock age CLI turns the object at key
// into the bytes of the source file rel.
func (e *env) assertAgeDecrypts(key, rel string) {
	e.t.Helper()
	body, _, err := e.store().Get(context.Background(), key)
	if err != nil {
		e.t.Fatal(err)
	}
	defer body.Close()
	cmd := exec.Command("age", "-d", "-i", e.keyFile)
	cmd.Stdin = body
	out, err := cmd.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	got := md5.New()
	n, _ := io.Copy(got, out)
	if err := cmd.Wait(); err != nil {
		e.t.Fatalf("age -d of %s's object: %v: %s", rel, err, stderr.String())
	}
	if want := fileMD5(e.t, filepath.Join(e.src, rel)); !bytes.Equal(got.Sum(nil), want[:]) {
		e.t.Errorf("age -d of %s's object gave %d bytes that differ from the original ones", rel, n)
	}
}

func fileMD5(t testing.TB, path string) [16]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := md5.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	var sum [16]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

// TestResumeAfterKill kills a sync of a 300 MiB file once 40% of it reached
// the server and checks that the next run sends only the missing parts.
// Two jobs bound what the kill can waste: the two parts in flight.
func TestResumeAfterKill(t *testing.T) {
	requireAge(t)
	e := newEnv(t)
	const size = 300 << 20
	writeRandom(t, filepath.Join(e.src, "big.bin"), size)
	proxy := s3test.StartProxy(t, e.srv.Endpoint)

	c := e.startSync(proxy.URL, "-j", "2")
	// 40% of the file plus a third of a part, so that the kill lands inside
	// a part rather than on a part boundary.
	signalAtPartBytes(proxy, c, syscall.SIGKILL, size*4/10+partSize/3)
	mustBeKilled(t, c, syscall.SIGKILL)
	waitIdle(t, proxy)
	up := e.oneInflight("big.bin")
	first := sentFor(proxy, up.ObjectKey)
	kept := e.partsOnServer(up)

	proxy.ResetCounts()
	sum, stdout := e.syncVia(proxy.URL, 0, "-j", "2")
	second := sentFor(proxy, up.ObjectKey)
	row := e.row("big.bin")
	t.Logf("ciphertext %d bytes; run 1 sent %d, the server kept %d; run 2 sent %d; total %d = ciphertext + %.2f parts",
		row.CipherSize, first, kept, second, first+second, float64(first+second-row.CipherSize)/partSize)

	if first < size*4/10 || kept == 0 {
		t.Fatalf("the killed run sent %d bytes and the server kept %d; want at least 40%% of %d sent and some parts kept", first, kept, size)
	}
	if row.ObjectKey != up.ObjectKey {
		t.Errorf("object key %s; want the in-flight upload's %s", row.ObjectKey, up.ObjectKey)
	}
	if first+second > row.CipherSize+2*partSize {
		t.Errorf("both runs sent %d bytes for a ciphertext of %d; want at most the ciphertext plus two parts (%d)",
			first+second, row.CipherSize, row.CipherSize+2*partSize)
	}
	if second != row.CipherSize-kept {
		t.Errorf("the second run sent %d bytes; want exactly the %d the server lacked", second, row.CipherSize-kept)
	}
	if ev := infoEvents(t, stdout, "big.bin", "resumed"); len(ev) != 1 || ev[0]["bytes"] != float64(kept) {
		t.Errorf("resumed events = %v; want one with bytes %d", ev, kept)
	}
	if sum.BytesSent != second {
		t.Errorf("summary bytes_sent = %d; want the %d bytes the proxy received", sum.BytesSent, second)
	}
	if ups := e.serverUploads(e.prefix + "/"); len(ups) != 0 || len(e.inflight()) != 0 {
		t.Errorf("after the resumed run: uploads on the server %v, in the catalog %v; want none", ups, e.inflight())
	}
	e.assertAgeDecrypts(row.ObjectKey, "big.bin")
}

// TestResumeFileChangedAfterKill changes a file between a killed run and the
// next: the old multipart upload must be aborted, never continued with
// other plaintext under the same key and nonce.
func TestResumeFileChangedAfterKill(t *testing.T) {
	e := newEnv(t)
	const size = 60 << 20
	path := filepath.Join(e.src, "video.mp4")
	writeRandom(t, path, size)
	proxy := s3test.StartProxy(t, e.srv.Endpoint)
	c := e.startSync(proxy.URL, "-j", "2")
	signalAtPartBytes(proxy, c, syscall.SIGKILL, size*4/10)
	mustBeKilled(t, c, syscall.SIGKILL)
	waitIdle(t, proxy)
	old := e.oneInflight("video.mp4")
	if e.partsOnServer(old) == 0 {
		t.Fatal("the killed run left no part on the server")
	}

	// Same size, new bytes in the last MiB, which no part on the server
	// covers: only the stat recorded with the upload can tell that the
	// parts still to send would encrypt other plaintext under the same
	// file key and nonce.
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(bytes.Repeat([]byte("changed!"), 1<<17), size-1<<20); err != nil {
		t.Fatal(err)
	}
	f.Close()

	proxy.ResetCounts()
	sum, stdout := e.syncVia(proxy.URL, 0)
	if sum.Uploaded != 1 {
		t.Fatalf("sync after the change: %+v; want 1 upload", sum)
	}
	if len(infoEvents(t, stdout, "video.mp4", "restarted")) != 1 || len(infoEvents(t, stdout, "video.mp4", "resumed")) != 0 {
		t.Errorf("events:\n%s\nwant one \"restarted\" info event and no \"resumed\"", stdout)
	}
	if _, err := e.store().ListParts(context.Background(), old.ObjectKey, old.UploadID); !errors.Is(err, sync.ErrNoSuchUpload) {
		t.Errorf("ListParts of the old upload = %v; want ErrNoSuchUpload (aborted)", err)
	}
	if ups := e.serverUploads(e.prefix + "/"); len(ups) != 0 {
		t.Errorf("ListMultipartUploads under the prefix = %v; want none", ups)
	}
	row := e.row("video.mp4")
	if got := sentFor(proxy, row.ObjectKey); got != row.CipherSize {
		t.Errorf("the run after the change sent %d bytes; want the whole new ciphertext, %d", got, row.CipherSize)
	}
	assertSameTree(t, e.src, e.restore())
}

// TestCrashConsistency kills syncs of a mixed tree at random points of
// their traffic, then runs one to its end: the bucket must then restore to
// the tree, and no multipart upload may be left behind.
func TestCrashConsistency(t *testing.T) {
	e := newEnv(t)
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0))
	t.Logf("seed %d", seed)
	for i, mib := range []int64{30, 45, 60} {
		writeRandom(t, filepath.Join(e.src, "large", "file"+itoa(i)+".bin"), mib<<20+rng.Int64N(1<<20))
	}
	for i := range 50 {
		writeRandom(t, filepath.Join(e.src, "small", itoa(i%5), "f"+itoa(i)), rng.Int64N(200<<10))
	}

	// Run n is killed once it has sent a random number of body bytes below
	// n x 6 MiB, so that the kills move through the upload as the runs go
	// on (a resumed run does not send again what the server has), and the
	// later runs often get as far as the mirror: in the middle of a body,
	// as the next request arrives, or as the next request is finished. The
	// first is killed in the body of a part, so that a later run has an
	// upload to resume.
	proxy := s3test.StartProxy(t, e.srv.Endpoint)
	const killedRuns = 12
	resumed := 0
	var kills []string
	for run := 1; run <= killedRuns; run++ {
		point := crashPoint{after: rng.Int64N(int64(run) * 6 << 20), at: []string{"body", "arrival", "answer"}[rng.IntN(3)]}
		if run == 1 {
			point.op, point.at = s3test.OpUploadPart, "body"
		}
		c := e.startSync(proxy.URL)
		killedAt := killAt(proxy, c, e.prefix, point)
		if code, sig := c.wait(); sig != syscall.SIGKILL {
			t.Fatalf("run %d, to be killed at %+v, ended with exit %d, signal %v\nstdout:\n%s\nstderr:\n%s",
				run, point, code, sig, c.stdout.String(), c.stderr.String())
		}
		waitIdle(t, proxy)
		resumed += strings.Count(c.stdout.String(), `"reason":"resumed"`)
		kills = append(kills, fmt.Sprintf("%s after %d: %s", point.at, point.after, killedAt()))
	}
	t.Logf("kills: %s", strings.Join(kills, ", "))
	proxy.SetFault(nil)
	proxy.OnBody(nil)
	proxy.OnDone(nil)

	sum, stdout := e.syncVia(proxy.URL, 0)
	resumed += strings.Count(stdout, `"reason":"resumed"`)
	t.Logf("%d runs killed, then one complete run: %+v; %d uploads resumed", killedRuns, sum, resumed)
	if resumed == 0 {
		t.Fatal("no run resumed an upload a killed run had begun")
	}
	if len(e.inflight()) != 0 {
		t.Errorf("after the complete run the catalog still has in-flight uploads %+v", e.inflight())
	}
	// A kill between CreateMultipartUpload and recording the upload in the
	// catalog leaves an upload no catalog knows. The complete run must have
	// reported every upload left, and --abort-uploads-after removes them.
	reported := map[string]bool{}
	for _, ev := range events(t, stdout, "info") {
		if ev["reason"] == "unknown-upload" {
			reported[ev["path"].(string)] = true
		}
	}
	for _, up := range e.serverUploads(e.prefix + "/") {
		if !reported[up.Key] {
			t.Errorf("upload %s of %s left on the server and not reported", up.UploadID, up.Key)
		}
	}
	if len(reported) > 0 {
		t.Logf("%d orphaned uploads reported; aborting them", len(reported))
		e.syncVia(e.srv.Endpoint, 0, "--abort-uploads-after", "1ns")
	}
	if ups := e.serverUploads(e.prefix + "/"); len(ups) != 0 {
		t.Errorf("multipart uploads left under the prefix: %v", ups)
	}
	assertSameTree(t, e.src, e.restore())
}

// crashPoint says where killAt kills a run: once the proxy has received
// after bytes of request bodies in this run (of operation op only, if op is
// not ""), at the next read of a body ("body"), the next request to arrive
// ("arrival") or the next request the proxy finishes ("answer").
type crashPoint struct {
	after int64
	op    s3test.Op
	at    string
}

// killAt kills c with SIGKILL at point, or, if it comes first, as c begins
// to write the catalog mirror under prefix: the last step of a run, which
// every run takes since no killed run records a mirror. Every run is killed.
// The func returned tells where: the request the kill came at, and whether
// it was the mirror's.
func killAt(proxy *s3test.Proxy, c *child, prefix string, point crashPoint) (killedAt func() string) {
	base := proxy.BytesOf(point.op, "")
	reached := func() bool { return proxy.BytesOf(point.op, "")-base >= point.after }
	var once gosync.Once
	var where string
	kill := func(r *s3test.Request, how string) {
		once.Do(func() {
			where = fmt.Sprintf("%s %s %s", how, r.Op, r.Key)
			c.cmd.Process.Kill()
		})
	}
	mirror := prefix + "/.s3seal/"
	proxy.SetFault(func(r *s3test.Request) s3test.Fault {
		if strings.HasPrefix(r.Key, mirror) &&
			(r.Op == s3test.OpPutObject || r.Op == s3test.OpCopyObject || r.Op == s3test.OpCreateUpload) {
			kill(r, "mirror")
		} else if point.at == "arrival" && reached() {
			kill(r, "arrival of")
		}
		return s3test.Fault{}
	})
	proxy.OnBody(func(r *s3test.Request, _ int64) {
		if point.at == "body" && (point.op == "" || r.Op == point.op) && reached() {
			kill(r, "body of")
		}
	})
	proxy.OnDone(func(r *s3test.Request) {
		if point.at == "answer" && reached() {
			kill(r, "answer to")
		}
	})
	return func() string {
		once.Do(func() {}) // the kill's once.Do has returned: where is set
		return where
	}
}

// TestInterruptExits130AndResumes sends SIGINT mid-upload and from then on
// holds every request: the run must end with exit 130 all the same, without
// waiting for the server, its summary must count the parts that went, and
// the next run must continue the upload.
func TestInterruptExits130AndResumes(t *testing.T) {
	e := newEnv(t)
	const size = 100 << 20
	writeRandom(t, filepath.Join(e.src, "big.bin"), size)
	proxy := s3test.StartProxy(t, e.srv.Endpoint)
	c := e.startSync(proxy.URL, "-j", "2")
	interrupted := interruptHolding(proxy, c, size/2)
	code, sig := c.wait()
	proxy.SetFault(nil)
	proxy.OnBody(nil)
	select {
	case <-interrupted:
	default:
		t.Fatalf("the sync ended (exit %d, signal %v) before SIGINT was sent\n%s", code, sig, c.stderr.String())
	}
	if code != exitInterrupted || !strings.Contains(c.stderr.String(), "interrupted") {
		t.Errorf("after SIGINT: exit %d, signal %v, stderr %q; want exit 130 and a note that it was interrupted", code, sig, c.stderr.String())
	}
	waitIdle(t, proxy)
	up := e.oneInflight("big.bin")
	kept := e.partsOnServer(up)
	if kept == 0 {
		t.Fatal("the interrupted run left no part on the server")
	}
	// The two parts in flight at the signal may be stored without their
	// answers arriving; every part that was answered counts.
	if cut := parseSummary(t, c.stdout.String()); cut.BytesSent == 0 || cut.BytesSent > kept || kept-cut.BytesSent > 2*partSize {
		t.Errorf("the interrupted run's summary says %d bytes sent; want the %d the server kept, less at most the two parts in flight", cut.BytesSent, kept)
	}

	proxy.ResetCounts()
	sum, stdout := e.syncVia(proxy.URL, 0, "-j", "2")
	row := e.row("big.bin")
	second := sentFor(proxy, row.ObjectKey)
	t.Logf("ciphertext %d bytes; the server kept %d after SIGINT; the next run sent %d", row.CipherSize, kept, second)
	if ev := infoEvents(t, stdout, "big.bin", "resumed"); len(ev) != 1 || ev[0]["bytes"] != float64(kept) {
		t.Errorf("resumed events = %v; want one with bytes %d", ev, kept)
	}
	if second != row.CipherSize-kept {
		t.Errorf("the run after SIGINT sent %d bytes; want only the %d the server lacked", second, row.CipherSize-kept)
	}
	if sum.BytesSent != second {
		t.Errorf("summary bytes_sent = %d; want the %d bytes the proxy received", sum.BytesSent, second)
	}
	assertSameTree(t, e.src, e.restore())
}

// interruptHolding sends SIGINT to c once the proxy has received limit bytes
// of UploadPart bodies, and from then on the server answers nothing until c
// has exited: the part bodies in flight stop arriving and new requests are
// held, then reset. A run that waits for its requests after SIGINT (to
// finish the parts in flight, minutes on a slow link) never exits. The
// channel returned is closed just before the signal goes out.
func interruptHolding(proxy *s3test.Proxy, c *child, limit int64) <-chan struct{} {
	interrupted := make(chan struct{})
	proxy.SetFault(func(*s3test.Request) s3test.Fault {
		select {
		case <-interrupted:
			return s3test.Fault{Hold: c.done, Reset: true}
		default:
			return s3test.Fault{}
		}
	})
	var once gosync.Once
	proxy.OnBody(func(r *s3test.Request, _ int64) {
		if r.Op == s3test.OpUploadPart && proxy.BytesOf(s3test.OpUploadPart, "") >= limit {
			once.Do(func() {
				close(interrupted)
				c.cmd.Process.Signal(syscall.SIGINT)
			})
		}
		select {
		case <-interrupted:
			<-c.done
		default:
		}
	})
	return interrupted
}

// TestResumeExpiredUpload aborts the in-flight upload behind s3seal's back
// (as a lifecycle rule would): the next run must start over and succeed.
func TestResumeExpiredUpload(t *testing.T) {
	e := newEnv(t)
	const size = 40 << 20
	writeRandom(t, filepath.Join(e.src, "big.bin"), size)
	proxy := s3test.StartProxy(t, e.srv.Endpoint)
	c := e.startSync(proxy.URL, "-j", "2")
	signalAtPartBytes(proxy, c, syscall.SIGKILL, size*4/10)
	mustBeKilled(t, c, syscall.SIGKILL)
	waitIdle(t, proxy)
	up := e.oneInflight("big.bin")
	if err := e.store().AbortMultipart(context.Background(), up.ObjectKey, up.UploadID); err != nil {
		t.Fatal(err)
	}

	proxy.ResetCounts()
	sum, stdout := e.syncVia(proxy.URL, 0)
	row := e.row("big.bin")
	if sum.Uploaded != 1 || len(infoEvents(t, stdout, "big.bin", "restarted")) != 1 {
		t.Errorf("sync after the upload expired: %+v\n%s\nwant 1 upload and a \"restarted\" info event", sum, stdout)
	}
	if got := sentFor(proxy, row.ObjectKey); got != row.CipherSize {
		t.Errorf("the run after the upload expired sent %d bytes; want all %d from scratch", got, row.CipherSize)
	}
	if ups := e.serverUploads(e.prefix + "/"); len(ups) != 0 || len(e.inflight()) != 0 {
		t.Errorf("uploads left: on the server %v, in the catalog %v; want none", ups, e.inflight())
	}
	assertSameTree(t, e.src, e.restore())
}

// TestLostCompleteResponse lets the server complete a multipart upload but
// loses its answer: the run fails that file, and the next run settles it
// with a HEAD, sending no part again.
func TestLostCompleteResponse(t *testing.T) {
	e := newEnv(t)
	writeRandom(t, filepath.Join(e.src, "big.bin"), 40<<20)
	proxy := s3test.StartProxy(t, e.srv.Endpoint)
	proxy.SetFault(func(r *s3test.Request) s3test.Fault {
		if r.Op == s3test.OpCompleteUpload {
			return s3test.Fault{Swallow: 502}
		}
		return s3test.Fault{}
	})
	sum, _ := e.syncVia(proxy.URL, exitPartial, "--max-attempts", "1")
	if sum.Failed != 1 || proxy.Requests(s3test.OpCompleteUpload) != 1 {
		t.Fatalf("sync with the Complete response lost: %+v, %d Complete requests; want 1 failed file after 1 request",
			sum, proxy.Requests(s3test.OpCompleteUpload))
	}
	up := e.oneInflight("big.bin")
	if _, err := e.store().Head(context.Background(), up.ObjectKey); err != nil {
		t.Fatalf("HEAD of the object the server completed: %v", err)
	}

	proxy.SetFault(nil)
	proxy.ResetCounts()
	sum, _ = e.syncVia(proxy.URL, 0)
	row := e.row("big.bin")
	if sent := sentFor(proxy, row.ObjectKey); sent != 0 || sum.BytesSent != 0 || sum.Uploaded != 1 {
		t.Errorf("the settling run sent %d bytes (summary: %+v); want 0 bytes and the file recorded", sent, sum)
	}
	if n := proxy.Requests(s3test.OpCompleteUpload); n != 0 {
		t.Errorf("the settling run sent %d CompleteMultipartUpload; want none", n)
	}
	head, err := e.store().Head(context.Background(), row.ObjectKey)
	if err != nil || head.ETag != row.ETag {
		t.Errorf("HEAD = %+v, %v; want the recorded ETag %s", head, err, row.ETag)
	}
	if len(e.inflight()) != 0 {
		t.Errorf("in-flight uploads left in the catalog: %+v", e.inflight())
	}
	assertSameTree(t, e.src, e.restore())
}

// TestStaleUploadsReportedAndAborted leaves multipart uploads that no
// catalog knows, under the prefix and outside it: a sync reports the first,
// aborts it once it is older than --abort-uploads-after, and never touches
// the other.
func TestStaleUploadsReportedAndAborted(t *testing.T) {
	e := newEnv(t)
	writeFile(t, filepath.Join(e.src, "a"), []byte("a"))
	st := e.store()
	ctx := context.Background()
	stale, err := st.CreateMultipart(ctx, e.prefix+"/left-by-a-crash", sync.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.UploadPart(ctx, e.prefix+"/left-by-a-crash", stale, 1, []byte("part"), sha256.Sum256([]byte("part"))); err != nil {
		t.Fatal(err)
	}
	outside, err := st.CreateMultipart(ctx, "other/not-ours", sync.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}

	_, stdout := e.syncVia(e.srv.Endpoint, 0)
	if len(infoEvents(t, stdout, e.prefix+"/left-by-a-crash", "unknown-upload")) != 1 {
		t.Errorf("sync output:\n%s\nwant one unknown-upload event for %s/left-by-a-crash", stdout, e.prefix)
	}
	if ups := e.serverUploads(e.prefix + "/"); len(ups) != 1 || ups[0].UploadID != stale {
		t.Errorf("uploads under the prefix after a default sync = %v; want the stale one kept (younger than a day)", ups)
	}

	_, stdout = e.syncVia(e.srv.Endpoint, 0, "--abort-uploads-after", "1ns")
	if len(infoEvents(t, stdout, e.prefix+"/left-by-a-crash", "aborted-upload")) != 1 {
		t.Errorf("sync --abort-uploads-after 1ns output:\n%s\nwant one aborted-upload event", stdout)
	}
	if ups := e.serverUploads(e.prefix + "/"); len(ups) != 0 {
		t.Errorf("uploads under the prefix after --abort-uploads-after 1ns = %v; want none", ups)
	}
	if ups := e.serverUploads("other/"); len(ups) != 1 || ups[0].UploadID != outside {
		t.Errorf("uploads outside the prefix = %v; want %s untouched", ups, outside)
	}
}

// TestLostCompleteResponseRetried loses only the first answer to
// CompleteMultipartUpload: the S3 client's retry finds the upload gone, and
// the same run settles it with a HEAD.
func TestLostCompleteResponseRetried(t *testing.T) {
	e := newEnv(t)
	writeRandom(t, filepath.Join(e.src, "big.bin"), 20<<20)
	proxy := s3test.StartProxy(t, e.srv.Endpoint)
	var once gosync.Once
	proxy.SetFault(func(r *s3test.Request) s3test.Fault {
		fault := s3test.Fault{}
		if r.Op == s3test.OpCompleteUpload {
			once.Do(func() { fault.Swallow = 502 })
		}
		return fault
	})
	sum, _ := e.syncVia(proxy.URL, 0)
	row := e.row("big.bin")
	if sum.Uploaded != 1 || proxy.Requests(s3test.OpCompleteUpload) != 2 || proxy.Requests(s3test.OpHeadObject) == 0 {
		t.Errorf("sync: %+v, %d Complete and %d HEAD requests; want the file uploaded after 2 Complete and a HEAD",
			sum, proxy.Requests(s3test.OpCompleteUpload), proxy.Requests(s3test.OpHeadObject))
	}
	if sent := sentFor(proxy, row.ObjectKey); sent != row.CipherSize {
		t.Errorf("sent %d bytes; want the ciphertext once, %d", sent, row.CipherSize)
	}
	if ups := e.serverUploads(e.prefix + "/"); len(ups) != 0 || len(e.inflight()) != 0 {
		t.Errorf("uploads left: on the server %v, in the catalog %v; want none", ups, e.inflight())
	}
	assertSameTree(t, e.src, e.restore())
}
