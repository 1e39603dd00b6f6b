package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/s3seal/s3seal/sync"
)

// outputOptions choose how a command reports.
type outputOptions struct {
	verbose bool
	quiet   bool
	json    bool
}

func (o *outputOptions) addFlags(fs *pflag.FlagSet) {
	fs.BoolVarP(&o.verbose, "verbose", "v", false, "print every file transferred")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "print only errors")
	fs.BoolVar(&o.json, "json", false, "print one JSON object per line (events and a summary) on standard output")
}

// printer renders engine events.
type printer struct {
	opts   outputOptions
	dryRun bool
	stdout io.Writer
	stderr io.Writer
}

func (o outputOptions) printer(dryRun bool) *printer {
	return &printer{opts: o, dryRun: dryRun, stdout: os.Stdout, stderr: os.Stderr}
}

// jsonEvent is the --json form of an event; see docs/usage.md.
type jsonEvent struct {
	Type   string `json:"type"`
	Path   string `json:"path,omitempty"`
	Reason string `json:"reason,omitempty"`
	Size   int64  `json:"size,omitempty"`
	Bytes  int64  `json:"bytes,omitempty"`
	Error  string `json:"error,omitempty"`
}

func (p *printer) event(e sync.Event) {
	if p.opts.json {
		if e.Kind == sync.EventProgress {
			return
		}
		je := jsonEvent{Type: string(e.Kind), Path: e.Path, Reason: e.Reason, Size: e.Size, Bytes: e.Bytes}
		if e.Err != nil {
			je.Error = e.Err.Error()
		}
		p.writeJSON(je)
		return
	}
	switch e.Kind {
	case sync.EventFail:
		fmt.Fprintf(p.stderr, "s3seal: error: %s: %v\n", quote(e.Path), e.Err)
	case sync.EventWarn:
		if !p.opts.quiet {
			fmt.Fprintf(p.stderr, "s3seal: warning: %s: %v\n", quote(e.Path), e.Err)
		}
	case sync.EventPlan:
		if p.dryRun && !p.opts.quiet {
			fmt.Fprintf(p.stdout, "would upload %s (%s, %s)\n", quote(e.Path), e.Reason, size(e.Size))
		}
	case sync.EventDone:
		if p.opts.verbose {
			fmt.Fprintf(p.stdout, "%s %s (%s)\n", doneVerb(e), quote(e.Path), size(e.Size))
		}
	case sync.EventSkip:
		if p.opts.verbose {
			fmt.Fprintf(p.stdout, "skipped %s (%s)\n", quote(e.Path), e.Reason)
		}
	case sync.EventInfo:
		if p.opts.verbose || e.Reason == "unknown-upload" {
			msg := e.Reason
			if e.Err != nil {
				msg = e.Err.Error()
			}
			fmt.Fprintf(p.stderr, "s3seal: %s: %s\n", quote(e.Path), msg)
		}
	}
}

func doneVerb(e sync.Event) string {
	if e.Reason == "" {
		return "restored"
	}
	return "uploaded"
}

func (p *printer) writeJSON(v any) {
	b, _ := json.Marshal(v)
	fmt.Fprintf(p.stdout, "%s\n", b)
}

func (p *printer) syncSummary(s sync.Summary, d time.Duration) {
	if p.opts.json {
		p.writeJSON(map[string]any{"type": "summary", "files": s.Files, "uploaded": s.Uploaded,
			"unchanged": s.Skipped + s.Recorded, "failed": s.Failed, "warnings": s.Warnings,
			"bytes_sent": s.BytesSent, "plain_bytes": s.PlainBytes, "seconds": d.Seconds(), "dry_run": p.dryRun})
		return
	}
	if p.opts.quiet {
		return
	}
	verb := "uploaded"
	if p.dryRun {
		verb = "to upload"
	}
	fmt.Fprintf(p.stderr, "s3seal: %d files: %d %s (%s sent), %d unchanged, %d failed, in %s\n",
		s.Files, s.Uploaded, verb, size(s.BytesSent), s.Skipped+s.Recorded, s.Failed, d.Round(time.Millisecond))
}

func (p *printer) restoreSummary(s sync.RestoreSummary, d time.Duration) {
	if p.opts.json {
		p.writeJSON(map[string]any{"type": "summary", "files": s.Files, "restored": s.Restored,
			"skipped": s.Skipped, "failed": s.Failed, "bytes": s.Bytes, "seconds": d.Seconds()})
		return
	}
	if p.opts.quiet {
		return
	}
	fmt.Fprintf(p.stderr, "s3seal: %d files: %d restored and verified (%s), %d already present, %d failed, in %s\n",
		s.Files, s.Restored, size(s.Bytes), s.Skipped, s.Failed, d.Round(time.Millisecond))
}

// quote makes a path printable on one line without hiding odd bytes.
func quote(path string) string {
	for _, r := range path {
		if r < 0x20 || r == 0x7f || r == '\uFFFD' {
			return fmt.Sprintf("%q", path)
		}
	}
	return path
}

// size formats a byte count in binary units.
func size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
