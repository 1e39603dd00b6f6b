package main

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"filippo.io/age"
	"github.com/spf13/cobra"

	"github.com/s3seal/s3seal/catalog"
	"github.com/s3seal/s3seal/sync"
)

type restoreOptions struct {
	s3          s3Options
	keys        keyOptions
	out         outputOptions
	catalogPath string
	jobs        int
	keepSpecial bool
}

func newRestoreCommand() *cobra.Command {
	var o restoreOptions
	cmd := &cobra.Command{
		Use:   "restore s3://BUCKET[/PREFIX] DEST",
		Short: "Download, decrypt and verify every file of a target into DEST",
		Long: `Restore brings every file of the target back under DEST. Each object's
ETag and size are checked against the catalog, then it is decrypted and its
plaintext's size and SHA-256 checked (MD5 for files the catalog recorded
before it kept SHA-256; the summary counts them) before the file appears under
its final name, with its permissions and mtime. A file that fails a check is
reported and not written. Setuid, setgid and sticky bits are dropped unless
--keep-special-modes is given; catalog rows that are not regular files
(symlinks, devices) are refused. Nothing is written outside DEST, whatever the
catalog or the bucket says. Files already restored and verified by an earlier
run are skipped, so an interrupted restore continues.

The catalog comes from the target's encrypted mirror, so a new machine needs
only the bucket and the identity (or passphrase); --catalog uses a local one.`,
		Example: `  s3seal restore s3://my-bucket/archive ./restored -i key.txt
  s3seal restore s3://my-bucket/archive ./restored -S --passphrase-file pass.txt
  s3seal restore s3://backups/data /srv/data -i key.txt --endpoint http://127.0.0.1:7070`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRestore(cmd.Context(), &o, args[0], args[1])
		},
	}
	fs := cmd.Flags()
	o.s3.addFlags(fs, false)
	o.keys.addDecryptFlags(fs)
	o.out.addFlags(fs)
	fs.StringVar(&o.catalogPath, "catalog", "", "use this local catalog `FILE` instead of the target's mirror")
	fs.IntVarP(&o.jobs, "jobs", "j", 4, "files downloaded at once")
	fs.BoolVar(&o.keepSpecial, "keep-special-modes", false, "apply the setuid, setgid and sticky bits the catalog records (dropped by default)")
	return cmd
}

func runRestore(ctx context.Context, o *restoreOptions, src, dest string) error {
	t, err := parseTarget(src)
	if err != nil {
		return err
	}
	dest, err = filepath.Abs(dest)
	if err != nil {
		return err
	}
	st, err := o.s3.store(ctx, t, true)
	if err != nil {
		return err
	}
	ids, err := o.keys.decryptKeys(ctx, st, t)
	if err != nil {
		return err
	}
	db, cleanup, err := restoreCatalog(ctx, o.catalogPath, st, t, ids)
	if err != nil {
		return err
	}
	defer cleanup()
	out := o.out.printer(false)
	start := time.Now()
	sum, err := sync.Restore(ctx, db, st, sync.RestoreOptions{
		Dest: dest, Identities: ids, Jobs: o.jobs, KeepSpecialModes: o.keepSpecial, Report: out.event,
	})
	out.restoreSummary(sum, time.Since(start))
	if err != nil {
		return err
	}
	if sum.Failed > 0 {
		return exitStatus{exitPartial}
	}
	return nil
}

// restoreCatalog opens the catalog at path, or pulls the target's mirror
// into a temporary one.
func restoreCatalog(ctx context.Context, path string, st sync.Store, t target, ids []age.Identity) (*catalog.DB, func(), error) {
	if path != "" {
		if _, err := os.Stat(path); err != nil {
			return nil, nil, err
		}
		db, err := catalog.Open(path)
		if err != nil {
			return nil, nil, err
		}
		return db, func() { db.Close() }, nil
	}
	dir, err := os.MkdirTemp("", "s3seal-restore-")
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	db, err := catalog.Open(filepath.Join(dir, "catalog.db"))
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	if err := sync.PullCatalog(ctx, db, st, t.Prefix, ids); err != nil {
		db.Close()
		cleanup()
		return nil, nil, err
	}
	return db, func() { db.Close(); cleanup() }, nil
}
