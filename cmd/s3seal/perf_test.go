package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSyncRenameIsServerSideCopy checks that a renamed file and a copy of
// an uploaded file cost no upload: both become server-side copies of the
// object already in the bucket, which restore to the right bytes.
func TestSyncRenameIsServerSideCopy(t *testing.T) {
	e := newEnv(t)
	writeRandom(t, filepath.Join(e.src, "a", "big"), 3<<20+17)
	writeRandom(t, filepath.Join(e.src, "small"), 100)
	e.sync(0)

	big := filepath.Join(e.src, "a", "big")
	data, err := os.ReadFile(big)
	if err != nil {
		t.Fatal(err)
	}
	mustMkdir(t, filepath.Join(e.src, "b"))
	if err := os.Rename(big, filepath.Join(e.src, "b", "moved")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(e.src, "dup"), data)

	// The dry run shows the plan the run carries out: copies, not uploads.
	dry := e.run("sync", "-n", e.src, e.target, "-r", e.recipient, "--endpoint", e.srv.Endpoint, "--catalog", e.catalog)
	for _, want := range []string{`would copy b/moved from a/big (same-content, `, `would copy dup from a/big (same-content, `} {
		if dry.code != 0 || !strings.Contains(dry.stdout, want) || strings.Contains(dry.stdout, "would upload") {
			t.Errorf("sync -n after rename: exit %d, want a line %q and no upload:\n%s%s", dry.code, want, dry.stdout, dry.stderr)
		}
	}
	res := e.run("sync", e.src, e.target, "-r", e.recipient, "--endpoint", e.srv.Endpoint, "--json", "--catalog", e.catalog)
	if res.code != 0 {
		t.Fatalf("sync after rename: exit %d\n%s", res.code, res.stderr)
	}
	var sum struct {
		BytesSent  int64 `json:"bytes_sent"`
		BytesSaved int64 `json:"bytes_saved"`
		Copied     int   `json:"copied"`
		Uploaded   int   `json:"uploaded"`
	}
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.BytesSent != 0 || sum.Copied != 2 || sum.Uploaded != 0 {
		t.Errorf("sync after rename and copy: %+v; want 2 copied and 0 bytes sent", sum)
	}
	if want := 2*int64(len(data)) + 100; sum.BytesSaved != want {
		t.Errorf("bytes_saved = %d; want %d", sum.BytesSaved, want)
	}
	copied := 0
	for _, ev := range events(t, res.stdout, "done") {
		if ev["reason"] == "copied" {
			copied++
		}
	}
	if copied != 2 {
		t.Errorf("%d done events with reason copied; want 2\n%s", copied, res.stdout)
	}
	if row := e.row("dup"); row.PlainMD5 != e.row("b/moved").PlainMD5 {
		t.Errorf("catalog rows of the copies have different plaintext MD5s")
	}
	restored := e.restore() // a/big too: without --delete the old path stays backed up
	for _, rel := range []string{"a/big", "b/moved", "dup"} {
		got, err := os.ReadFile(filepath.Join(restored, filepath.FromSlash(rel)))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("restored %s: %d bytes, %v; want the original %d bytes", rel, len(got), err, len(data))
		}
	}
	if s := e.sync(0); s.Uploaded != 0 || s.BytesSent != 0 {
		t.Errorf("sync after the copies: %+v; want nothing to do", s)
	}
}
