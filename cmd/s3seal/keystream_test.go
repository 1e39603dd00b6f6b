package main

import (
	"bytes"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/s3seal/s3seal/sync/s3store/s3test"
)

// These tests play a server that sees every byte of every part, and try to
// make s3seal send two different plaintexts under one age file key and
// nonce: the XOR of two such transmissions is the XOR of the plaintexts.
// The first run is killed with parts cut off mid-transfer, and the file
// changes while the next run resumes (after its stat check, so that only
// the part hashes recorded before each send can tell). The proxy keeps
// every UploadPart body as far as it arrived; under one upload (one
// envelope) all transmissions of a part must agree byte for byte on what
// they have in common.

// reuseFixture syncs a 40 MiB file (6 parts) through a proxy with two
// parts in flight, and, once a part has arrived whole and two others have
// each sent a MiB and not finished, cuts every connection and kills the
// run. The first part to send a MiB goes on; each later one is held there
// until the cut, so that the moment comes whatever the order the parts
// make progress in. It returns the env, the proxy (still capturing
// UploadPart bodies) and the part numbers cut off mid-transfer.
func reuseFixture(t *testing.T) (*env, *s3test.Proxy, []int) {
	requireAge(t)
	e := newEnv(t)
	writeRandom(t, filepath.Join(e.src, "big.bin"), 40<<20)
	proxy := s3test.StartProxy(t, e.srv.Endpoint)
	proxy.Capture(s3test.OpUploadPart)
	c := e.startSync(proxy.URL, "-j", "2")
	var mu sync.Mutex
	sent := map[int]int64{}
	first := 0 // the part that sent a MiB first, and is not held
	cut := make(chan struct{})
	var once sync.Once
	proxy.OnBody(func(r *s3test.Request, _ int64) {
		if r.Op != s3test.OpUploadPart {
			return
		}
		mu.Lock()
		n := int64(proxy.CapturedBytes(r))
		sent[r.Part] = n
		started, finished := 0, 0
		for _, n := range sent {
			switch {
			case n == partSize:
				finished++
			case n >= 1<<20:
				started++
			}
		}
		if first == 0 && n >= 1<<20 {
			first = r.Part
		}
		if started >= 2 && finished >= 1 {
			// Reset the connections first: what the dead client's socket
			// buffers still hold must not reach the server and complete a
			// part that was cut off at this moment.
			once.Do(func() {
				proxy.SetDown(true)
				c.cmd.Process.Signal(syscall.SIGKILL)
				close(cut)
			})
		}
		hold := r.Part != first && n >= 1<<20 && n < partSize
		mu.Unlock()
		if hold {
			<-cut
		}
	})
	mustBeKilled(t, c, syscall.SIGKILL)
	waitIdle(t, proxy)
	proxy.OnBody(nil)
	if err := proxy.SetDown(false); err != nil {
		t.Fatal(err)
	}
	up := e.oneInflight("big.bin")
	var cutOff []int
	for _, tr := range proxy.Captured() {
		if tr.Request.UploadID == up.UploadID && int64(len(tr.Body)) < tr.Request.Length {
			cutOff = append(cutOff, tr.Request.Part)
		}
	}
	if len(cutOff) < 2 {
		t.Fatalf("the killed run cut off parts %v; want two parts cut off mid-transfer", cutOff)
	}
	return e, proxy, cutOff
}

// bodyOf returns what has arrived of the last transmission of part in
// upload.
func bodyOf(proxy *s3test.Proxy, upload string, part int) []byte {
	var body []byte
	for _, tr := range proxy.Captured() {
		if tr.Request.UploadID == upload && tr.Request.Part == part {
			body = tr.Body
		}
	}
	return body
}

// overwriteFrom rewrites the file from plaintext offset off to its end with
// other bytes of the same length. Plaintext offset (n-1) x partSize lies in
// ciphertext part n: the header and the tags push it a little later.
func overwriteFrom(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Error(err)
		return
	}
	if _, err := f.WriteAt(bytes.Repeat([]byte{0x5a}, int(fi.Size()-off)), off); err != nil {
		t.Error(err)
	}
}

// assertOneEnvelopeOnePlaintext fails if two transmissions of one part
// under one upload differ where both have bytes.
func assertOneEnvelopeOnePlaintext(t *testing.T, proxy *s3test.Proxy) {
	t.Helper()
	first := map[string][]byte{}
	for _, tr := range proxy.Captured() {
		id := fmt.Sprintf("upload %s part %d", tr.Request.UploadID, tr.Request.Part)
		prev, ok := first[id]
		if !ok {
			first[id] = tr.Body
			continue
		}
		n := min(len(prev), len(tr.Body))
		if i := mismatchAt(prev[:n], tr.Body[:n]); i >= 0 {
			t.Errorf("%s went on the wire twice with different bytes (first difference at byte %d of %d in common): two plaintexts under one key and nonce", id, i, n)
		}
		if len(tr.Body) > len(prev) {
			first[id] = tr.Body
		}
	}
}

func mismatchAt(a, b []byte) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

// finishAndCheck runs syncs until the file is uploaded (the run that saw
// the change reports it as changed while read), then checks the object.
func finishAndCheck(t *testing.T, e *env, proxy *s3test.Proxy) {
	t.Helper()
	if sum, _ := e.syncVia(proxy.URL, 0); sum.Uploaded != 1 {
		t.Errorf("sync after the change: %+v; want the file uploaded", sum)
	}
	assertOneEnvelopeOnePlaintext(t, proxy)
	e.assertAgeDecrypts(e.row("big.bin").ObjectKey, "big.bin")
	if ups := e.serverUploads(e.prefix + "/"); len(ups) != 0 || len(e.inflight()) != 0 {
		t.Errorf("uploads left: on the server %v, in the catalog %v", ups, e.inflight())
	}
}

// TestResumeNeverResendsChangedCutOffPart: the file changes, from the
// later of two cut-off parts on, while the resuming run (one part at a
// time) sends the earlier one. The later part must not go out again with
// the new bytes under the old envelope.
func TestResumeNeverResendsChangedCutOffPart(t *testing.T) {
	e, proxy, cut := reuseFixture(t)
	up := e.oneInflight("big.bin")
	earlier, later := cut[0], cut[len(cut)-1]
	var changed atomic.Bool
	proxy.SetFault(func(r *s3test.Request) s3test.Fault {
		if r.Op == s3test.OpUploadPart && r.Part == earlier && changed.CompareAndSwap(false, true) {
			overwriteFrom(t, filepath.Join(e.src, "big.bin"), int64(later-1)*partSize)
		}
		return s3test.Fault{}
	})
	c := e.startSync(proxy.URL, "-j", "1")
	code, _ := c.wait()
	proxy.SetFault(nil)
	if !changed.Load() {
		t.Fatalf("the resuming run never resent part %d (exit %d)\n%s", earlier, code, c.stderr.String())
	}
	stdout := c.stdout.String()
	if len(infoEvents(t, stdout, "big.bin", "restarted")) == 0 {
		t.Errorf("no restarted event after part %d changed under upload %s:\n%s", later, up.UploadID, stdout)
	}
	finishAndCheck(t, e, proxy)
}

// TestResumeDistrustsListParts: a hostile server leaves a part it holds out
// of its ListParts answer, so that the client would send it again, and the
// file changed there meanwhile. The part must not go out with other bytes
// under the old envelope.
func TestResumeDistrustsListParts(t *testing.T) {
	e, proxy, _ := reuseFixture(t)
	up := e.oneInflight("big.bin")
	hidden := 0 // a part that arrived whole in the killed run: the server has it
	for _, tr := range proxy.Captured() {
		if tr.Request.UploadID == up.UploadID && int64(len(tr.Body)) == partSize {
			hidden = tr.Request.Part
		}
	}
	if hidden == 0 {
		t.Fatal("no part arrived whole in the killed run")
	}
	drop := regexp.MustCompile(`<Part>.*?</Part>`)
	number := fmt.Sprintf("<PartNumber>%d</PartNumber>", hidden)
	var changed atomic.Bool
	proxy.SetFault(func(r *s3test.Request) s3test.Fault {
		if r.Op != s3test.OpListParts {
			return s3test.Fault{}
		}
		if changed.CompareAndSwap(false, true) {
			overwriteFrom(t, filepath.Join(e.src, "big.bin"), int64(hidden-1)*partSize)
		}
		return s3test.Fault{Rewrite: func(body []byte) []byte {
			out := drop.ReplaceAllFunc(body, func(part []byte) []byte {
				if bytes.Contains(part, []byte(number)) {
					return nil
				}
				return part
			})
			if bytes.Equal(out, body) {
				t.Errorf("ListParts answer has no part %d to leave out:\n%s", hidden, body)
			}
			return out
		}}
	})
	c := e.startSync(proxy.URL, "-j", "1")
	c.wait()
	proxy.SetFault(nil)
	if !changed.Load() {
		t.Fatalf("the resuming run sent no ListParts\n%s", c.stderr.String())
	}
	if len(infoEvents(t, c.stdout.String(), "big.bin", "restarted")) == 0 {
		t.Errorf("no restarted event after part %d changed:\n%s", hidden, c.stdout.String())
	}
	finishAndCheck(t, e, proxy)
}

// TestResumeRestartsUploadOfOlderVersion: an in-flight upload recorded by
// a version that kept no part hashes cannot prove what its cut-off parts
// carried, so it is aborted and started over, never continued.
func TestResumeRestartsUploadOfOlderVersion(t *testing.T) {
	e, proxy, _ := reuseFixture(t)
	old := e.oneInflight("big.bin")
	db, err := sql.Open("sqlite", e.catalog)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("UPDATE uploads SET parts_recorded = 0; DELETE FROM upload_parts"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	sum, stdout := e.syncVia(proxy.URL, 0)
	ev := infoEvents(t, stdout, "big.bin", "restarted")
	if len(ev) != 1 || !strings.Contains(fmt.Sprint(ev[0]["error"]), "older s3seal") {
		t.Errorf("restarted events = %v; want one saying the upload was begun by an older s3seal", ev)
	}
	if sum.Uploaded != 1 || len(infoEvents(t, stdout, "big.bin", "resumed")) != 0 {
		t.Errorf("summary %+v, events:\n%s\nwant the file uploaded afresh, not resumed", sum, stdout)
	}
	if e.row("big.bin").ObjectKey != old.ObjectKey || len(e.serverUploads(e.prefix+"/")) != 0 {
		t.Errorf("the old upload %s is still on the server, or the file went elsewhere", old.UploadID)
	}
	assertOneEnvelopeOnePlaintext(t, proxy)
	e.assertAgeDecrypts(e.row("big.bin").ObjectKey, "big.bin")
}

// TestResumeWithSmallerPartSize resumes an upload begun with 8 MiB parts in
// a run whose --part-size is 5M: its parts keep their size (the buffers
// grow to fit), and the run neither crashes nor starts over.
func TestResumeWithSmallerPartSize(t *testing.T) {
	e, proxy, _ := reuseFixture(t)
	sum, stdout := e.syncVia(proxy.URL, 0, "--part-size", "5M")
	if sum.Uploaded != 1 || len(infoEvents(t, stdout, "big.bin", "resumed")) != 1 {
		t.Errorf("summary %+v, events:\n%s\nwant the file uploaded by resuming", sum, stdout)
	}
	assertOneEnvelopeOnePlaintext(t, proxy)
	e.assertAgeDecrypts(e.row("big.bin").ObjectKey, "big.bin")
}
