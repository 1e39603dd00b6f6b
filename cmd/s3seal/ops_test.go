package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	gosync "sync"
	"testing"

	"github.com/creack/pty"

	"github.com/s3seal/s3seal/catalog"
)

// objectNames returns the relative names of the env's file objects (plain names).
func (e *env) objectNames() []string {
	e.t.Helper()
	var names []string
	for _, o := range e.objects() {
		names = append(names, strings.TrimPrefix(o.Key, e.prefix+"/"))
	}
	sort.Strings(names)
	return names
}

// syncArgs are the arguments of a sync of the env with plain names.
func (e *env) syncArgs(extra ...string) []string {
	return append([]string{"sync", e.src, e.target, "-r", e.recipient, "--endpoint", e.srv.Endpoint,
		"--catalog", e.catalog, "--plain-names"}, extra...)
}

// TestProgressOnTerminal runs a sync with standard error on a pseudo-terminal
// and looks for the bar, its counts and the per-file bar of the large file.
func TestProgressOnTerminal(t *testing.T) {
	e := newEnv(t)
	writeRandom(t, filepath.Join(e.src, "big.bin"), 48<<20)
	writeFile(t, filepath.Join(e.src, "small.txt"), []byte("small\n"))
	cmd := exec.Command(binary, e.syncArgs()...)
	cmd.Env = append(e.environ(), "TERM=xterm")
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 150})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	copied := make(chan struct{})
	go func() { io.Copy(&out, tty); close(copied) }() // ends with EIO once the child is gone
	werr := cmd.Wait()
	<-copied
	tty.Close()
	screen := out.String()
	if werr != nil {
		t.Fatalf("sync on a terminal: %v\n%s", werr, screen)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`2/2 files`),                                // files done of total
		regexp.MustCompile(`\[=+\]`),                                   // the finished bar
		regexp.MustCompile(`48\.0 MiB/48\.0 MiB, [0-9.]+ [KMG]?i?B/s`), // bytes of total, rate
		regexp.MustCompile(`\x1b\[|\r`),                                // drawn in place
		regexp.MustCompile(`s3seal: 2 files: 2 uploaded`),              // the summary, below the bar
	} {
		if !want.MatchString(screen) {
			t.Errorf("terminal output does not match %q:\n%q", want, screen)
		}
	}
}

// TestProgressPlain checks that without a terminal the progress comes as
// plain lines, and that no output holds a control character.
func TestProgressPlain(t *testing.T) {
	e := newEnv(t)
	writeRandom(t, filepath.Join(e.src, "big.bin"), 64<<20)
	writeFile(t, filepath.Join(e.src, "small.txt"), []byte("small\n"))
	res := e.run(e.syncArgs("--progress-interval", "20ms", "-v")...)
	if res.code != 0 {
		t.Fatalf("sync: exit %d\n%s", res.code, res.stderr)
	}
	if !regexp.MustCompile(`(?m)^s3seal: progress: [0-9]+/2 files, `).MatchString(res.stderr) {
		t.Errorf("stderr has no progress line:\n%s", res.stderr)
	}
	for name, text := range map[string]string{"stdout": res.stdout, "stderr": res.stderr} {
		for i, r := range text {
			if r < 0x20 && r != '\n' || r == 0x7f {
				t.Fatalf("%s holds control character %q at %d:\n%q", name, r, i, text)
			}
		}
	}
	quiet := e.run(e.syncArgs("--progress-interval", "1ms", "-q")...)
	if quiet.code != 0 || quiet.stderr != "" || quiet.stdout != "" {
		t.Errorf("sync -q: exit %d, stdout %q, stderr %q; want 0 and no output", quiet.code, quiet.stdout, quiet.stderr)
	}
}

// jsonSchema is docs/json.md's tables: for each section ("plan",
// "summary of sync"), each field's JSON type and whether it is always there.
type jsonField struct {
	typ    string
	always bool
}

func readJSONSchema(t *testing.T) map[string]map[string]jsonField {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "docs", "json.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	schema := map[string]map[string]jsonField{}
	var section string
	row := regexp.MustCompile("^\\| ([a-z_]+) \\| (string|number|boolean) \\| (always|optional) \\|")
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if h, ok := strings.CutPrefix(line, "### "); ok {
			section = strings.ReplaceAll(h, "`", "")
			schema[section] = map[string]jsonField{}
			continue
		}
		if m := row.FindStringSubmatch(line); m != nil && section != "" {
			schema[section][m[1]] = jsonField{m[2], m[3] == "always"}
		}
	}
	if len(schema) < 5 {
		t.Fatalf("docs/json.md: found %d schema sections; want the event tables", len(schema))
	}
	return schema
}

func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	}
	return "other"
}

// TestJSONSchema parses the --json stream of a sync with uploads, skips and
// a failing file, and checks every object against docs/json.md.
func TestJSONSchema(t *testing.T) {
	schema := readJSONSchema(t)
	e := newEnv(t)
	writeFile(t, filepath.Join(e.src, "a.txt"), []byte("a\n"))
	writeFile(t, filepath.Join(e.src, "dir", "b.txt"), []byte("b\n"))
	writeFile(t, filepath.Join(e.src, "empty"), nil)
	writeFile(t, filepath.Join(e.src, "bad-\xff-name"), []byte("no valid key\n")) // fails with plain names
	if err := os.Symlink("a.txt", filepath.Join(e.src, "link")); err != nil {
		t.Fatal(err)
	}
	first := e.run(e.syncArgs("--json")...)
	writeFile(t, filepath.Join(e.src, "a.txt"), []byte("a changed\n"))
	second := e.run(e.syncArgs("--json")...)

	seen := map[string]int{}
	for i, res := range []result{first, second} {
		if res.code != exitPartial {
			t.Fatalf("sync %d: exit %d; want %d (one file fails)\n%s", i+1, res.code, exitPartial, res.stderr)
		}
		lines := strings.Split(strings.TrimRight(res.stdout, "\n"), "\n")
		for n, line := range lines {
			var obj map[string]any
			if err := json.Unmarshal([]byte(line), &obj); err != nil {
				t.Fatalf("sync %d line %d is not JSON: %q", i+1, n+1, line)
			}
			typ, _ := obj["type"].(string)
			section := typ
			if typ == "summary" {
				section = "summary of sync"
				if n != len(lines)-1 {
					t.Errorf("sync %d: summary on line %d of %d; want it last", i+1, n+1, len(lines))
				}
			}
			fields, ok := schema[section]
			if !ok {
				t.Errorf("sync %d: event type %q is not documented: %s", i+1, typ, line)
				continue
			}
			seen[typ]++
			for name, v := range obj {
				f, ok := fields[name]
				if !ok {
					t.Errorf("%s event has undocumented field %q: %s", typ, name, line)
				} else if got := jsonType(v); got != f.typ {
					t.Errorf("%s event field %q is a %s; docs/json.md says %s: %s", typ, name, got, f.typ, line)
				}
			}
			for name, f := range fields {
				if _, ok := obj[name]; f.always && !ok {
					t.Errorf("%s event lacks field %q, which docs/json.md says is always there: %s", typ, name, line)
				}
			}
		}
	}
	for _, typ := range []string{"scan", "plan", "start", "done", "skip", "fail", "warn", "summary"} {
		if seen[typ] == 0 {
			t.Errorf("no %q event in the two syncs; the test must see every kind it checks (seen %v)", typ, seen)
		}
	}
	if got := events(t, second.stdout, "done"); len(got) != 1 || got[0]["path"] != "a.txt" || got[0]["reason"] != "changed" {
		t.Errorf("second sync done events = %v; want a.txt changed", got)
	}
	if got := events(t, second.stdout, "skip"); len(got) != 2 {
		t.Errorf("second sync skip events = %v; want dir/b.txt and empty", got)
	}
	s := parseSummary(t, second.stdout)
	if s.Uploaded != 1 || s.Failed != 1 || s.Unchanged != 2 {
		t.Errorf("second sync summary %+v; want 1 uploaded, 1 failed, 2 unchanged", s)
	}
}

// TestDelete checks that deleted files keep their objects by default, that
// --delete removes them (objects and rows) within --max-delete and refuses
// beyond it, that --dry-run lists them, and that excluded files are kept.
func TestDelete(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"a", "b", "sub/c", "d", "x.tmp"} {
		writeFile(t, filepath.Join(e.src, filepath.FromSlash(name)), []byte(name))
	}
	if res := e.run(e.syncArgs()...); res.code != 0 {
		t.Fatalf("first sync: exit %d\n%s", res.code, res.stderr)
	}
	all := []string{"a", "b", "d", "sub/c", "x.tmp"}
	for _, name := range []string{"a", "b", "sub/c", "x.tmp"} {
		if err := os.Remove(filepath.Join(e.src, filepath.FromSlash(name))); err != nil {
			t.Fatal(err)
		}
	}
	exclude := []string{"--exclude", "*.tmp"}

	if res := e.run(e.syncArgs(exclude...)...); res.code != 0 || !equal(e.objectNames(), all) {
		t.Fatalf("sync without --delete: exit %d, objects %q; want 0 and %q kept\n%s", res.code, e.objectNames(), all, res.stderr)
	}

	dry := e.run(e.syncArgs(append(exclude, "--delete", "--dry-run")...)...)
	for _, want := range []string{"would delete a (", "would delete b (", "would delete sub/c ("} {
		if !strings.Contains(dry.stdout, want) {
			t.Errorf("--delete --dry-run stdout lacks %q:\n%s", want, dry.stdout)
		}
	}
	if strings.Contains(dry.stdout, "x.tmp") || dry.code != 0 || !equal(e.objectNames(), all) {
		t.Errorf("--delete --dry-run: exit %d, objects %q, stdout:\n%s\nwant exit 0, x.tmp (excluded) not listed, nothing deleted", dry.code, e.objectNames(), dry.stdout)
	}

	refused := e.run(e.syncArgs(append(exclude, "--delete", "--max-delete", "2")...)...)
	if refused.code != exitError || !strings.Contains(refused.stderr, "s3seal: error: too many deletions: 3 files") ||
		!strings.Contains(refused.stderr, "s3seal: hint: ") || !equal(e.objectNames(), all) {
		t.Errorf("--delete --max-delete 2: exit %d, objects %q, stderr:\n%s\nwant exit 1, an error and a hint, nothing deleted", refused.code, e.objectNames(), refused.stderr)
	}

	res := e.run(e.syncArgs(append(exclude, "--delete", "--max-delete", "3", "--json")...)...)
	if res.code != 0 {
		t.Fatalf("--delete --max-delete 3: exit %d\n%s", res.code, res.stderr)
	}
	var deleted []string
	for _, ev := range events(t, res.stdout, "delete") {
		deleted = append(deleted, ev["path"].(string))
	}
	sort.Strings(deleted)
	if want := []string{"a", "b", "sub/c"}; !equal(deleted, want) || !equal(e.objectNames(), []string{"d", "x.tmp"}) {
		t.Errorf("--delete: delete events %q, objects left %q; want %q deleted and d, x.tmp left", deleted, e.objectNames(), want)
	}
	db, err := catalog.Open(e.catalog)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := db.Lookup("a"); ok {
		t.Errorf("catalog still has a row for the deleted file a")
	}
	if _, ok, _ := db.Lookup("x.tmp"); !ok {
		t.Errorf("catalog lost the row of the excluded file x.tmp")
	}
	db.Close()
}

func equal(a, b []string) bool { return strings.Join(a, "\x00") == strings.Join(b, "\x00") }

// TestStorageClassOnFileObjectsOnly watches the requests through a proxy:
// every PUT and multipart upload of a file object carries the storage class,
// and none of the catalog mirror's does.
func TestStorageClassOnFileObjectsOnly(t *testing.T) {
	e := newEnv(t)
	target, err := url.Parse(e.srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	type request struct{ method, path, query, class string }
	var mu gosync.Mutex
	var requests []request
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Host = r.In.Host // the signature covers the host the client used
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut || r.Method == http.MethodPost {
			mu.Lock()
			requests = append(requests, request{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("X-Amz-Storage-Class")})
			mu.Unlock()
		}
		proxy.ServeHTTP(w, r)
	}))
	defer srv.Close()

	writeFile(t, filepath.Join(e.src, "small"), []byte("small"))
	writeRandom(t, filepath.Join(e.src, "large"), 6<<20) // a multipart upload at 5 MiB parts
	for i := range 2 {
		if i == 1 {
			writeFile(t, filepath.Join(e.src, "small"), []byte("changed")) // and the mirror is copied aside
		}
		res := e.run("sync", e.src, e.target, "-r", e.recipient, "--endpoint", srv.URL, "--catalog", e.catalog,
			"--plain-names", "--storage-class", "STANDARD_IA", "--part-size", "5M")
		if res.code != 0 {
			t.Fatalf("sync %d: exit %d\n%s", i+1, res.code, res.stderr)
		}
	}
	meta := "/" + e.bucket + "/" + e.prefix + "/.s3seal/"
	var files, mirror int
	for _, r := range requests {
		starts := r.method == http.MethodPut && !strings.Contains(r.query, "partNumber") ||
			r.method == http.MethodPost && strings.Contains(r.query, "uploads")
		if !starts {
			continue // parts and completions carry no class
		}
		if strings.HasPrefix(r.path, meta) {
			mirror++
			if r.class != "" {
				t.Errorf("%s %s?%s sent storage class %q; the catalog mirror must keep the default", r.method, r.path, r.query, r.class)
			}
			continue
		}
		files++
		if r.class != "STANDARD_IA" {
			t.Errorf("%s %s?%s sent storage class %q; want STANDARD_IA", r.method, r.path, r.query, r.class)
		}
	}
	if files < 3 || mirror < 3 {
		t.Errorf("saw %d file object writes and %d mirror writes; want at least 3 each (two syncs, one multipart, one copy)", files, mirror)
	}
	if res := e.run(e.syncArgs("--storage-class", "standard_ia")...); res.code != exitUsage || !strings.Contains(res.stderr, "--storage-class STANDARD_IA") {
		t.Errorf("--storage-class standard_ia: exit %d, stderr %q; want a usage error naming STANDARD_IA", res.code, res.stderr)
	}
}

// TestCompletionBash loads the bash completion script in bash and asks it
// to complete subcommands and a flag.
func TestCompletionBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal("bash is missing")
	}
	e := newEnv(t)
	res := e.run("completion", "bash")
	if res.code != 0 {
		t.Fatalf("completion bash: exit %d\n%s", res.code, res.stderr)
	}
	script := filepath.Join(t.TempDir(), "s3seal.bash")
	writeFile(t, script, []byte(res.stdout))
	complete := func(line string) []string {
		t.Helper()
		// The script needs bash-completion's _get_comp_words_by_ref, as an
		// interactive shell has it; without the package, a minimal one that
		// splits words on blanks only.
		prog := `if [[ -r /usr/share/bash-completion/bash_completion ]]; then
  source /usr/share/bash-completion/bash_completion
else
  _get_comp_words_by_ref() {
    cur="${COMP_WORDS[COMP_CWORD]}"; prev="${COMP_WORDS[COMP_CWORD-1]}"
    words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD
  }
fi
source "$1"
line="$2"
read -ra COMP_WORDS <<< "$line"
[[ "$line" == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMP_LINE="$line"
COMP_POINT=${#line}
__start_s3seal
printf '%s\n' "${COMPREPLY[@]}"`
		cmd := exec.Command(bash, "--norc", "--noprofile", "-c", prog, "bash", script, line)
		cmd.Env = append(e.environ(), "PATH="+filepath.Dir(binary)+string(os.PathListSeparator)+os.Getenv("PATH"))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr // compopt complains outside a real completion
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("bash completion of %q: %v\n%s", line, err, stderr.String())
		}
		return strings.Fields(string(out))
	}
	for _, tt := range []struct {
		line string
		want []string
	}{
		{"s3seal sy", []string{"sync"}},
		{"s3seal catalog pu", []string{"pull", "push"}},
		{"s3seal ", []string{"audit", "catalog", "completion", "config", "restore", "sync", "version"}},
		{"s3seal sync --storage-c", []string{"--storage-class"}},
	} {
		got := complete(tt.line)
		sort.Strings(got)
		for i := range got {
			got[i] = strings.TrimSuffix(got[i], "=")
		}
		want := append([]string(nil), tt.want...)
		sort.Strings(want)
		if strings.HasSuffix(tt.line, " ") {
			got = intersect(got, want) // help is offered too
		}
		if !equal(got, want) {
			t.Errorf("completing %q gave %q; want %q", tt.line, got, want)
		}
	}
}

func intersect(got, want []string) []string {
	var out []string
	for _, g := range got {
		for _, w := range want {
			if g == w {
				out = append(out, g)
			}
		}
	}
	return out
}
