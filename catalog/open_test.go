package catalog

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestOpenCreatesPrivateFiles(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, "a", "b", "catalog.db")
	db := openAt(t, path)
	putSamples(t, db, 3) // makes SQLite create the WAL file too

	tests := []struct {
		path string
		want fs.FileMode
	}{
		{filepath.Join(root, "a"), fs.ModeDir | 0o700},
		{filepath.Join(root, "a", "b"), fs.ModeDir | 0o700},
		{path, 0o600},
		{path + ".lock", 0o600},
		{path + "-wal", 0o600},
	}
	for _, tt := range tests {
		info, err := os.Stat(tt.path)
		if err != nil {
			t.Fatalf("Stat(%q) = %v", tt.path, err)
		}
		if got := info.Mode(); got != tt.want {
			t.Errorf("mode of %s = %v; want %v", tt.path, got, tt.want)
		}
	}
	if got := db.Path(); got != path {
		t.Errorf("Path() = %q; want %q", got, path)
	}
}

func TestReopenPreservesRowsAndMigrationsAreIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	want := putSamples(t, db, 10)
	if err := db.SetSetting("naming", []byte("hidden")); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}

	for round := 0; round < 2; round++ {
		db := openAt(t, path)
		if got := dump(t, db); len(got.Files) != len(want) || got.Settings["naming"] != "hidden" {
			t.Fatalf("round %d: reopened catalog has %d files, naming %q; want %d, %q",
				round, len(got.Files), got.Settings["naming"], len(want), "hidden")
		}
		if err := migrate(t.Context(), db.sql); err != nil {
			t.Fatalf("round %d: migrate again = %v", round, err)
		}
		version, err := pragmaInt(t.Context(), db.sql, "main", "user_version")
		if err != nil || version != schemaVersion {
			t.Fatalf("round %d: user_version = %d, %v; want %d", round, version, err, schemaVersion)
		}
		var mode string
		if err := db.sql.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
			t.Fatalf("round %d: journal_mode = %q, %v; want wal", round, mode, err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenEscapesPathInURI(t *testing.T) {
	path := filepath.Join(t.TempDir(), "we?ird #dir %41", "cat?mode=ro.db")
	db, err := Open(path)
	if err != nil {
		t.Fatalf("Open(%q) = %v", path, err)
	}
	putSamples(t, db, 1)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(path); err != nil || info.Size() == 0 {
		t.Fatalf("Stat(%q) = %v, %v; want a non-empty database at exactly that path", path, info, err)
	}
	db = openAt(t, path)
	if n, err := db.Count(); err != nil || n != 1 {
		t.Fatalf("Count() after reopen = %d, %v; want 1", n, err)
	}
}

func TestOpenTwiceInProcessIsLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.db")
	db := openAt(t, path)

	_, err := Open(path)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open = %v; want ErrLocked", err)
	}
	var locked *LockedError
	if !errors.As(err, &locked) {
		t.Fatalf("second Open = %T; want *LockedError", err)
	}
	wantHolder := fmt.Sprintf("pid %d on ", os.Getpid())
	if !strings.HasPrefix(locked.Holder, wantHolder) || locked.Path != path {
		t.Errorf("LockedError = {Path: %q, Holder: %q}; want Path %q, Holder starting %q",
			locked.Path, locked.Holder, path, wantHolder)
	}
	if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, "(started ") {
		t.Errorf("Error() = %q; want the path and the holder's start time", msg)
	}

	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db2, err := Open(path)
	if err != nil {
		t.Fatalf("Open after Close = %v", err)
	}
	db2.Close()
}

func TestLockHeldByOtherProcessAndReleasedWhenItDies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.db")
	holder := exec.Command(os.Args[0])
	holder.Env = append(os.Environ(), holderEnv+"="+path)
	holder.Stderr = os.Stderr
	stdin, err := holder.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			holder.Process.Kill()
			holder.Wait()
		}
	}()
	waitReady(t, bufio.NewReader(stdout))

	_, err = Open(path)
	var locked *LockedError
	if !errors.As(err, &locked) || !errors.Is(err, ErrLocked) {
		t.Fatalf("Open while another process holds it = %v; want *LockedError", err)
	}
	if want := fmt.Sprintf("pid %d on ", holder.Process.Pid); !strings.HasPrefix(locked.Holder, want) {
		t.Fatalf("Holder = %q; want it to start with %q", locked.Holder, want)
	}

	if err := holder.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	holder.Wait()
	killed = true

	db := openAt(t, path)
	if _, ok, err := db.Lookup(holderRow); err != nil || !ok {
		t.Fatalf("Lookup(%q) after the holder was killed = %v, %v; want the row it committed", holderRow, ok, err)
	}
}

// waitReady reads the holder's first line: "ready" once it holds the lock.
// The read ends when the holder writes it or exits, whatever the time.
func waitReady(t *testing.T, r *bufio.Reader) {
	t.Helper()
	if s, err := r.ReadString('\n'); s != "ready\n" {
		t.Fatalf("holder process said %q (%v); want %q", s, err, "ready\n")
	}
}

func TestOpenRejectsCorruptCatalogWithoutTouchingIt(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	randomBytes := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	valid := validCatalogBytes(t)

	tests := []struct {
		name  string
		bytes func(t *testing.T, path string) []byte // writes the file, returns its bytes
	}{
		{"random bytes", func(t *testing.T, path string) []byte { return write(t, path, randomBytes(8192)) }},
		{"sqlite magic then random bytes", func(t *testing.T, path string) []byte {
			return write(t, path, append([]byte("SQLite format 3\x00"), randomBytes(8176)...))
		}},
		{"truncated to half", func(t *testing.T, path string) []byte { return write(t, path, valid[:len(valid)/2]) }},
		{"truncated to first page", func(t *testing.T, path string) []byte { return write(t, path, valid[:4096]) }},
		{"truncated mid-header", func(t *testing.T, path string) []byte { return write(t, path, valid[:50]) }},
		{"damaged page", func(t *testing.T, path string) []byte {
			damaged := append([]byte(nil), valid...)
			copy(damaged[len(damaged)-4096:], randomBytes(4096))
			return write(t, path, damaged)
		}},
		{"another application's database", func(t *testing.T, path string) []byte {
			raw := rawDB(t, path)
			rawExec(t, raw, "CREATE TABLE photos (name TEXT)")
			raw.Close()
			return readFile(t, path)
		}},
		{"newer schema version", func(t *testing.T, path string) []byte {
			write(t, path, valid)
			raw := rawDB(t, path)
			rawExec(t, raw, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion+1))
			raw.Close()
			return readFile(t, path)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "catalog.db")
			before := tt.bytes(t, path)
			for attempt := 0; attempt < 2; attempt++ { // the second proves the lock was released
				db, err := Open(path)
				if err == nil {
					db.Close()
				}
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("attempt %d: Open = %v; want ErrCorrupt", attempt, err)

				}
				checkFileUnchanged(t, path, before)
			}
		})
	}
}

// validCatalogBytes returns the bytes of a closed catalog of several pages.
func validCatalogBytes(t *testing.T) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "valid.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	putSamples(t, db, 2000)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	b := readFile(t, path)
	if len(b) < 16*4096 {
		t.Fatalf("catalog of 2000 rows is %d bytes; want at least 16 pages", len(b))
	}
	return b
}

func write(t *testing.T, path string, b []byte) []byte {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestOpenAcceptsEmptyExistingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.db")
	write(t, path, nil)
	db := openAt(t, path)
	putSamples(t, db, 2)
	if n, err := db.Count(); err != nil || n != 2 {
		t.Fatalf("Count() = %d, %v; want 2", n, err)
	}
}
