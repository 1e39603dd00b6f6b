package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/s3seal/s3seal/catalog"
	"github.com/s3seal/s3seal/cipher"
	"github.com/s3seal/s3seal/sync"
)

type historyOptions struct {
	s3          s3Options
	keys        keyOptions
	trust       trustOptions
	out         outputOptions
	catalogPath string
}

func newHistoryCommand() *cobra.Command {
	var o historyOptions
	cmd := &cobra.Command{
		Use:   "history s3://BUCKET[/PREFIX] [PATH]",
		Short: "List the syncs a target can be restored to, or the versions of one file",
		Long: `History lists the syncs that changed the target, newest last: when each
finished, the files the catalog then held, how many it uploaded or copied
and deleted, their size, and whether its tree can still be restored (its
catalog version is kept by the bucket; 'restore --at #N' restores it).

With PATH, it lists the versions the bucket keeps of that file's object:
when each was written, its size, and which is current; a delete marker is a
deletion (sync --delete).

The catalog comes from the target's mirror, checked as 'restore' checks it;
--catalog reads a local one.`,
		Example: `  s3seal history s3://my-bucket/archive -i key.txt
  s3seal history s3://my-bucket/archive docs/report.odt -i key.txt --json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return usagef("history takes a target and at most one PATH, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			path := ""
			if len(args) == 2 {
				path = args[1]
			}
			return runHistory(cmd.Context(), &o, cmd.OutOrStdout(), args[0], path)
		},
	}
	fs := cmd.Flags()
	o.s3.addFlags(fs, false)
	o.keys.addDecryptFlags(fs)
	o.trust.addFlags(fs)
	o.out.addFlags(fs)
	fs.StringVar(&o.catalogPath, "catalog", "", "read this local catalog `FILE` instead of the target's mirror")
	return cmd
}

func runHistory(ctx context.Context, o *historyOptions, w io.Writer, dst, path string) error {
	t, err := parseTarget(dst)
	if err != nil {
		return err
	}
	rt, err := openForReading(ctx, &o.s3, &o.keys, &o.trust, o.catalogPath, o.out.quiet, t)
	if err != nil {
		return err
	}
	defer rt.close()
	st, db := rt.st, rt.db
	var settings sync.HistorySettings
	if st.History != nil {
		if settings, err = st.History.Settings(ctx, t.Prefix); err != nil {
			return err
		}
	}
	if !settings.Versioned() && !o.out.quiet {
		fmt.Fprintf(os.Stderr, "s3seal: warning: s3://%s is not versioned: only the newest sync can be restored\n", t.Bucket)
		fmt.Fprintf(os.Stderr, "s3seal: hint: turn history on with 's3seal target setup %s --versioning' (owner credentials)\n", t)
	}
	if path != "" {
		return fileHistory(ctx, o, w, db, st, t, path)
	}
	return syncHistory(ctx, o, w, db, st, t)
}

// syncHistory prints the catalog's runs, and whether the bucket still keeps
// the catalog version each can be restored from.
func syncHistory(ctx context.Context, o *historyOptions, w io.Writer, db *catalog.DB, st sync.Bucket, t target) error {
	runs, err := db.Runs()
	if err != nil {
		return err
	}
	kept := make(map[string]bool)
	if st.History != nil {
		err := st.History.Versions(ctx, cipher.MetaKey(t.Prefix, "catalog.age"), func(v sync.Version) error {
			if !v.DeleteMarker {
				kept[v.VersionID] = true
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if !o.out.json {
		fmt.Fprintln(tw, "SYNC\tFINISHED\tFILES\tCHANGED\tDELETED\tSIZE\tRESTORABLE")
	}
	for i, r := range runs {
		restorable := i == len(runs)-1 || kept[r.MirrorVersion]
		finished := time.Unix(0, r.FinishedAt).Format(time.RFC3339)
		if o.out.json {
			writeJSONLine(w, map[string]any{"type": "sync", "id": r.ID, "finished": finished, "files": r.Files,
				"changed": r.Changed, "deleted": r.Deleted, "bytes": r.Bytes, "restorable": restorable})
			continue
		}
		fmt.Fprintf(tw, "#%d\t%s\t%d\t%d\t%d\t%s\t%s\n", r.ID, finished, r.Files, r.Changed, r.Deleted, size(r.Bytes), yesNo(restorable))
	}
	return tw.Flush()
}

// fileHistory prints the versions the bucket keeps of one file's object.
func fileHistory(ctx context.Context, o *historyOptions, w io.Writer, db *catalog.DB, st sync.Bucket, t target, path string) error {
	if st.History == nil {
		return fmt.Errorf("history %s: the store keeps no versions", path)
	}
	naming, _, err := sync.TargetNaming(db)
	if err != nil {
		return err
	}
	key := naming.ObjectKey(t.Prefix, path)
	current := ""
	if row, ok, err := db.Lookup(path); err != nil {
		return err
	} else if ok {
		current = row.VersionID
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if !o.out.json {
		fmt.Fprintln(tw, "WRITTEN\tSIZE\tVERSION\t")
	}
	n := 0
	err = st.History.Versions(ctx, key, func(v sync.Version) error {
		if v.Key != key {
			return nil // a longer key with this one as its prefix
		}
		n++
		note := ""
		switch {
		case v.DeleteMarker:
			note = "deleted"
		case v.VersionID == current:
			note = "the catalog's"
		}
		written := v.LastModified.Local().Format(time.RFC3339)
		if o.out.json {
			writeJSONLine(w, map[string]any{"type": "version", "path": path, "version_id": v.VersionID, "written": written,
				"size": v.Size, "latest": v.Latest, "delete_marker": v.DeleteMarker, "catalog": v.VersionID == current})
			return nil
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", written, size(v.Size), v.VersionID, note)
		return nil
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return withHint(fmt.Errorf("history: the bucket keeps no version of %s", path),
			"PATH is relative to the backed-up folder, as 'restore' takes it")
	}
	return tw.Flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
