package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/s3seal/s3seal/catalog"
	"github.com/s3seal/s3seal/sync"
	"github.com/s3seal/s3seal/sync/s3store"
	"github.com/s3seal/s3seal/sync/s3store/s3test"
)

// binary is the s3seal built once for the test binary.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "s3seal-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "s3seal")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build s3seal:", err)
		os.Exit(1)
	}
	code := s3test.Main(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is one test's world: a bucket on the shared gateway, a source folder,
// a home with its own data directory, and an X25519 key.
type env struct {
	t         testing.TB
	srv       *s3test.Server
	bucket    string
	target    string // s3://bucket/backup
	prefix    string
	src       string
	home      string
	identity  *age.X25519Identity
	keyFile   string
	recipient string
	catalog   string // the --catalog every sync of the env uses
	extraEnv  []string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvOn(t, s3test.Get(t))
}

// newEnvOn is newEnv with a bucket on srv (see s3test.GetMode).
func newEnvOn(t testing.TB, srv *s3test.Server) *env {
	t.Helper()
	e := &env{t: t, srv: srv, bucket: srv.NewBucket(t), prefix: "backup"}
	e.target = "s3://" + e.bucket + "/" + e.prefix
	dir := t.TempDir()
	e.src = filepath.Join(dir, "src")
	e.home = filepath.Join(dir, "home")
	mustMkdir(t, e.src)
	mustMkdir(t, e.home)
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	e.identity = id
	e.recipient = id.Recipient().String()
	e.catalog = filepath.Join(dir, "catalog.db")
	e.keyFile = filepath.Join(dir, "key.txt")
	writeFile(t, e.keyFile, []byte(id.String()+"\n"))
	return e
}

// result is what one run of the binary did.
type result struct {
	code   int
	stdout string
	stderr string
}

// run runs s3seal with the test's endpoint and credentials in the environment.
func (e *env) run(args ...string) result {
	e.t.Helper()
	return e.runCtx(context.Background(), args...)
}

func (e *env) runCtx(ctx context.Context, args ...string) result {
	e.t.Helper()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = e.environ()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("run s3seal %v: %v", args, err)
	}
	return result{code, stdout.String(), stderr.String()}
}

func (e *env) environ() []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + e.home,
		"XDG_DATA_HOME=" + filepath.Join(e.home, "data"),
		"AWS_ACCESS_KEY_ID=" + e.srv.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + e.srv.SecretKey,
		"AWS_REGION=" + e.srv.Region,
		"AWS_CONFIG_FILE=" + filepath.Join(e.home, "no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(e.home, "no-aws-credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
	}
	return append(env, e.extraEnv...)
}

// sync runs a sync to the env's target with its recipient and --json, and
// returns the summary; it fails the test unless the exit code is want.
func (e *env) sync(want int, extra ...string) summary {
	e.t.Helper()
	args := append([]string{"sync", e.src, e.target, "-r", e.recipient, "--endpoint", e.srv.Endpoint, "--json", "--catalog", e.catalog}, extra...)
	res := e.run(args...)
	if res.code != want {
		e.t.Fatalf("s3seal sync: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", res.code, want, res.stdout, res.stderr)
	}
	return parseSummary(e.t, res.stdout)
}

// restore restores the target into a new folder and returns it.
func (e *env) restore(extra ...string) string {
	e.t.Helper()
	dest := filepath.Join(e.t.TempDir(), "restored")
	res := e.run(append([]string{"restore", e.target, dest, "-i", e.keyFile, "--endpoint", e.srv.Endpoint}, extra...)...)
	if res.code != 0 {
		e.t.Fatalf("s3seal restore: exit %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	return dest
}

// store returns a client for the env's bucket, to look at it from outside.
func (e *env) store() *s3store.Store {
	e.t.Helper()
	st, err := s3store.New(context.Background(), e.srv.Config(e.bucket))
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// objects lists the file objects under the prefix (not the internal ones).
func (e *env) objects() []sync.Object {
	e.t.Helper()
	var objs []sync.Object
	err := e.store().List(context.Background(), e.prefix+"/", func(o sync.Object) error {
		if !strings.HasPrefix(o.Key, e.prefix+"/.s3seal/") {
			objs = append(objs, o)
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return objs
}

// summary is the last line of sync --json.
type summary struct {
	Type      string `json:"type"`
	Files     int    `json:"files"`
	Uploaded  int    `json:"uploaded"`
	Unchanged int    `json:"unchanged"`
	Failed    int    `json:"failed"`
	BytesSent int64  `json:"bytes_sent"`
}

func parseSummary(t testing.TB, stdout string) summary {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var s summary
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &s); err != nil || s.Type != "summary" {
		t.Fatalf("no summary in --json output (%v):\n%s", err, stdout)
	}
	return s
}

// events returns the --json events of one type.
func events(t testing.TB, stdout, typ string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("bad --json line %q: %v", line, err)
		}
		if ev["type"] == typ {
			out = append(out, ev)
		}
	}
	return out
}

func mustMkdir(t testing.TB, path string) {
	t.Helper()
	if err := os.MkdirAll(path, 0o755); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	mustMkdir(t, filepath.Dir(path))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// writeRandom writes n random bytes to path, streaming.
func writeRandom(t testing.TB, path string, n int64) {
	t.Helper()
	mustMkdir(t, filepath.Dir(path))
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(f, rand.Reader, n); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// assertSameTree fails unless the regular files under want and got have the
// same names, bytes, modes and mtimes.
func assertSameTree(t testing.TB, want, got string) {
	t.Helper()
	wantFiles := treeFiles(t, want)
	gotFiles := treeFiles(t, got)
	for rel, w := range wantFiles {
		g, ok := gotFiles[rel]
		if !ok {
			t.Errorf("restored tree lacks %q", rel)
			continue
		}
		if w.mode != g.mode || !w.mtime.Equal(g.mtime) {
			t.Errorf("%q: mode %v mtime %v; want %v %v", rel, g.mode, g.mtime, w.mode, w.mtime)
		}
		if !sameContent(t, filepath.Join(want, rel), filepath.Join(got, rel)) {
			t.Errorf("%q: content differs", rel)
		}
	}
	for rel := range gotFiles {
		if _, ok := wantFiles[rel]; !ok {
			t.Errorf("restored tree has extra file %q", rel)
		}
	}
}

type fileInfo struct {
	mode  fs.FileMode
	mtime time.Time
}

func treeFiles(t testing.TB, root string) map[string]fileInfo {
	t.Helper()
	files := make(map[string]fileInfo)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		files[filepath.ToSlash(rel)] = fileInfo{fi.Mode(), fi.ModTime()}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func sameContent(t testing.TB, a, b string) bool {
	t.Helper()
	fa, err := os.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	ba, bb := make([]byte, 1<<20), make([]byte, 1<<20)
	for {
		na, ea := io.ReadFull(fa, ba)
		nb, eb := io.ReadFull(fb, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			return false
		}
		if ea != nil || eb != nil {
			return ea == eb || (na == nb && (ea == io.EOF || ea == io.ErrUnexpectedEOF) && (eb == io.EOF || eb == io.ErrUnexpectedEOF))
		}
	}
}

// row returns the catalog row of a source path.
func (e *env) row(rel string) catalog.File {
	e.t.Helper()
	db, err := catalog.Open(e.catalog)
	if err != nil {
		e.t.Fatal(err)
	}
	defer db.Close()
	f, ok, err := db.Lookup(rel)
	if err != nil || !ok {
		e.t.Fatalf("catalog row for %q: %v, %v", rel, ok, err)
	}
	return f
}

func md5Hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

func itoa(n int) string { return strconv.Itoa(n) }

func s3PutOptions() sync.PutOptions { return sync.PutOptions{} }

// copyTree copies the regular files under from to to, as a copy to another
// machine would: new inodes, and mtimes and ctimes of now.
func copyTree(t testing.TB, from, to string) {
	t.Helper()
	for rel := range treeFiles(t, from) {
		data, err := os.ReadFile(filepath.Join(from, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(to, filepath.FromSlash(rel)), data)
	}
}

// withHome returns a copy of the env whose runs use another home, and so
// another default catalog directory: the same user on a second machine.
func (e *env) withHome() *env {
	e.t.Helper()
	other := *e
	other.home = filepath.Join(e.t.TempDir(), "home")
	mustMkdir(e.t, other.home)
	return &other
}

type (
	s3storeObject = sync.Object
	ageIdentity   = age.Identity
)

// getObject returns an object's bytes.
func getObject(t testing.TB, st *s3store.Store, key string) []byte {
	t.Helper()
	body, _, err := st.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
