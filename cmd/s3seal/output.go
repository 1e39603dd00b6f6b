package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/s3seal/s3seal/sync"
)

// outputOptions choose how a command reports.
type outputOptions struct {
	verbose          bool
	quiet            bool
	json             bool
	progressInterval time.Duration
}

func (o *outputOptions) addFlags(fs *pflag.FlagSet) {
	fs.BoolVarP(&o.verbose, "verbose", "v", false, "print every file transferred")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "print only errors (no progress)")
	fs.BoolVar(&o.json, "json", false, "print one JSON object per line (events and a summary) on standard output; see docs/json.md")
	fs.DurationVar(&o.progressInterval, "progress-interval", 5*time.Second, "when standard error is not a terminal, print a progress line this often (0: never)")
	_ = fs.MarkHidden("progress-interval")
}

// printer renders engine events, and the progress of the run on standard
// error (see progress).
type printer struct {
	opts     outputOptions
	dryRun   bool
	stdout   io.Writer
	stderr   io.Writer
	progress *progress
	archived int // failures on archived objects, explained once
	// unverified counts restored files that failed verification, explained once
	unverified int
}

func (o outputOptions) printer(dryRun bool) *printer {
	p := &printer{opts: o, dryRun: dryRun, stdout: os.Stdout, stderr: os.Stderr}
	tty := stderrIsTerminal()
	switch {
	case o.quiet:
	case tty:
		p.progress = newProgress(os.Stderr, true, 0)
		p.stderr = lineWriter{p.progress, os.Stderr}
		if stdoutIsTerminal() && !o.json {
			p.stdout = lineWriter{p.progress, os.Stdout}
		}
	case !o.json:
		// Not a terminal: plain lines; --json is progress enough.
		p.progress = newProgress(os.Stderr, false, o.progressInterval)
	}
	return p
}

// finish stops the progress display; call it before printing a summary.
func (p *printer) finish() { p.progress.close() }

// jsonEvent is the --json form of an event; see docs/json.md, whose tables
// the tests check every emitted event against.
type jsonEvent struct {
	Type   string `json:"type"`
	Path   string `json:"path,omitempty"`
	Action string `json:"action,omitempty"`
	From   string `json:"from,omitempty"`
	Reason string `json:"reason,omitempty"`
	Size   int64  `json:"size"`
	Bytes  int64  `json:"bytes"`
	Error  string `json:"error,omitempty"`
}

// jsonScan is the --json form of a scan event.
type jsonScan struct {
	Type  string `json:"type"`
	Files int    `json:"files"`
	Size  int64  `json:"size"`
}

func (p *printer) event(e sync.Event) {
	p.progress.event(e)
	if p.opts.json {
		switch e.Kind {
		case sync.EventProgress:
		case sync.EventScan:
			p.writeJSON(jsonScan{Type: string(e.Kind), Files: e.Count, Size: e.Size})
		default:
			je := jsonEvent{Type: string(e.Kind), Path: e.Path, Action: e.Action, From: e.From, Reason: e.Reason, Size: e.Size, Bytes: e.Bytes}
			if e.Err != nil {
				je.Error = e.Err.Error()
			}
			p.writeJSON(je)
		}
		return
	}
	switch e.Kind {
	case sync.EventFail:
		fmt.Fprintf(p.stderr, "s3seal: error: %s: %v\n", quote(e.Path), e.Err)
		p.explainArchived(e.Err)
		p.explainVerify(e.Err)
	case sync.EventWarn:
		if !p.opts.quiet {
			fmt.Fprintf(p.stderr, "s3seal: warning: %s: %v\n", quote(e.Path), e.Err)
		}
	case sync.EventPlan:
		switch {
		case !p.dryRun || p.opts.quiet:
		case e.Action == "create-bucket":
			fmt.Fprintf(p.stdout, "would create bucket %s\n", e.Path)
		case e.Action == "delete":
			fmt.Fprintf(p.stdout, "would delete %s (%s)\n", quote(e.Path), size(e.Size))
		case e.Action == "copy":
			fmt.Fprintf(p.stdout, "would copy %s from %s (%s, %s)\n", quote(e.Path), quote(e.From), e.Reason, size(e.Size))
		case e.Action == "resume":
			fmt.Fprintf(p.stdout, "would resume the upload of %s (%s, %s)\n", quote(e.Path), e.Reason, size(e.Size))
		default:
			fmt.Fprintf(p.stdout, "would upload %s (%s, %s)\n", quote(e.Path), e.Reason, size(e.Size))
		}
	case sync.EventDelete:
		if p.opts.verbose {
			fmt.Fprintf(p.stdout, "deleted %s (%s)\n", quote(e.Path), size(e.Size))
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
		switch {
		case e.Reason == "delete-skipped" || e.Reason == sync.ReasonUnsupported:
			p.warn(e.Err.Error())
		case e.Reason == sync.ReasonUnsupportedKnown:
			if p.opts.verbose {
				fmt.Fprintf(p.stderr, "s3seal: %v\n", e.Err)
			}
		case e.Reason == sync.ReasonUnstableETags:
			p.warn(e.Err.Error())
			if !p.opts.quiet {
				fmt.Fprintf(p.stderr, "s3seal: hint: this is said once for the target; 'audit --deep' checks what the objects hold\n")
			}
		case p.opts.verbose || e.Reason == "unknown-upload":
			msg := e.Reason
			if e.Err != nil {
				msg = e.Err.Error()
			}
			fmt.Fprintf(p.stderr, "s3seal: %s: %s\n", quote(e.Path), msg)
		}
	}
}

// warn prints a warning about the whole run, unless --quiet.
func (p *printer) warn(msg string) {
	if !p.opts.quiet {
		fmt.Fprintf(p.stderr, "s3seal: warning: %s\n", msg)
	}
}

// explainArchived says, once per run, what to do about objects in an
// archive storage class, which must be restored before they can be read.
func (p *printer) explainArchived(err error) {
	if !errors.Is(err, sync.ErrInvalidObjectState) {
		return
	}
	p.archived++
	if p.archived > 1 {
		return
	}
	for _, h := range archivedHints {
		fmt.Fprintf(p.stderr, "s3seal: hint: %s\n", h)
	}
}

var archivedHints = []string{
	"objects in the GLACIER or DEEP_ARCHIVE storage class must be restored before they can be read",
	"request a temporary copy of each, for example: aws s3api restore-object --bucket BUCKET --key KEY --restore-request Days=7",
	"wait until it is ready (minutes to 12 hours for GLACIER, up to 48 hours for DEEP_ARCHIVE), then run this command again: finished files are skipped",
}

// explainVerify says, once per run, what a restored file that failed
// verification means.
func (p *printer) explainVerify(err error) {
	if !errors.Is(err, sync.ErrObjectChanged) && !errors.Is(err, sync.ErrMismatch) {
		return
	}
	p.unverified++
	if p.unverified > 1 {
		return
	}
	for _, h := range verifyHints {
		fmt.Fprintf(p.stderr, "s3seal: hint: %s\n", h)
	}
}

var verifyHints = []string{
	"the object in the bucket is not the one the catalog recorded: it was replaced or damaged after the backup, so the file was not written",
	"check who can write to the bucket; 's3seal audit SRC TARGET --deep -i KEY' lists every such file, and 'sync' from the source uploads it again",
}

func doneVerb(e sync.Event) string {
	switch e.Reason {
	case "":
		return "restored"
	case sync.ReasonMD5Only:
		return "restored (verified by MD5 only)"
	}
	return "uploaded"
}

func (p *printer) writeJSON(v any) { writeJSONLine(p.stdout, v) }

// writeJSONLine writes v as one line of JSON.
func writeJSONLine(w io.Writer, v any) {
	b, _ := json.Marshal(v)
	fmt.Fprintf(w, "%s\n", b)
}

func (p *printer) syncSummary(s sync.Summary, d time.Duration) {
	p.finish()
	if p.opts.json {
		p.writeJSON(map[string]any{"type": "summary", "files": s.Files, "uploaded": s.Uploaded,
			"copied": s.Copied, "unchanged": s.Skipped + s.Recorded, "failed": s.Failed, "warnings": s.Warnings, "deleted": s.Deleted,
			"bytes_sent": s.BytesSent, "plain_bytes": s.PlainBytes, "bytes_saved": s.SavedBytes,
			"retention_extended": s.Extended, "seconds": d.Seconds(), "dry_run": p.dryRun})
		return
	}
	if p.opts.quiet {
		return
	}
	verb := "uploaded"
	if p.dryRun {
		verb = "to upload"
	}
	extra := ""
	if s.Copied > 0 {
		extra = fmt.Sprintf(", %d copied on the server (%s not sent)", s.Copied, size(s.SavedBytes))
	}
	if s.Deleted > 0 && p.dryRun {
		extra += fmt.Sprintf(", %d to delete", s.Deleted)
	} else if s.Deleted > 0 {
		extra += fmt.Sprintf(", %d deleted", s.Deleted)
	}
	if s.Extended > 0 {
		extra += fmt.Sprintf(", %d retentions extended", s.Extended)
	}
	fmt.Fprintf(p.stderr, "s3seal: %d files: %d %s (%s sent), %d unchanged%s, %d failed, in %s\n",
		s.Files, s.Uploaded, verb, size(s.BytesSent), s.Skipped+s.Recorded, extra, s.Failed, d.Round(time.Millisecond))
}

func (p *printer) restoreSummary(s sync.RestoreSummary, d time.Duration) {
	p.finish()
	if p.opts.json {
		p.writeJSON(map[string]any{"type": "summary", "files": s.Files, "restored": s.Restored, "md5_only": s.MD5Only,
			"skipped": s.Skipped, "failed": s.Failed, "bytes": s.Bytes, "seconds": d.Seconds()})
		return
	}
	if p.opts.quiet {
		return
	}
	fmt.Fprintf(p.stderr, "s3seal: %d files: %d restored and verified (%s), %d already present, %d failed, in %s\n",
		s.Files, s.Restored, size(s.Bytes), s.Skipped, s.Failed, d.Round(time.Millisecond))
	if s.MD5Only > 0 {
		fmt.Fprintf(p.stderr, "s3seal: warning: %d of the restored files were verified by size and MD5 only: the catalog recorded them before s3seal kept a SHA-256\n", s.MD5Only)
		fmt.Fprintf(p.stderr, "s3seal: hint: a sync from the source with --checksum records the SHA-256 of every file; list them with 'restore -v'\n")
	}
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

func (p *printer) rekeySummary(s sync.RekeySummary, d time.Duration) {
	p.finish()
	if p.opts.json {
		p.writeJSON(map[string]any{"type": "summary", "objects": s.Objects, "rekeyed": s.Rekeyed,
			"already": s.Already, "skipped": s.Skipped, "failed": s.Failed, "bytes_sent": s.Sent,
			"bytes_copied": s.Copied, "bytes_read": s.Read, "requests": s.Requests,
			"seconds": d.Seconds(), "dry_run": p.dryRun})
		return
	}
	if p.opts.quiet {
		return
	}
	verb := "rekeyed"
	if p.dryRun {
		verb = "to rekey"
	}
	fmt.Fprintf(p.stderr, "s3seal: %d objects: %d %s, %d already, %d skipped, %d failed; %s sent, %s copied on the server, %s read, %d requests, in %s\n",
		s.Objects, s.Rekeyed, verb, s.Already, s.Skipped, s.Failed, size(s.Sent), size(s.Copied), size(s.Read), s.Requests, d.Round(time.Millisecond))
}
