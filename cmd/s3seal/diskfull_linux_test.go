package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// mountSmallFS mounts a 1 MiB tmpfs at a new directory and returns it, or
// "" when mounting is not permitted (not root, or in a container without
// the capability).
func mountSmallFS(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "small")
	mustMkdir(t, dir)
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Logf("mount a 1 MiB tmpfs: %v", err)
		return ""
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	return dir
}

// TestRestoreDiskFull restores three small files and one of 3 MiB into a
// destination that holds 1 MiB: a tmpfs of that size, or else (where
// mounting is not permitted) a restore under a 1 MiB file-size limit. The
// large file must fail with the system's error, leave nothing under its
// name and no temporary file, and the small files must be restored.
func TestRestoreDiskFull(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"a", "b", "c"} {
		writeRandom(t, filepath.Join(e.src, name), 50<<10)
	}
	writeRandom(t, filepath.Join(e.src, "m-large"), 3<<20)
	e.sync(0)

	args := []string{"restore", e.target, "", "-i", e.keyFile, "--endpoint", e.srv.Endpoint, "-j", "1"}
	var res result
	var wantErr string
	if small := mountSmallFS(t); small != "" {
		args[2] = filepath.Join(small, "out")
		res = e.run(args...)
		wantErr = "no space left on device"
	} else {
		if os.Getenv("CI") == "" {
			t.Skip("cannot mount a small tmpfs (needs root); set CI to test with a file-size limit instead")
		}
		if _, err := exec.LookPath("prlimit"); err != nil {
			t.Fatalf("cannot mount a small tmpfs and prlimit is missing: %v", err)
		}
		args[2] = filepath.Join(t.TempDir(), "out")
		res = e.runLimited(1<<20, args...)
		wantErr = "file too large"
	}
	dest := args[2]
	if res.code != exitPartial {
		t.Errorf("restore into a full disk: exit %d; want 3\n%s", res.code, res.stderr)
	}
	if !strings.Contains(res.stderr, "m-large") || !strings.Contains(res.stderr, wantErr) {
		t.Errorf("restore into a full disk: stderr does not name m-large and %q:\n%s", wantErr, res.stderr)
	}
	if _, err := os.Lstat(filepath.Join(dest, "m-large")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("restore left m-large under its final name (%v)", err)
	}
	if tmp := leftovers(t, dest); len(tmp) != 0 {
		t.Errorf("restore left temporary files: %v", tmp)
	}
	for _, name := range []string{"a", "b", "c"} {
		if !sameContent(t, filepath.Join(e.src, name), filepath.Join(dest, name)) {
			t.Errorf("%s was not restored intact", name)
		}
	}
}

// runLimited runs s3seal under prlimit with a file-size limit of fsize
// bytes: a write past it fails with EFBIG (Go ignores SIGXFSZ).
func (e *env) runLimited(fsize int64, args ...string) result {
	e.t.Helper()
	cmd := exec.Command("prlimit", append([]string{fmt.Sprintf("--fsize=%d", fsize), binary}, args...)...)
	cmd.Env = e.environ()
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		e.t.Fatalf("run prlimit s3seal %v: %v", args, err)
	}
	return result{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
}
