package main

import (
	"context"
	"errors"
	"fmt"
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
	trust       trustOptions
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
run are skipped, so an interrupted restore continues; the partial files a
killed restore left in DEST are removed first.

The catalog comes from the target's encrypted mirror, so a new machine needs
only the bucket and the identity (or passphrase); --catalog uses a local one.
The mirror is checked as 'catalog pull' checks it (--fingerprint,
--allow-unsigned, --allow-plain-names), against what this machine's catalogs
in the default folder know of the target.`,
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
	o.trust.addFlags(fs)
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
	st, err := o.s3.store(ctx, t)
	if err != nil {
		return err
	}
	ids, err := o.keys.decryptKeys(ctx, st, t)
	if err != nil {
		return err
	}
	trust, err := o.trust.trust(t, &o.keys, ids)
	if err != nil {
		return err
	}
	db, cleanup, err := restoreCatalog(ctx, o, st, t, ids, trust)
	if err != nil {
		return err
	}
	defer cleanup()
	unlock, err := lockDest(dest)
	if err != nil {
		return err
	}
	defer unlock()
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

// lockDest creates dest and locks it for this restore, which removes the
// partial files a killed restore left there: two restores into one folder
// at once would remove each other's. Where the file system has no locks, it
// goes on unlocked.
func lockDest(dest string) (unlock func(), err error) {
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	lock, err := lockDir(dest)
	if errors.Is(err, errLockHeld) {
		return nil, withHint(fmt.Errorf("restore: another restore into %s is running", dest),
			"wait for it to finish, or restore into another folder")
	}
	if err != nil {
		return func() {}, nil
	}
	return func() { lock.Close() }, nil
}

// restoreCatalog opens the catalog at o.catalogPath, or pulls the target's
// mirror into a temporary one under the data directory (see privateTemp),
// judged under trust and what this machine's default catalogs know of the
// target.
func restoreCatalog(ctx context.Context, o *restoreOptions, st sync.Bucket, t target, ids []age.Identity, trust sync.Trust) (*catalog.DB, func(), error) {
	if path := o.catalogPath; path != "" {
		if _, err := os.Stat(path); err != nil {
			return nil, nil, err
		}
		db, err := catalog.Open(path)
		if err != nil {
			return nil, nil, err
		}
		return db, func() { db.Close() }, nil
	}
	if err := addKnown(&trust, ""); err != nil {
		return nil, nil, err
	}
	tmp, err := newPrivateTemp("restore")
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() { tmp.remove() }
	db, err := catalog.Open(filepath.Join(tmp.dir, "catalog.db"))
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	acc, err := sync.PullCatalog(ctx, db, st, t.Prefix, ids, trust)
	if err != nil {
		db.Close()
		cleanup()
		return nil, nil, err
	}
	reportAccepted(os.Stderr, o.out.quiet, "SRC", t, acc)
	return db, func() { db.Close(); cleanup() }, nil
}
