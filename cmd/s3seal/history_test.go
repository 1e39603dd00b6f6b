package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/s3seal/s3seal/sync"
)

// snapshotTree copies root's files, with their modes and mtimes, to a new
// folder and returns it: the tree a restore of this moment must give.
func snapshotTree(t *testing.T, root string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "snapshot")
	for rel, info := range treeFiles(t, root) {
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, filepath.FromSlash(rel))
		writeFile(t, dst, data)
		if err := os.Chmod(dst, info.mode.Perm()); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(dst, info.mtime, info.mtime); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// versioned turns versioning on for the env's bucket, as the owner would.
func (e *env) versioned() *env {
	e.t.Helper()
	if err := e.store().EnableVersioning(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	return e
}

// restoreAt restores the target as of at into a new folder, on a machine
// that has only the bucket and the identity (an empty home), with extra
// arguments (paths, --include).
func (e *env) restoreAt(at string, extra ...string) (string, result) {
	e.t.Helper()
	fresh := e.withHome()
	dest := filepath.Join(e.t.TempDir(), "restored")
	args := append([]string{"restore", e.target, dest, "-i", e.keyFile, "--endpoint", e.srv.Endpoint, "--at", at}, extra...)
	return dest, fresh.run(args...)
}

// TestRestoreAtPastSyncs backs a tree up three times, with changes and
// deletions (--delete) and then a ransomware-style rewrite of every file in
// between, and restores each of the three moments, by sync number and by
// time, on a fresh machine: each is reproduced byte for byte, with modes
// and mtimes, though the bucket's current objects are the encrypted junk.
func TestRestoreAtPastSyncs(t *testing.T) {
	e := newEnv(t).versioned()
	writeFile(t, filepath.Join(e.src, "a.txt"), []byte("alpha\n"))
	writeFile(t, filepath.Join(e.src, "dir", "b.txt"), []byte("beta\n"))
	writeFile(t, filepath.Join(e.src, "dir", "sub", "c.bin"), []byte(strings.Repeat("c", 70000)))
	writeRandom(t, filepath.Join(e.src, "big.bin"), 6<<20) // two parts at --part-size 5M
	args := []string{"--delete", "--part-size", "5M"}

	var trees []string
	var times []time.Time
	syncNow := func() {
		t.Helper()
		e.sync(0, args...)
		trees = append(trees, snapshotTree(t, e.src))
		times = append(times, time.Now())
	}
	syncNow()

	// The next day: an edit, a new file, a deletion.
	writeFile(t, filepath.Join(e.src, "a.txt"), []byte("alpha, edited\n"))
	writeFile(t, filepath.Join(e.src, "dir", "new.txt"), []byte("new\n"))
	if err := os.Remove(filepath.Join(e.src, "dir", "b.txt")); err != nil {
		t.Fatal(err)
	}
	syncNow()

	// Ransomware: every file rewritten as junk of another size, a note
	// left, and the nightly sync uploads all of it.
	for rel := range treeFiles(t, e.src) {
		writeRandom(t, filepath.Join(e.src, filepath.FromSlash(rel)), 4096+int64(len(rel)))
	}
	writeFile(t, filepath.Join(e.src, "README-RANSOM.txt"), []byte("pay\n"))
	syncNow()

	for i, tree := range trees {
		for _, at := range []string{fmt.Sprintf("#%d", i+1), times[i].Format(time.RFC3339Nano)} {
			dest, res := e.restoreAt(at)
			if res.code != 0 {
				t.Fatalf("restore --at %s: exit %d\n%s", at, res.code, res.stderr)
			}
			if !strings.Contains(res.stderr, fmt.Sprintf("restoring the tree of sync #%d", i+1)) {
				t.Errorf("restore --at %s does not say it restores sync #%d:\n%s", at, i+1, res.stderr)
			}
			assertSameTree(t, tree, dest)
		}
	}

	// history lists the three syncs, all restorable, and the versions
	// of a file edited twice and of one deleted.
	fresh := e.withHome()
	hist := fresh.run("history", e.target, "-i", e.keyFile, "--endpoint", e.srv.Endpoint, "--json")
	syncs := events(t, hist.stdout, "sync")
	if hist.code != 0 || len(syncs) != 3 {
		t.Fatalf("history: exit %d, %d syncs; want 3\n%s%s", hist.code, len(syncs), hist.stdout, hist.stderr)
	}
	for i, s := range syncs {
		if s["id"] != float64(i+1) || s["restorable"] != true {
			t.Errorf("history line %d = %v; want sync #%d, restorable", i+1, s, i+1)
		}
	}
	if syncs[1]["deleted"] != float64(1) || syncs[2]["changed"] != float64(5) {
		t.Errorf("history: sync #2 deleted %v, sync #3 changed %v; want 1 and 5", syncs[1]["deleted"], syncs[2]["changed"])
	}
	for path, want := range map[string]int{"a.txt": 3, "dir/b.txt": 2} {
		res := fresh.run("history", e.target, path, "-i", e.keyFile, "--endpoint", e.srv.Endpoint, "--json")
		versions := events(t, res.stdout, "version")
		if res.code != 0 || len(versions) != want {
			t.Errorf("history %s: exit %d, %d versions; want %d\n%s%s", path, res.code, len(versions), want, res.stdout, res.stderr)
			continue
		}
		if path == "dir/b.txt" && versions[0]["delete_marker"] != true {
			t.Errorf("history dir/b.txt: the newest is %v; want the deletion's marker", versions[0])
		}
	}

	// Another machine pulls the catalog and backs up a change: its history
	// still has every sync restorable, the one it pulled included.
	other := e.withHome()
	otherCatalog := filepath.Join(t.TempDir(), "other.db")
	if res := other.run("catalog", "pull", e.src, e.target, "-i", e.keyFile, "--endpoint", e.srv.Endpoint, "--catalog", otherCatalog); res.code != 0 {
		t.Fatalf("catalog pull: exit %d\n%s", res.code, res.stderr)
	}
	writeFile(t, filepath.Join(e.src, "after-pull.txt"), []byte("new on the other machine\n"))
	if res := other.run("sync", e.src, e.target, "-r", e.recipient, "--endpoint", e.srv.Endpoint, "--catalog", otherCatalog); res.code != 0 {
		t.Fatalf("sync after pull: exit %d\n%s", res.code, res.stderr)
	}
	hist = other.run("history", e.target, "-i", e.keyFile, "--endpoint", e.srv.Endpoint, "--json", "--catalog", otherCatalog)
	syncs = events(t, hist.stdout, "sync")
	if hist.code != 0 || len(syncs) != 4 {
		t.Fatalf("history after a pull and a sync: exit %d, %d syncs; want 4\n%s%s", hist.code, len(syncs), hist.stdout, hist.stderr)
	}
	for i, s := range syncs {
		if s["restorable"] != true {
			t.Errorf("history after a pull and a sync: sync #%d is not restorable: %v", i+1, s)
		}
	}
	if err := os.Remove(filepath.Join(e.src, "after-pull.txt")); err != nil {
		t.Fatal(err)
	}

	// Part of a past tree: one file and a glob, as of the first sync.
	dest, res := e.restoreAt(times[0].Format(time.RFC3339Nano), "a.txt", "--include", "dir/**/*.bin")
	if res.code != 0 {
		t.Fatalf("restore --at with a path and a glob: exit %d\n%s", res.code, res.stderr)
	}
	got := treeFiles(t, dest)
	if len(got) != 2 || !sameContent(t, filepath.Join(trees[0], "a.txt"), filepath.Join(dest, "a.txt")) ||
		!sameContent(t, filepath.Join(trees[0], "dir", "sub", "c.bin"), filepath.Join(dest, "dir", "sub", "c.bin")) {
		t.Errorf("restore --at #1 a.txt --include 'dir/**/*.bin' restored %v; want a.txt and dir/sub/c.bin of the first sync", got)
	}

	// Before the first sync there is nothing to restore.
	if _, res := e.restoreAt(times[0].Add(-time.Hour).Format(time.RFC3339Nano)); res.code == 0 || !strings.Contains(res.stderr, "no sync had finished by") {
		t.Errorf("restore --at before the first sync: exit %d\n%s; want a refusal naming the first sync", res.code, res.stderr)
	}
}

// TestRestoreAtUnversioned: on a bucket without versioning, restore --at
// refuses and says how to turn history on.
func TestRestoreAtUnversioned(t *testing.T) {
	e := newEnv(t)
	writeFile(t, filepath.Join(e.src, "a.txt"), []byte("alpha\n"))
	e.sync(0)
	_, res := e.restoreAt("#1")
	if res.code == 0 || !strings.Contains(res.stderr, "is not versioned") || !strings.Contains(res.stderr, "target setup "+e.target+" --versioning") {
		t.Errorf("restore --at on an unversioned bucket: exit %d\n%s; want a refusal with the setup hint", res.code, res.stderr)
	}
}

func TestParseAt(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.Local)
	tests := []struct {
		in   string
		want sync.At
	}{
		{"#12", sync.At{ID: 12}},
		{"3", sync.At{ID: 3}},
		{"3d", sync.At{Time: now.Add(-72 * time.Hour)}},
		{"1.5d", sync.At{Time: now.Add(-36 * time.Hour)}},
		{"12h", sync.At{Time: now.Add(-12 * time.Hour)}},
		{"90m", sync.At{Time: now.Add(-90 * time.Minute)}},
		{"2026-11-20", sync.At{Time: time.Date(2026, 11, 20, 0, 0, 0, 0, time.Local)}},
		{"2026-11-20T03:00", sync.At{Time: time.Date(2026, 11, 20, 3, 0, 0, 0, time.Local)}},
		{"2026-11-20 03:00:05", sync.At{Time: time.Date(2026, 11, 20, 3, 0, 5, 0, time.Local)}},
		{"2026-11-20T03:00:00Z", sync.At{Time: time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC)}},
	}
	for _, tt := range tests {
		got, err := parseAt(tt.in, now)
		if err != nil || got.ID != tt.want.ID || !got.Time.Equal(tt.want.Time) {
			t.Errorf("parseAt(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "#0", "-3d", "yesterday", "2026-13-01", "#x"} {
		if _, err := parseAt(bad, now); err == nil {
			t.Errorf("parseAt(%q) succeeded; want an error", bad)
		}
	}
}

// TestObjectLockRetention: on a bucket with Object Lock, every version a
// sync writes is retained, so neither s3seal's credential nor the AWS CLI
// can delete it by its version ID; a later sync extends the retention of
// unchanged files' versions nearing its end (a margin longer than the
// first lock period makes them due), and leaves alone those far from it.
func TestObjectLockRetention(t *testing.T) {
	e := newEnv(t)
	e.bucket = e.srv.NewLockedBucket(t)
	e.target = "s3://" + e.bucket + "/" + e.prefix
	writeFile(t, filepath.Join(e.src, "a.txt"), []byte("alpha\n"))
	writeFile(t, filepath.Join(e.src, "b.txt"), []byte("beta\n"))
	start := time.Now()
	e.sync(0, "--lock-days", "1")
	row := e.row("a.txt")
	until := time.Unix(row.RetainUntil, 0)
	if row.VersionID == "" || until.Before(start.Add(24*time.Hour-time.Minute)) || until.After(time.Now().Add(24*time.Hour)) {
		t.Fatalf("row after a locked sync: version %q, retained until %s; want a version retained for a day", row.VersionID, until)
	}
	ctx := context.Background()
	st := e.store()
	got, err := st.RetentionOf(ctx, row.ObjectKey, row.VersionID)
	if err != nil || got.Mode != sync.RetentionGovernance || !got.Until.Equal(until) {
		t.Errorf("the server says the version is retained %+v, %v; want governance until %s", got, err, until)
	}
	if err := st.DeleteVersion(ctx, row.ObjectKey, row.VersionID); err == nil {
		t.Errorf("s3seal's credential deleted a retained version")
	}
	aws := exec.Command("aws", "s3api", "delete-object", "--bucket", e.bucket, "--key", row.ObjectKey,
		"--version-id", row.VersionID, "--endpoint-url", e.srv.Endpoint)
	aws.Env = e.environ()
	if out, err := aws.CombinedOutput(); err == nil {
		t.Errorf("aws s3api delete-object --version-id deleted a retained version:\n%s", out)
	} else if !strings.Contains(string(out), "AccessDenied") {
		t.Errorf("aws s3api delete-object --version-id failed, but not as a refusal: %v\n%s", err, out)
	}
	mirror := ""
	if err := st.Versions(ctx, e.prefix+"/.s3seal/catalog.age", func(v sync.Version) error { mirror = v.VersionID; return nil }); err != nil || mirror == "" {
		t.Fatalf("mirror versions: %v", err)
	}
	if err := st.DeleteVersion(ctx, e.prefix+"/.s3seal/catalog.age", mirror); err == nil {
		t.Errorf("the catalog mirror's version could be deleted")
	}
	if rc, _, err := st.GetVersion(ctx, row.ObjectKey, row.VersionID); err != nil {
		t.Errorf("the retained version is gone: %v", err)
	} else {
		rc.Close()
	}

	// Nothing changed, but both files' versions end within the margin.
	res := e.run(e.syncArgsJSON("--lock-days", "2", "--lock-margin", "3d")...)
	if res.code != 0 || !strings.Contains(lastLine(res.stdout), `"retention_extended":2`) || !strings.Contains(lastLine(res.stdout), `"uploaded":0`) {
		t.Fatalf("sync with the versions due: exit %d, summary %s; want 2 retentions extended, nothing uploaded\n%s", res.code, lastLine(res.stdout), res.stderr)
	}
	extended := e.row("a.txt")
	if extended.VersionID != row.VersionID || extended.RetainUntil < row.RetainUntil+23*3600 {
		t.Errorf("after the extension the row says version %s until %s; want %s until a day later than %s",
			extended.VersionID, time.Unix(extended.RetainUntil, 0), row.VersionID, until)
	}
	if got, err := st.RetentionOf(ctx, row.ObjectKey, row.VersionID); err != nil || got.Until.Unix() != extended.RetainUntil {
		t.Errorf("the server says the version is retained until %s (%v); want %s", got.Until, err, time.Unix(extended.RetainUntil, 0))
	}

	// Far from their end: no request for them.
	res = e.run(e.syncArgsJSON("--lock-days", "2", "--lock-margin", "1h")...)
	if res.code != 0 || !strings.Contains(lastLine(res.stdout), `"retention_extended":0`) {
		t.Errorf("sync with no version due: exit %d, summary %s; want none extended\n%s", res.code, lastLine(res.stdout), res.stderr)
	}

	// A bucket without Object Lock refuses --lock-days with a hint.
	plain := newEnv(t)
	writeFile(t, filepath.Join(plain.src, "a.txt"), []byte("alpha\n"))
	res = plain.run(plain.syncArgsJSON("--lock-days", "1")...)
	if res.code == 0 || !strings.Contains(res.stderr, "does not have Object Lock") || !strings.Contains(res.stderr, "hint:") {
		t.Errorf("--lock-days on a bucket without Object Lock: exit %d\n%s; want a refusal with a hint", res.code, res.stderr)
	}
}

// syncArgsJSON is the env's sync command line with --json and extra flags.
func (e *env) syncArgsJSON(extra ...string) []string {
	return append([]string{"sync", e.src, e.target, "-r", e.recipient, "--endpoint", e.srv.Endpoint, "--json", "--catalog", e.catalog}, extra...)
}

// lastLine is the last line of out.
func lastLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[len(lines)-1]
}
