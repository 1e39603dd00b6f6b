package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// oddNames are source paths that file systems allow and S3 keys or
// terminals may not: bytes that are not UTF-8, control characters,
// names that differ only in case or in Unicode normalization, a name of
// 255 bytes (NAME_MAX), and a path of more than 3,800 bytes in 16 levels
// (near PATH_MAX once under SRC or DEST).
func oddNames() []string {
	deep := ""
	for i := range 15 {
		deep += fmt.Sprintf("%02d", i) + strings.Repeat("d", 240) + "/"
	}
	return []string{
		"latin1-caf\xe9.txt",
		"bytes-\xff\xfe\x80/inside",
		"new\nline",
		"tab\tand\rreturn",
		"A.txt",
		"a.txt",
		"caf\u00e9-nfc",
		"cafe\u0301-nfd",
		"-leading-dash",
		" spaces around ",
		"back\\slash",
		"percent%2Fslash",
		strings.Repeat("n", 255),
		deep + strings.Repeat("f", 200),
	}
}

// TestOddNamesHidden backs the odd names up with hidden names (the
// default) and restores them: every one must come back byte for byte
// under its exact name.
func TestOddNamesHidden(t *testing.T) {
	e := newEnv(t)
	names := oddNames()
	for i, name := range names {
		writeFile(t, filepath.Join(e.src, name), []byte(fmt.Sprintf("file %d: %q\n", i, name)))
	}
	if n := len(treeFiles(t, e.src)); n != len(names) {
		t.Fatalf("the source has %d files; want %d (does this file system fold case?)", n, len(names))
	}
	if sum := e.sync(0); sum.Uploaded != len(names) || sum.Failed != 0 {
		t.Fatalf("sync of odd names: %+v; want %d uploaded", sum, len(names))
	}
	dest := e.restore()
	assertSameTree(t, e.src, dest)
	for _, name := range names {
		if _, err := os.Lstat(filepath.Join(dest, name)); err != nil {
			t.Errorf("restored tree lacks %q: %v", name, err)
		}
	}
	if sum := e.sync(0); sum.Uploaded != 0 {
		t.Errorf("second sync of odd names uploaded %d files; want 0", sum.Uploaded)
	}
}

// TestOddNamesPlain backs the odd names up with plain names: a name that
// is not UTF-8, or whose key would pass S3's 1,024 bytes, must be a clear
// per-file error (exit 3) and every other name must be stored under its
// own key and restored exactly.
func TestOddNamesPlain(t *testing.T) {
	e := newEnv(t)
	var valid []string
	wantFail := map[string]string{}
	for i, name := range oddNames() {
		writeFile(t, filepath.Join(e.src, name), []byte(fmt.Sprintf("file %d\n", i)))
		switch {
		case !utf8.ValidString(name):
			wantFail[name] = "not valid UTF-8"
		case len(name) > 1000:
			wantFail[name] = "over S3's limit of 1,024"
		default:
			valid = append(valid, name)
		}
	}
	res := e.run("sync", e.src, e.target, "-r", e.recipient, "--endpoint", e.srv.Endpoint, "--catalog", e.catalog, "--json", "--plain-names")
	if res.code != exitPartial {
		t.Fatalf("plain names with non-UTF-8 names: exit %d; want 3\n%s", res.code, res.stderr)
	}
	// --json output is UTF-8: a name that is not comes out with U+FFFD
	// in place of its bad bytes.
	fails := events(t, res.stdout, "fail")
	if len(fails) != len(wantFail) {
		t.Errorf("%d fail events; want %d", len(fails), len(wantFail))
	}
	for name, want := range wantFail {
		ev := failEvent(t, res.stdout, asJSON(t, name))
		if ev == nil || !strings.Contains(fmt.Sprint(ev["error"]), want) {
			t.Errorf("fail event for %.40q: %.200v; want one saying %q", name, ev, want)
		}
	}
	if s := parseSummary(t, res.stdout); s.Uploaded != len(valid) {
		t.Errorf("plain-name sync uploaded %d files; want %d", s.Uploaded, len(valid))
	}
	keys := map[string]bool{}
	for _, o := range e.objects() {
		keys[o.Key] = true
	}
	for _, name := range valid {
		if !keys[e.prefix+"/"+name] {
			t.Errorf("no object under the plain key of %q", name)
		}
	}
	dest := e.restore("--fingerprint", e.fingerprint()) // plain names: a restore proves them
	for _, name := range valid {
		if !sameContent(t, filepath.Join(e.src, name), filepath.Join(dest, name)) {
			t.Errorf("%q not restored exactly", name)
		}
	}
	if n := len(treeFiles(t, dest)); n != len(valid) {
		t.Errorf("restored %d files; want %d", n, len(valid))
	}
}

// asJSON returns s as it reads after a trip through encoding/json.
func asJSON(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var out string
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
