package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/s3seal/s3seal/sync"
	"github.com/s3seal/s3seal/sync/s3store"
	"github.com/s3seal/s3seal/sync/s3store/s3test"
)

// setup runs 's3seal target setup' of target through endpoint and returns
// its "name: value" lines; it fails the test unless the exit code is want.
func (e *env) setup(want int, target, endpoint string, extra ...string) (map[string]string, result) {
	e.t.Helper()
	res := e.run(append([]string{"target", "setup", target, "--endpoint", endpoint}, extra...)...)
	if res.code != want {
		e.t.Fatalf("s3seal target setup %s %q: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", target, extra, res.code, want, res.stdout, res.stderr)
	}
	return infoLines(res.stdout), res
}

// infoLines parses the "name: value" lines of target info and setup.
func infoLines(stdout string) map[string]string {
	info := make(map[string]string)
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if name, value, ok := strings.Cut(line, ":"); ok {
			info[name] = strings.TrimSpace(value)
		}
	}
	return info
}

// syncThrough runs a sync of the env's source to target through endpoint
// with --json; it fails the test unless it exits 0.
func (e *env) syncThrough(target, endpoint string) result {
	e.t.Helper()
	res := e.run("sync", e.src, target, "-r", e.recipient, "--endpoint", endpoint, "--json", "--catalog", e.catalog)
	if res.code != 0 {
		e.t.Fatalf("s3seal sync %s: exit %d\nstdout:\n%s\nstderr:\n%s", target, res.code, res.stdout, res.stderr)
	}
	return res
}

// historyEvents returns the reasons of a --json run's history events.
func historyEvents(t *testing.T, stdout string) []string {
	t.Helper()
	var reasons []string
	for _, ev := range events(t, stdout, "info") {
		if reason, _ := ev["reason"].(string); strings.HasPrefix(reason, "history-") {
			reasons = append(reasons, reason)
		}
	}
	return reasons
}

func settingsOf(t *testing.T, st *s3store.Store) sync.HistorySettings {
	t.Helper()
	h, err := st.Settings(context.Background(), "backup/")
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestSyncWarnsOnceUnversioned syncs to an unversioned bucket twice: the
// first run says history is off and how to turn it on, as a warning and a
// --json event, the second says nothing; each asks the bucket once. Once
// target setup turned versioning on, the next sync sees it and later ones
// neither warn nor ask. Every run backs up as ever.
func TestSyncWarnsOnceUnversioned(t *testing.T) {
	e := newEnv(t)
	writeFile(t, filepath.Join(e.src, "a.txt"), []byte("a\n"))
	proxy := s3test.StartProxy(t, e.srv.Endpoint)

	first := e.syncThrough(e.target, proxy.URL)
	if got := historyEvents(t, first.stdout); len(got) != 1 || got[0] != sync.ReasonHistoryOff {
		t.Errorf("first sync to an unversioned bucket sent history events %q; want one %s", got, sync.ReasonHistoryOff)
	}
	for _, want := range []string{
		"s3seal: warning: history is off for " + e.target + ": the bucket is not versioned, so a sync overwrites the previous upload",
		"s3seal: hint: with the bucket owner's credentials, turn versioning on: s3seal target setup " + e.target + " --versioning --keep-days 90 --endpoint " + proxy.URL + "\n",
	} {
		if !strings.Contains(first.stderr, want) {
			t.Errorf("first sync's stderr lacks %q:\n%s", want, first.stderr)
		}
	}
	if s := parseSummary(t, first.stdout); s.Uploaded != 1 {
		t.Errorf("first sync uploaded %d files; want 1", s.Uploaded)
	}
	if n := proxy.Requests(s3test.OpGetVersioning); n != 1 {
		t.Errorf("first sync sent %d GetBucketVersioning; want 1", n)
	}

	proxy.ResetCounts()
	writeFile(t, filepath.Join(e.src, "b.txt"), []byte("b\n"))
	second := e.syncThrough(e.target, proxy.URL)
	if got := historyEvents(t, second.stdout); len(got) != 0 || strings.Contains(second.stderr, "history") {
		t.Errorf("second sync to the unversioned bucket: events %q, stderr:\n%s\nwant no word of history: it was said once", got, second.stderr)
	}
	if s := parseSummary(t, second.stdout); s.Uploaded != 1 {
		t.Errorf("second sync uploaded %d files; want 1", s.Uploaded)
	}
	if n := proxy.Requests(s3test.OpGetVersioning); n != 1 {
		t.Errorf("second sync sent %d GetBucketVersioning; want 1 (an unversioned target is asked on every run)", n)
	}
	res := e.run("target", "info", e.src, e.target, "--catalog", e.catalog)
	if info := infoLines(res.stdout); !strings.HasPrefix(info["versioning"], "off") {
		t.Errorf("target info of the unversioned target says versioning %q; want off", info["versioning"])
	}

	e.setup(0, e.target, e.srv.Endpoint, "--versioning")
	third := e.syncThrough(e.target, proxy.URL)
	if got := historyEvents(t, third.stdout); len(got) != 1 || got[0] != sync.ReasonHistoryOn || strings.Contains(third.stderr, "warning") {
		t.Errorf("sync after setup --versioning: events %q, stderr:\n%s\nwant one %s and no warning", got, third.stderr, sync.ReasonHistoryOn)
	}
	proxy.ResetCounts()
	fourth := e.syncThrough(e.target, proxy.URL)
	if got := historyEvents(t, fourth.stdout); len(got) != 0 || proxy.Requests(s3test.OpGetVersioning) != 0 {
		t.Errorf("sync to a target seen versioned: events %q, %d GetBucketVersioning; want none of either", got, proxy.Requests(s3test.OpGetVersioning))
	}
	res = e.run("target", "info", e.src, e.target, "--catalog", e.catalog)
	if info := infoLines(res.stdout); info["versioning"] != "Enabled (as a sync saw it)" || info["object lock"] != "off" {
		t.Errorf("target info after setup: %q; want versioning Enabled, object lock off", res.stdout)
	}
}

// TestTargetSetupNewBucket creates a bucket with target setup -c and turns
// versioning on; the gateway has no lifecycle rules, which --keep-days
// reports as a warning, not a failure. A sync to it does not warn.
func TestTargetSetupNewBucket(t *testing.T) {
	e := newEnv(t)
	bucket := e.bucket + "-made"
	target := "s3://" + bucket + "/backup"
	info, res := e.setup(0, target, e.srv.Endpoint, "-c", "--versioning", "--keep-days", "30")
	want := map[string]string{"target": target, "bucket": "created", "versioning": "Enabled", "object lock": "off",
		"keep days": "not supported by the server: replaced versions are kept until deleted by hand"}
	for name, value := range want {
		if info[name] != value {
			t.Errorf("setup printed %s: %q; want %q\n%s", name, info[name], value, res.stdout)
		}
	}
	if !strings.Contains(res.stderr, "s3seal: warning: "+target+" has no lifecycle rules") {
		t.Errorf("setup --keep-days on a server without lifecycle rules: stderr lacks the warning:\n%s", res.stderr)
	}
	st, err := s3store.New(context.Background(), e.srv.Config(bucket))
	if err != nil {
		t.Fatal(err)
	}
	if h := settingsOf(t, st); !h.Versioned() || h.ObjectLock {
		t.Errorf("the bucket setup created has %+v; want versioning without Object Lock", h)
	}

	writeFile(t, filepath.Join(e.src, "a.txt"), []byte("a\n"))
	synced := e.syncThrough(target, e.srv.Endpoint)
	if got := historyEvents(t, synced.stdout); len(got) != 1 || got[0] != sync.ReasonHistoryOn || strings.Contains(synced.stderr, "warning") {
		t.Errorf("sync to a versioned bucket: events %q, stderr:\n%s\nwant one %s and no warning", got, synced.stderr, sync.ReasonHistoryOn)
	}
	if again, _ := e.setup(0, target, e.srv.Endpoint); again["versioning"] != "Enabled" || again["bucket"] != "" {
		t.Errorf("setup without flags printed %q; want the settings, nothing created", again)
	}
	if _, res := e.setup(exitUsage, e.target, e.srv.Endpoint, "--keep-days", "30"); !strings.Contains(res.stderr, "hint: add --versioning") {
		t.Errorf("setup --keep-days of an unversioned bucket: stderr lacks the hint to add --versioning:\n%s", res.stderr)
	}
	if h := settingsOf(t, e.store()); h.Versioning != "" {
		t.Errorf("a refused setup changed the bucket: %+v", h)
	}
}

// TestTargetSetupLocked: --lock-days accepts a bucket with Object Lock,
// creates one with -c, and refuses one without, saying how to get one.
func TestTargetSetupLocked(t *testing.T) {
	e := newEnv(t)
	locked := "s3://" + e.srv.NewLockedBucket(t) + "/backup"
	if info, res := e.setup(0, locked, e.srv.Endpoint, "--lock-days", "7"); info["object lock"] != "enabled" || info["versioning"] != "Enabled" {
		t.Errorf("setup --lock-days of a locked bucket printed:\n%s\nwant object lock enabled, versioning Enabled", res.stdout)
	}

	_, res := e.setup(exitError, e.target, e.srv.Endpoint, "--versioning", "--lock-days", "7")
	for _, want := range []string{
		"s3seal: error: " + e.target + " has no Object Lock",
		"s3seal: hint: create a new bucket with it: s3seal target setup s3://NEW-BUCKET/backup -c --versioning --lock-days 7 --endpoint " + e.srv.Endpoint,
	} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("setup --lock-days of a bucket without Object Lock: stderr lacks %q:\n%s", want, res.stderr)
		}
	}
	if h := settingsOf(t, e.store()); h.Versioning != "" {
		t.Errorf("the refused setup changed the bucket: %+v; want it as it was", h)
	}

	bucket := e.bucket + "-locked"
	info, _ := e.setup(0, "s3://"+bucket+"/backup", e.srv.Endpoint, "-c", "--lock-days", "7")
	st, err := s3store.New(context.Background(), e.srv.Config(bucket))
	if err != nil {
		t.Fatal(err)
	}
	if h := settingsOf(t, st); info["bucket"] != "created" || info["object lock"] != "enabled" || !h.ObjectLock {
		t.Errorf("setup -c --lock-days printed %q, the bucket has %+v; want it created with Object Lock", info, h)
	}
}

// TestHistoryNotImplemented puts the gateway behind a proxy that answers
// GetBucketVersioning with 501 NotImplemented, as a store without
// versioning does: sync works and says once that the store cannot keep
// versions; target setup --versioning fails with a message saying so.
func TestHistoryNotImplemented(t *testing.T) {
	e := newEnv(t)
	writeFile(t, filepath.Join(e.src, "a.txt"), []byte("a\n"))
	proxy := s3test.StartProxy(t, e.srv.Endpoint)
	proxy.SetFault(func(r *s3test.Request) s3test.Fault {
		if r.Op == s3test.OpGetVersioning {
			return s3test.Fault{Status: 501, Code: "NotImplemented"}
		}
		return s3test.Fault{}
	})
	first := e.syncThrough(e.target, proxy.URL)
	if got := historyEvents(t, first.stdout); len(got) != 1 || got[0] != sync.ReasonHistoryUnsupported ||
		!strings.Contains(first.stderr, "s3seal: warning: history is off for "+e.target+": the store cannot keep versions") {
		t.Errorf("sync to a store without versioning: events %q, stderr:\n%s\nwant one %s and its warning", got, first.stderr, sync.ReasonHistoryUnsupported)
	}
	second := e.syncThrough(e.target, proxy.URL)
	if got := historyEvents(t, second.stdout); len(got) != 0 || strings.Contains(second.stderr, "warning") {
		t.Errorf("second sync to a store without versioning: events %q, stderr:\n%s\nwant it said once only", got, second.stderr)
	}
	_, res := e.setup(exitError, e.target, proxy.URL, "--versioning")
	if !strings.Contains(res.stderr, "s3seal: error: "+e.target+" cannot keep versions") || !strings.Contains(res.stderr, "s3seal: hint: ") {
		t.Errorf("setup --versioning of a store without versioning: stderr\n%s\nwant an error saying it cannot keep versions, and hints", res.stderr)
	}
}

// TestAuditHistoryChanged suspends the versioning of a target a sync saw
// versioned: audit reports it as history-changed until versioning is back.
func TestAuditHistoryChanged(t *testing.T) {
	e := newEnv(t)
	writeFile(t, filepath.Join(e.src, "a.txt"), []byte("a\n"))
	e.setup(0, e.target, e.srv.Endpoint, "--versioning")
	e.sync(0)
	if found, _ := e.audit(e.srv.Endpoint, 0); len(found) != 0 {
		t.Fatalf("audit of a versioned target right after a sync found %q; want nothing", found)
	}
	if err := e.store().SuspendVersioning(context.Background()); err != nil {
		t.Fatal(err)
	}
	res := e.run("audit", e.src, e.target, "--endpoint", e.srv.Endpoint, "--catalog", e.catalog, "--json")
	findings := events(t, res.stdout, "finding")
	if res.code != exitDiffers || len(findings) != 1 || findings[0]["category"] != sync.HistoryChanged ||
		findings[0]["detail"] != "versioning was Enabled, is now Suspended" {
		t.Errorf("audit after versioning was suspended: exit %d, findings %v; want %d and one %s: versioning was Enabled, is now Suspended",
			res.code, findings, exitDiffers, sync.HistoryChanged)
	}
	res = e.run("audit", e.src, e.target, "--endpoint", e.srv.Endpoint, "--catalog", e.catalog)
	if !tableHas(res.stdout, sync.HistoryChanged, "(target)") {
		t.Errorf("audit table lacks the history-changed line:\n%s", res.stdout)
	}
	e.setup(0, e.target, e.srv.Endpoint, "--versioning")
	if found, _ := e.audit(e.srv.Endpoint, 0); len(found) != 0 {
		t.Errorf("audit once versioning is back found %q; want nothing", found)
	}
}
