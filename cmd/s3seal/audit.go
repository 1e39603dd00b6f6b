package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"filippo.io/age"
	"github.com/spf13/cobra"

	"github.com/s3seal/s3seal/catalog"
	"github.com/s3seal/s3seal/sync"
)

type auditOptions struct {
	s3          s3Options
	keys        keyOptions
	out         outputOptions
	catalogPath string
	deep        bool
	sample      float64
	jobs        int
}

func newAuditCommand() *cobra.Command {
	var o auditOptions
	cmd := &cobra.Command{
		Use:   "audit SRC s3://BUCKET[/PREFIX]",
		Short: "Report every difference between SRC, the catalog and the bucket",
		Long: `Audit compares the files of SRC, the local catalog and the objects in the
bucket, and reports each difference under its category:

  local-new          a file of SRC the catalog does not know
  local-changed      a file whose content differs from what was last synced
  local-missing      a catalog entry whose file is gone from SRC
  object-missing     a catalog entry whose object is not in the bucket
  object-changed     an object written since its upload (other ETag or size)
  retention-lapsed   a version the catalog points to whose Object Lock retention ended
  object-unknown     an object under the prefix the catalog does not know
  upload-unfinished  a multipart upload under the prefix that was not completed
  history-changed    the bucket lost versioning or Object Lock since a sync saw it

It lists the bucket and reads no object: a file whose stat changed is hashed,
so a touched file is not "changed". Audit changes nothing anywhere.

With --deep it also downloads and decrypts each object (or a random --sample
of them) and checks the plaintext against the catalog, reporting
decrypt-failed and content-mismatch. That reads the whole backup: it costs
the provider's download (egress) and request charges. It needs the identity.

The exit code is 0 when everything agrees and 4 when anything differs.`,
		Example: `  s3seal audit ~/archive s3://my-bucket/archive
  s3seal audit ~/archive s3://my-bucket/archive --json | jq -r 'select(.type=="finding") | .category + " " + .path'
  s3seal audit ~/archive s3://my-bucket/archive --deep -i key.txt
  s3seal audit ~/archive s3://my-bucket/archive --deep -S --sample 5
  s3seal audit ./data s3://backups/data --endpoint http://127.0.0.1:7070`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAudit(cmd.Context(), &o, args[0], args[1])
		},
	}
	fs := cmd.Flags()
	o.s3.addFlags(fs, false)
	o.keys.addDecryptFlags(fs)
	o.out.addFlags(fs)
	fs.StringVar(&o.catalogPath, "catalog", "", "catalog `FILE` (default: the one sync uses for SRC and the target)")
	fs.BoolVar(&o.deep, "deep", false, "also download, decrypt and verify the objects (needs -i or -S)")
	fs.Float64Var(&o.sample, "sample", 100, "with --deep, verify a random `PERCENT` of the objects (at least one)")
	fs.IntVarP(&o.jobs, "jobs", "j", 4, "files hashed at once; --deep verifies 16 objects per job at once")
	return cmd
}

func runAudit(ctx context.Context, o *auditOptions, src, dst string) error {
	t, err := parseTarget(dst)
	if err != nil {
		return err
	}
	if o.jobs < 1 {
		return usagef("--jobs must be at least 1")
	}
	if o.sample <= 0 || o.sample > 100 {
		return usagef("--sample must be a percentage above 0 and at most 100")
	}
	source, err := filepath.Abs(src)
	if err != nil {
		return err
	}
	st, err := o.s3.store(ctx, t)
	if err != nil {
		return err
	}
	var ids []age.Identity
	if o.deep {
		if ids, err = o.keys.decryptKeys(ctx, st, t); err != nil {
			return err
		}
	}
	db, err := openExistingCatalog(o.catalogPath, source, t)
	if errors.Is(err, errNoCatalog) {
		return withHint(err, pullHints("on a new machine (or pass --catalog FILE)", source, t, &o.s3, &o.keys, o.catalogPath)...)
	}
	if err != nil {
		return err
	}
	defer db.Close()
	out := o.out.printer(false)
	defer out.finish()
	start := time.Now()
	rep, err := sync.Audit(ctx, db, st, sync.AuditOptions{
		Source: source, Prefix: t.Prefix, Target: t.String(),
		Deep: o.deep, Identities: ids, Sample: o.sample, Jobs: o.jobs,
		Report: auditEvents(out),
	})
	if errors.Is(err, sync.ErrNotSynced) {
		return withHint(err, append([]string{"sync SRC to the target first; or, on a new machine:"},
			pullHints("to fetch the target's catalog", source, t, &o.s3, &o.keys, o.catalogPath)...)...)
	}
	if err != nil {
		return err
	}
	printAudit(out, rep, o.deep, time.Since(start))
	switch {
	case !rep.Consistent():
		return exitStatus{exitDiffers}
	case rep.Failed > 0:
		return exitStatus{exitPartial}
	}
	return nil
}

// errNoCatalog is wrapped by openExistingCatalog when there is no catalog.
var errNoCatalog = errors.New("no catalog")

// openExistingCatalog opens the catalog sync would use, and refuses to
// create one (the error wraps errNoCatalog): an audit without a catalog has
// nothing to compare.
func openExistingCatalog(path, source string, t target) (*catalog.DB, error) {
	if path == "" {
		var err error
		if path, err = catalog.DefaultPath(source, t.String()); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w at %s", errNoCatalog, path)
	} else if err != nil {
		return nil, err
	}
	return catalog.Open(path)
}

// auditEvents renders the engine's events: failures and warnings as sync
// does, verified objects with -v.
func auditEvents(p *printer) sync.Reporter {
	return func(e sync.Event) {
		if e.Kind != sync.EventDone {
			p.event(e)
			return
		}
		p.progress.event(e)
		switch {
		case p.opts.json:
			p.writeJSON(jsonEvent{Type: string(e.Kind), Path: e.Path, Reason: e.Reason, Size: e.Size, Bytes: e.Bytes})
		case p.opts.verbose && e.Reason == sync.ReasonVerifiedMD5Only:
			fmt.Fprintf(p.stdout, "verified %s (%s, by MD5 only)\n", quote(e.Path), size(e.Size))
		case p.opts.verbose:
			fmt.Fprintf(p.stdout, "verified %s (%s)\n", quote(e.Path), size(e.Size))
		}
	}
}

// jsonFinding is the --json form of a finding; see docs/audit.md.
type jsonFinding struct {
	Type     string `json:"type"`
	Category string `json:"category"`
	Path     string `json:"path,omitempty"`
	Key      string `json:"key,omitempty"`
	Detail   string `json:"detail"`
}

// printAudit writes the findings (a table grouped by category, or one JSON
// object each) and the summary.
func printAudit(p *printer, rep sync.AuditReport, deep bool, d time.Duration) {
	p.finish()
	counts := make(map[string]int)
	for _, f := range rep.Findings {
		counts[f.Category]++
	}
	if p.opts.json {
		for _, f := range rep.Findings {
			p.writeJSON(jsonFinding{Type: "finding", Category: f.Category, Path: f.Path, Key: f.Key, Detail: f.Detail})
		}
		p.writeJSON(map[string]any{"type": "summary", "consistent": rep.Consistent(), "findings": len(rep.Findings),
			"categories": counts, "files": rep.Files, "catalog_files": rep.Rows, "objects": rep.Objects,
			"uploads": rep.Uploads, "checked": rep.Checked, "md5_only": rep.MD5Only, "failed": rep.Failed, "deep": deep, "seconds": d.Seconds()})
		return
	}
	if p.opts.quiet {
		return
	}
	if len(rep.Findings) > 0 {
		printFindings(p.stdout, rep.Findings)
	}
	fmt.Fprintf(p.stderr, "s3seal: %s: %d files, %d in the catalog, %d objects%s; %d failed, in %s\n",
		auditVerdict(rep, counts), rep.Files, rep.Rows, rep.Objects, checkedNote(rep, deep), rep.Failed, d.Round(time.Millisecond))
}

// printFindings writes the table, grouped by category (the findings come
// sorted). Objects and uploads the catalog does not know have no path and
// show their key; a history-changed finding is about the whole target.
func printFindings(w io.Writer, findings []sync.Finding) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CATEGORY\tPATH\tDETAIL")
	for _, f := range findings {
		name := quote(f.Path)
		switch {
		case f.Path != "":
		case f.Category == sync.HistoryChanged:
			name = "(target)"
		case f.Category == sync.UploadUnfinished:
			name = "(upload) " + quote(f.Key)
		default:
			name = "(object) " + quote(f.Key)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", f.Category, name, f.Detail)
	}
	tw.Flush()
}

// auditVerdict is the head of the summary line.
func auditVerdict(rep sync.AuditReport, counts map[string]int) string {
	if rep.Consistent() {
		return "consistent"
	}
	var parts []string
	for _, c := range sync.Categories {
		if counts[c] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[c], c))
		}
	}
	return fmt.Sprintf("%d differences (%s)", len(rep.Findings), strings.Join(parts, ", "))
}

func checkedNote(rep sync.AuditReport, deep bool) string {
	if !deep {
		return ""
	}
	if rep.MD5Only > 0 {
		return fmt.Sprintf(", %d checked by download (%d verified by MD5 only: the catalog has no SHA-256 for them)", rep.Checked, rep.MD5Only)
	}
	return fmt.Sprintf(", %d verified by download", rep.Checked)
}
