package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// printedCommand returns the command line a hint of stderr prints, one
// that starts with prefix.
func printedCommand(t *testing.T, stderr, prefix string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^s3seal: hint: +(` + regexp.QuoteMeta(prefix) + `.*)$`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no hint prints a %q command:\n%s", prefix, stderr)
	}
	return m[1]
}

// runShell runs line in sh, as a user who pastes it would, with the env's
// environment and the built s3seal first on PATH.
func (e *env) runShell(line string) result {
	e.t.Helper()
	cmd := exec.Command("sh", "-c", line)
	cmd.Env = append(e.environ(), "PATH="+filepath.Dir(binary)+string(os.PathListSeparator)+os.Getenv("PATH"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("sh -c %q: %v", line, err)
	}
	return result{code, stdout.String(), stderr.String()}
}

// TestPullHintRunsAsPrinted backs up a folder whose name has a space, then
// syncs it from a new machine, whose empty catalog sync refuses: the
// catalog pull command the hint prints, pasted into a shell, must work
// (in passphrase mode exactly as printed; in recipient mode with the
// identity file put for the one placeholder the hint names), after which
// the sync uploads nothing again.
func TestPullHintRunsAsPrinted(t *testing.T) {
	for _, mode := range []string{"passphrase", "recipients"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t)
			e.src = filepath.Join(t.TempDir(), "my archive")
			for _, name := range []string{"a.txt", "sub/b.txt", "it's.txt"} {
				writeFile(t, filepath.Join(e.src, name), []byte(name))
			}
			keys := []string{"-r", e.recipient}
			if mode == "passphrase" {
				e.extraEnv = append(e.extraEnv, "S3SEAL_PASSPHRASE=correct horse")
				keys = []string{"-S", "--scrypt-work-factor", "10"}
			}
			syncArgs := append([]string{"sync", e.src, e.target, "--endpoint", e.srv.Endpoint, "--json"}, keys...)
			first := e.run(append(syncArgs, "--catalog", e.catalog)...)
			if first.code != 0 {
				t.Fatalf("first sync: exit %d\n%s", first.code, first.stderr)
			}

			m := e.withHome()
			if mode == "recipients" {
				syncArgs = append(syncArgs, "--catalog", filepath.Join(t.TempDir(), "new machine", "catalog.db"))
			}
			res := m.run(syncArgs...)
			if res.code != exitError || !strings.Contains(res.stderr, "already holds a backup") {
				t.Fatalf("sync from the new machine: exit %d; want 1 and a refusal\n%s", res.code, res.stderr)
			}
			line := printedCommand(t, res.stderr, "s3seal catalog pull ")
			if mode == "recipients" {
				if !strings.Contains(res.stderr, "with "+identityPlaceholder+" the file holding the identity") {
					t.Errorf("the hint does not say what %s stands for:\n%s", identityPlaceholder, res.stderr)
				}
				line = strings.Replace(line, identityPlaceholder, shellQuote(e.keyFile), 1)
				fp := regexp.MustCompile(`new catalog signing key for \S+: (SHA256:\S+)`).FindStringSubmatch(first.stderr)
				if fp == nil || !strings.Contains(line, "--fingerprint "+fingerprintPlaceholder) {
					t.Fatalf("want the first sync to print its signing key and the hint to ask for it; got %q\n%s", line, first.stderr)
				}
				line = strings.Replace(line, fingerprintPlaceholder, fp[1], 1)
			}
			if pull := m.runShell(line); pull.code != 0 || !strings.Contains(pull.stderr, "(3 files)") {
				t.Fatalf("the printed command %q: exit %d; want 0 and 3 files pulled\n%s", line, pull.code, pull.stderr)
			}
			res = m.run(syncArgs...)
			if res.code != 0 {
				t.Fatalf("sync after the printed pull: exit %d\n%s", res.code, res.stderr)
			}
			if s := parseSummary(t, res.stdout); s.Uploaded != 0 || s.Unchanged != 3 {
				t.Errorf("sync after the printed pull: %+v; want 3 unchanged, none uploaded", s)
			}
		})
	}
}
