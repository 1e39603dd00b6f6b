package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/bmatcuk/doublestar/v4"
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
	at          string
	include     []string
}

func newRestoreCommand() *cobra.Command {
	var o restoreOptions
	cmd := &cobra.Command{
		Use:   "restore s3://BUCKET[/PREFIX] DEST [PATH...]",
		Short: "Download, decrypt and verify the files of a target into DEST, as of now or a past sync",
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

Many files are downloaded at once (--jobs), so that small files do not wait
for each other's round trips. A file over 8 MiB is fetched as 8 MiB ranges,
a few at once, each checked by the server against the recorded ETag (and
version), and decrypted in order; the ranges held in memory are at most
64 MiB, whatever --jobs is.

The catalog comes from the target's encrypted mirror, so a new machine needs
only the bucket and the identity (or passphrase); --catalog uses a local one.
The mirror is checked as 'catalog pull' checks it (--fingerprint,
--allow-unsigned, --allow-plain-names), against what this machine's catalogs
in the default folder know of the target.

On a versioned bucket, --at restores the tree as a past sync left it: the
newest sync finished at or before a time (2026-11-20T03:00, 2026-11-20, or
an age such as 3d or 12h), or a sync by its number as 's3seal history'
lists it (#12). The catalog that sync pushed is read from the mirror's
versions, judged as the current one is (its signer must be the current
mirror's), and every file comes from the version it recorded.

PATH arguments (files or folders, relative to the source) and --include
globs restore part of the tree; without them, all of it.`,
		Example: `  s3seal restore s3://my-bucket/archive ./restored -i key.txt
  s3seal restore s3://my-bucket/archive ./restored -S --passphrase-file pass.txt
  s3seal restore s3://backups/data /srv/data -i key.txt --endpoint http://127.0.0.1:7070
  s3seal restore s3://my-bucket/archive ./yesterday -i key.txt --at 1d
  s3seal restore s3://my-bucket/archive ./old -i key.txt --at 2026-11-20T03:00 docs/report.odt --include 'photos/**/*.jpg'`,
		Args: minArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRestore(cmd.Context(), &o, args[0], args[1], args[2:])
		},
	}
	fs := cmd.Flags()
	o.s3.addFlags(fs, false)
	o.keys.addDecryptFlags(fs)
	o.trust.addFlags(fs)
	o.out.addFlags(fs)
	fs.StringVar(&o.catalogPath, "catalog", "", "use this local catalog `FILE` instead of the target's mirror")
	fs.IntVarP(&o.jobs, "jobs", "j", sync.DefaultRestoreJobs, "files downloaded at once (a large file's ranges share a 64 MiB memory bound)")
	fs.BoolVar(&o.keepSpecial, "keep-special-modes", false, "apply the setuid, setgid and sticky bits the catalog records (dropped by default)")
	fs.StringVar(&o.at, "at", "", "restore the tree as the last sync before `WHEN` left it: a time (2026-11-20T03:00), an age (3d, 12h) or a sync number (#12)")
	fs.StringArrayVar(&o.include, "include", nil, "restore only paths matching `GLOB` (repeatable; ** crosses folders)")
	return cmd
}

func runRestore(ctx context.Context, o *restoreOptions, src, dest string, paths []string) error {
	t, err := parseTarget(src)
	if err != nil {
		return err
	}
	match, err := restoreMatch(paths, o.include)
	if err != nil {
		return err
	}
	var at sync.At
	if o.at != "" {
		if at, err = parseAt(o.at, time.Now()); err != nil {
			return err
		}
	}
	dest, err = filepath.Abs(dest)
	if err != nil {
		return err
	}
	rt, err := openForReading(ctx, &o.s3, &o.keys, &o.trust, o.catalogPath, o.out.quiet, t)
	if err != nil {
		return err
	}
	defer rt.close()
	st, ids, trust, db := rt.st, rt.ids, rt.trust, rt.db
	if o.at != "" {
		past, pastCleanup, err := pastCatalog(ctx, o, db, st, t, ids, trust, at)
		if err != nil {
			return err
		}
		defer pastCleanup()
		db = past
	}
	unlock, err := lockDest(dest)
	if err != nil {
		return err
	}
	defer unlock()
	out := o.out.printer(false)
	start := time.Now()
	tuneGC(sync.RestorePooledMemory)
	sum, err := sync.Restore(ctx, db, st, sync.RestoreOptions{
		Dest: dest, Identities: ids, Jobs: o.jobs, KeepSpecialModes: o.keepSpecial, Match: match, Report: out.event,
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

// readTarget is a target opened for reading: its bucket, the identities to
// decrypt with, the trust that judges its catalogs, and its catalog.
type readTarget struct {
	st    sync.Bucket
	ids   []age.Identity
	trust sync.Trust
	db    *catalog.DB
	close func()
}

// openForReading checks t's bucket, loads the identities and opens the
// catalog: the local one at catalogPath, or the target's mirror, pulled and
// judged (see targetCatalog).
func openForReading(ctx context.Context, s3 *s3Options, keys *keyOptions, tr *trustOptions, catalogPath string, quiet bool, t target) (*readTarget, error) {
	st, err := s3.store(ctx, t)
	if err != nil {
		return nil, err
	}
	ids, err := keys.decryptKeys(ctx, st, t)
	if err != nil {
		return nil, err
	}
	trust, err := tr.trust(t, keys, ids)
	if err != nil {
		return nil, err
	}
	db, cleanup, err := targetCatalog(ctx, catalogPath, quiet, st, t, ids, trust)
	if err != nil {
		return nil, err
	}
	return &readTarget{st: st, ids: ids, trust: trust, db: db, close: cleanup}, nil
}

// targetCatalog opens the catalog at path, or without one pulls the
// target's mirror into a temporary catalog under the data directory (see
// privateTemp), judged under trust and what this machine's default catalogs
// know of the target; unless quiet, it says how the mirror was accepted.
func targetCatalog(ctx context.Context, path string, quiet bool, st sync.Bucket, t target, ids []age.Identity, trust sync.Trust) (*catalog.DB, func(), error) {
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
	reportAccepted(os.Stderr, quiet, "SRC", t, acc)
	return db, func() { db.Close(); cleanup() }, nil
}

// pastCatalog returns the catalog of the sync at names, found in the runs
// of db (the current catalog): db itself when it is the newest run's, else
// the mirror version that sync pushed, pulled into a temporary catalog and
// judged under trust and what db knows of the target.
func pastCatalog(ctx context.Context, o *restoreOptions, db *catalog.DB, st sync.Bucket, t target, ids []age.Identity, trust sync.Trust, at sync.At) (*catalog.DB, func(), error) {
	hint := "turn history on with 's3seal target setup " + t.String() + " --versioning' (with the bucket owner's credentials); it covers the syncs from then on"
	if st.History == nil {
		return nil, nil, withHint(fmt.Errorf("restore --at: %w: the store keeps no versions", sync.ErrNoHistory), hint)
	}
	settings, err := st.History.Settings(ctx, t.Prefix)
	if err != nil {
		return nil, nil, err
	}
	if !settings.Versioned() {
		return nil, nil, withHint(fmt.Errorf("restore --at: %w: s3://%s is not versioned, so each sync overwrote the one before", sync.ErrNoHistory, t.Bucket), hint)
	}
	runs, err := db.Runs()
	if err != nil {
		return nil, nil, err
	}
	run, newest, err := sync.PickRun(runs, at)
	if err != nil {
		return nil, nil, withHint(fmt.Errorf("restore --at: %w", err), "'s3seal history "+t.String()+"' lists the syncs that can be restored")
	}
	if !o.out.quiet {
		fmt.Fprintf(os.Stderr, "s3seal: restoring the tree of sync #%d, finished %s\n", run.ID, time.Unix(0, run.FinishedAt).Format(time.RFC3339))
	}
	if newest {
		return db, func() {}, nil
	}
	known, err := sync.KnownTarget(db)
	if err != nil {
		return nil, nil, err
	}
	trust.Known = append(trust.Known, known)
	tmp, err := newPrivateTemp("restore-at")
	if err != nil {
		return nil, nil, err
	}
	past, err := catalog.Open(filepath.Join(tmp.dir, "catalog.db"))
	if err != nil {
		tmp.remove()
		return nil, nil, err
	}
	if _, err := sync.PullPast(ctx, past, st, t.Prefix, run, ids, trust); err != nil {
		past.Close()
		tmp.remove()
		return nil, nil, err
	}
	return past, func() { past.Close(); tmp.remove() }, nil
}

// parseAt reads --at: "#N" or "N" (a sync number), an age ("3d", "12h",
// "90m": that long before now), a date ("2026-11-20": its start, local
// time) or a time ("2026-11-20T03:00", "2026-11-20 03:00:05", RFC 3339).
func parseAt(s string, now time.Time) (sync.At, error) {
	if n, err := strconv.ParseInt(strings.TrimPrefix(s, "#"), 10, 64); err == nil {
		if n < 1 {
			return sync.At{}, usagef("--at %s: syncs are numbered from 1", s)
		}
		return sync.At{ID: n}, nil
	}
	if d, err := parseAge(s); err == nil {
		return sync.At{Time: now.Add(-d)}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return sync.At{Time: t}, nil
		}
	}
	return sync.At{}, withHint(usagef("--at %q is not a time, an age or a sync number", s),
		"examples: --at 2026-11-20T03:00, --at 2026-11-20, --at 3d, --at 12h, --at '#12'")
}

// restoreMatch returns the filter of PATH arguments and --include globs, or
// nil for the whole tree. A path matches itself and everything under it.
func restoreMatch(paths, globs []string) (func(string) bool, error) {
	if len(paths)+len(globs) == 0 {
		return nil, nil
	}
	var clean []string
	for _, p := range paths {
		c := path.Clean(filepath.ToSlash(p))
		if c == "." || c == ".." || strings.HasPrefix(c, "../") || strings.HasPrefix(c, "/") {
			return nil, usagef("restore: %s is not a path inside the backed-up folder", p)
		}
		clean = append(clean, c)
	}
	for _, g := range globs {
		if !doublestar.ValidatePattern(g) {
			return nil, usagef("--include %q is not a valid glob", g)
		}
	}
	return func(rel string) bool {
		for _, c := range clean {
			if rel == c || strings.HasPrefix(rel, c+"/") {
				return true
			}
		}
		for _, g := range globs {
			if ok, _ := doublestar.Match(g, rel); ok {
				return true
			}
		}
		return false
	}, nil
}
