package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNamedTarget syncs through a named target of the config file, then
// shows that a flag on the command line overrides the file's setting.
func TestNamedTarget(t *testing.T) {
	e := newEnv(t)
	configHome := filepath.Join(e.home, "config")
	e.extraEnv = append(e.extraEnv, "XDG_CONFIG_HOME="+configHome)
	path := filepath.Join(configHome, "s3seal", "config.toml")
	if res := e.run("config", "path"); res.code != 0 || strings.TrimSpace(res.stdout) != path {
		t.Fatalf("config path = %q (exit %d); want %q", res.stdout, res.code, path)
	}
	writeFile(t, path, []byte(fmt.Sprintf(`
[targets.nightly]
source = %q
target = %q
recipient = [%q]
endpoint = %q
catalog = %q
plain-names = true
exclude = ["*.log"]
`, e.src, e.target, e.recipient, e.srv.Endpoint, e.catalog)))
	writeFile(t, filepath.Join(e.src, "keep.txt"), []byte("keep"))
	writeFile(t, filepath.Join(e.src, "app.log"), []byte("log"))

	res := e.run("sync", "nightly", "--json")
	if res.code != 0 {
		t.Fatalf("sync nightly: exit %d\n%s", res.code, res.stderr)
	}
	if got := e.objectNames(); !equal(got, []string{"keep.txt"}) {
		t.Errorf("objects after sync nightly = %q; want keep.txt (app.log excluded by the config)", got)
	}

	res = e.run("sync", "nightly", "--json", "--exclude", "*.txt")
	if res.code != 0 {
		t.Fatalf("sync nightly --exclude '*.txt': exit %d\n%s", res.code, res.stderr)
	}
	done := events(t, res.stdout, "done")
	if len(done) != 1 || done[0]["path"] != "app.log" {
		t.Errorf("sync nightly --exclude '*.txt' uploaded %v; want app.log only: the flag replaces the config's exclude", done)
	}

	if res := e.run("sync", "daily"); res.code != exitUsage || !strings.Contains(res.stderr, `no target "daily"`) ||
		!strings.Contains(res.stderr, "s3seal: hint: the file defines: nightly") {
		t.Errorf("sync daily: exit %d, stderr %q; want a usage error naming the defined targets", res.code, res.stderr)
	}
}

// TestConfigRefusesSecrets checks that a secret in the config is refused
// without being echoed, with a hint naming the file setting to use.
func TestConfigRefusesSecrets(t *testing.T) {
	e := newEnv(t)
	path := filepath.Join(t.TempDir(), "config.toml")
	for setting, hint := range map[string]string{
		`passphrase = "hunter2-secret"`: "passphrase-file",
		`secret-key = "hunter2-secret"`: "secret-key-file",
		`jobs = "hunter2-secret"`:       "",
	} {
		writeFile(t, path, []byte(fmt.Sprintf("[targets.t]\nsource = %q\ntarget = %q\n%s\n", e.src, e.target, setting)))
		res := e.run("sync", "t", "--config", path)
		if res.code == 0 || strings.Contains(res.stderr, "hunter2") || !strings.Contains(res.stderr, "s3seal: error: targets.t.") ||
			!strings.Contains(res.stderr, hint) {
			t.Errorf("config with %s: exit %d, stderr %q; want an error that does not echo the value and mentions %q", setting, res.code, res.stderr, hint)
		}
	}
}

func TestExpandPath(t *testing.T) {
	home, err := os.UserHomeDir()
	if err != nil {
		t.Skip("no home directory")
	}
	for _, tt := range []struct{ in, want string }{
		{"~/x/y", filepath.Join(home, "x/y")},
		{"/abs/p", "/abs/p"},
		{"rel/p", "/cfg/dir/rel/p"},
	} {
		if got := expandPath(tt.in, "/cfg/dir"); got != tt.want {
			t.Errorf("expandPath(%q, /cfg/dir) = %q; want %q", tt.in, got, tt.want)
		}
	}
}
