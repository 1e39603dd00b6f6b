package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/s3seal/s3seal/sync"
)

func TestProgressState(t *testing.T) {
	var s progressState
	now := time.Now()
	for _, e := range []sync.Event{
		{Kind: sync.EventFail, Path: "unreadable-dir", Reason: "unreadable"}, // not a file of the scan: not counted
		{Kind: sync.EventSkip, Path: "a", Size: 1 << 20},                     // decided while the scan goes on
		{Kind: sync.EventStart, Path: "big", Size: 20 << 20},
		{Kind: sync.EventProgress, Path: "big", Bytes: 10 << 20},
	} {
		s.apply(e, now)
	}
	if got, want := s.line(10*time.Second), "s3seal: progress: 1 files, 11.0 MiB, 1.0 MiB/s"; got != want {
		t.Errorf("before the scan event: line = %q; want %q", got, want)
	}
	s.apply(sync.Event{Kind: sync.EventScan, Count: 3, Size: 30 << 20}, now)
	if got, want := s.line(10*time.Second), "s3seal: progress: 1/3 files, 11.0 MiB/30.0 MiB, 1.0 MiB/s, ETA 19s"; got != want {
		t.Errorf("line = %q; want %q", got, want)
	}
	if got := s.largeInFlight(); len(got) != 1 || got[0] != "big" {
		t.Errorf("largeInFlight = %q; want [big]", got)
	}
	s.apply(sync.Event{Kind: sync.EventProgress, Path: "big", Bytes: 10<<20 + 4096}, now) // ciphertext overhead
	s.apply(sync.Event{Kind: sync.EventDone, Path: "big", Size: 20 << 20, Bytes: 20<<20 + 4096}, now)
	s.apply(sync.Event{Kind: sync.EventFail, Path: "c", Size: 9 << 20}, now)
	if s.doneFiles != 3 || s.doneBytes != 30<<20 || len(s.inflight) != 0 {
		t.Errorf("after all files: %d files, %d bytes, %d in flight; want 3, %d, 0", s.doneFiles, s.doneBytes, len(s.inflight), 30<<20)
	}
}

// TestReferenceUpToDate fails when docs/reference differs from what the
// command tree generates, so the reference cannot drift from --help.
// Regenerate with: go run ./cmd/s3seal gen-reference docs/reference
func TestReferenceUpToDate(t *testing.T) {
	dir := filepath.Join("..", "..", "docs", "reference")
	pages := referencePages(withDefaults(newRootCommand()))
	committed, err := filepath.Glob(filepath.Join(dir, "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range committed {
		if _, ok := pages[filepath.Base(path)]; !ok {
			t.Errorf("%s documents no command: remove it", path)
		}
	}
	for name, want := range pages {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("docs/reference/%s: %v; run: go run ./cmd/s3seal gen-reference docs/reference", name, err)
			continue
		}
		if string(got) != want {
			t.Errorf("docs/reference/%s is out of date; run: go run ./cmd/s3seal gen-reference docs/reference\nfirst difference near: %q",
				name, firstDiff(string(got), want))
		}
	}
	if _, ok := pages["s3seal_completion_bash.md"]; !ok {
		t.Errorf("the reference has no page for the completion command")
	}
}

func withDefaults(root *cobra.Command) *cobra.Command {
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	return root
}

func firstDiff(a, b string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return a[max(i-40, 0):min(i+40, len(a))]
		}
	}
	return strings.TrimSpace(a[min(len(a), len(b)):])
}

// TestArchivedObjectHint checks that a failure on an archived object is
// followed, once per run, by hints saying how to restore it first.
func TestArchivedObjectHint(t *testing.T) {
	var stderr strings.Builder
	p := &printer{opts: outputOptions{}, stdout: &stderr, stderr: &stderr}
	archived := fmt.Errorf("get p/x: %w", sync.ErrInvalidObjectState)
	p.event(sync.Event{Kind: sync.EventFail, Path: "x", Err: archived})
	p.event(sync.Event{Kind: sync.EventFail, Path: "y", Err: archived})
	p.event(sync.Event{Kind: sync.EventFail, Path: "z", Err: errors.New("other")})
	out := stderr.String()
	if n := strings.Count(out, "s3seal: hint: request a temporary copy"); n != 1 || !strings.Contains(out, "restore-object") ||
		!strings.Contains(out, "DEEP_ARCHIVE") || strings.Count(out, "s3seal: error: ") != 3 {
		t.Errorf("printer output for two archived failures and one other:\n%s\nwant three errors and the restore hints once", out)
	}
}
