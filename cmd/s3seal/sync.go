package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/s3seal/s3seal/catalog"
	"github.com/s3seal/s3seal/sync"
)

type syncOptions struct {
	s3           s3Options
	keys         keyOptions
	out          outputOptions
	filter       filterOptions
	configPath   string
	catalogPath  string
	dryRun       bool
	checksum     bool
	jobs         int
	inFlight     int
	partSize     sizeValue
	plainNames   bool
	hiddenNames  bool
	noMirror     bool
	lockDays     int
	lockMode     string
	lockMargin   ageValue
	storageClass string
	abortAfter   time.Duration
	delete       bool
	maxDelete    int
}

func newSyncCommand() *cobra.Command {
	var o syncOptions
	cmd := &cobra.Command{
		Use:   "sync (SRC s3://BUCKET[/PREFIX] | NAME)",
		Short: "Encrypt new and changed files of SRC and upload them",
		Long: `Sync uploads the new and changed files of SRC, each encrypted on this machine
as a standard age file, and records what it uploaded in a local catalog.

Files are compared by content: a file whose size, mtime, ctime and inode are
unchanged is not read; any other file is hashed, and one whose content is
unchanged is not uploaded again. An object missing from the bucket, or whose
size or ETag is not the one recorded, is uploaded again; but one of the
recorded size that was not written since its upload is not: the catalog takes
the ETag the server now lists. Large files go up as
multipart uploads that an interrupted run resumes. After a sync the catalog is
mirrored, encrypted, to PREFIX/.s3seal/ so another machine can continue.

Object names are hidden (opaque fixed-length keys) for new targets unless
--plain-names is given; a target keeps the naming it was created with.

Files are left out with --exclude, --exclude-from and the patterns in
SRC/.s3sealignore (globs with ** for any depth; --include makes exceptions);
excluded files are never opened. Files deleted from SRC keep their objects
unless --delete is given; excluded files are never deleted.

With one argument, NAME, the source, target, keys and options come from
[targets.NAME] in the config file ('s3seal config path' prints where it is);
flags on the command line override it.`,
		Example: `  s3seal sync ~/archive s3://my-bucket/archive -r age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p
  s3seal sync ~/archive s3://my-bucket/archive -R ~/.config/s3seal/recipients.txt --dry-run
  s3seal sync ~/archive s3://my-bucket/archive -S --passphrase-file ~/.config/s3seal/passphrase
  s3seal sync ~/archive s3://my-bucket/archive -R recipients.txt --exclude '*.tmp' --exclude '**/node_modules/'
  s3seal sync ~/archive s3://my-bucket/archive -R recipients.txt --delete --max-delete 100
  s3seal sync ~/archive s3://my-bucket/archive -R recipients.txt --storage-class DEEP_ARCHIVE
  s3seal sync ./data s3://backups/data -R recipients.txt --endpoint http://127.0.0.1:7070 -c
  s3seal sync photos                 # the target named photos in the config file
  s3seal sync photos --dry-run -v    # the same, with a flag added`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 && len(args) != 2 {
				return usagef("sync takes SRC and a target, or the NAME of a configured target; got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				src, dst, err := o.named(cmd.Flags(), args[0])
				if err != nil {
					return err
				}
				args = []string{src, dst}
			}
			return runSync(cmd.Context(), &o, args[0], args[1])
		},
	}
	fs := cmd.Flags()
	o.s3.addFlags(fs, true)
	o.keys.addEncryptFlags(fs)
	o.out.addFlags(fs)
	o.filter.addFlags(fs)
	fs.StringVar(&o.configPath, "config", "", "with NAME: read the named target from `FILE` instead of the default config file")
	fs.StringVar(&o.catalogPath, "catalog", "", "catalog `FILE` (default: one per source and target under the user's data directory)")
	fs.BoolVarP(&o.dryRun, "dry-run", "n", false, "print what the sync would do (create the bucket, upload, copy, resume, delete); change nothing anywhere")
	fs.BoolVar(&o.checksum, "checksum", false, "hash every file instead of trusting unchanged stat")
	fs.IntVarP(&o.jobs, "jobs", "j", 4, "parts in flight (memory: jobs x part size), and 4 multipart files per job")
	fs.IntVar(&o.inFlight, "files-in-flight", sync.DefaultFilesInFlight, "small files uploaded at once, one request each; their bodies take at most 16 MiB together. Raise it on a link with a long round trip, lower it for a server that throttles")
	fs.Var(&o.s3.bwlimit, "bwlimit", "limit uploads, all together, to `RATE` bytes per second: 256k, 10M, 1.5M (k, M, G are powers of 1024; 0: no limit)")
	o.partSize = sync.DefaultPartSize
	fs.Var(&o.partSize, "part-size", "multipart part `SIZE`: 16M, 64M (k, M, G are powers of 1024; raised to at least 5M, and so that no upload exceeds 10,000 parts)")
	fs.BoolVar(&o.plainNames, "plain-names", false, "new target: readable object keys (PREFIX/path); the default hides names")
	fs.BoolVar(&o.hiddenNames, "hidden-names", false, "insist on hidden object names")
	fs.IntVar(&o.lockDays, "lock-days", 0, "on a bucket with Object Lock, retain every version written for `N` days, and extend the retention of unchanged files' versions before it lapses")
	fs.StringVar(&o.lockMode, "lock-mode", "governance", "Object Lock mode with --lock-days: governance (an account allowed to bypass it can still delete) or compliance (nobody can, not even the bucket's owner)")
	fs.Var(&o.lockMargin, "lock-margin", "with --lock-days, extend retentions that end within `AGE` (3d, 12h; default: half the lock period, at most 7d); sync at least that often")
	fs.BoolVar(&o.noMirror, "no-mirror", false, "do not update the encrypted catalog mirror (by default updated when the catalog changed or the mirror is missing)")
	fs.StringVar(&o.storageClass, "storage-class", "", "S3 storage `CLASS` of file objects: "+strings.Join(storageClasses, ", ")+", or a class of the server's own (the catalog mirror stays STANDARD)")
	fs.BoolVar(&o.delete, "delete", false, "delete the objects of files deleted from SRC (default: keep them)")
	fs.IntVar(&o.maxDelete, "max-delete", -1, "with --delete, delete nothing and fail when more than `N` files would go (-1: no limit)")
	fs.DurationVar(&o.abortAfter, "abort-uploads-after", 24*time.Hour, "abort multipart uploads under the prefix unknown to the catalog once this old (0: never)")
	return cmd
}

func runSync(ctx context.Context, o *syncOptions, src, dst string) error {
	t, err := parseTarget(dst)
	if err != nil {
		return err
	}
	if o.plainNames && o.hiddenNames {
		return usagef("--plain-names and --hidden-names exclude each other")
	}
	if o.jobs < 1 {
		return usagef("--jobs must be at least 1")
	}
	if o.inFlight < 1 {
		return usagef("--files-in-flight must be at least 1")
	}
	classWarning, err := checkStorageClass(o.storageClass)
	if err != nil {
		return err
	}
	lock, err := o.lock()
	if err != nil {
		return err
	}
	o.s3.objectLock = lock != nil // a bucket -c creates gets Object Lock
	source, err := filepath.Abs(src)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(source); err != nil {
		return withHint(fmt.Errorf("source folder: %w", err), "check the path of the folder to back up")
	} else if !fi.IsDir() {
		return usagef("source %s is not a folder", source)
	}
	filter, err := o.filter.filter(source)
	if err != nil {
		return err
	}
	st, missing, err := o.s3.bucket(ctx, t)
	if err != nil {
		return err
	}
	path, err := catalogPath(o.catalogPath, source, t)
	if err != nil {
		return err
	}
	// A new catalog must not start a second backup in a target another
	// catalog fills (a missing bucket holds none). Checked before Open,
	// which would create the catalog file.
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) && !missing {
		if err := o.refuseFreshCatalog(ctx, source, path, st, t); err != nil {
			return err
		}
	}
	db, err := catalog.Open(path)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, known, err := sync.TargetNaming(db); err != nil {
		return err
	} else if !known && !missing {
		if err := o.refuseFreshCatalog(ctx, source, path, st, t); err != nil {
			return err
		}
	}
	out := o.out.printer(o.dryRun)
	if classWarning != "" {
		out.warn(classWarning)
	}
	start := time.Now()
	opts := sync.Options{
		Source: source, Target: t.String(), Prefix: t.Prefix,
		Naming: namingChoice(o.plainNames, o.hiddenNames), CreateBucket: missing,
		Keys: func(ctx context.Context, db *catalog.DB, b sync.Bucket) ([]age.Recipient, string, error) {
			return o.keys.encryptKeys(ctx, db, b, t, o.dryRun)
		},
		Checksum: o.checksum, DryRun: o.dryRun, Jobs: o.jobs, PartSize: int64(o.partSize),
		FilesInFlight:     o.inFlight,
		PutOptions:        sync.PutOptions{StorageClass: o.storageClass},
		AbortUploadsAfter: o.abortAfter,
		Skip:              skipCatalog(source, path, filter.Skip),
		Delete:            o.delete,
		MaxDelete:         o.maxDelete,
		NoMirror:          o.noMirror,
		Lock:              lock,
		Report: func(e sync.Event) {
			if e.Kind == sync.EventInfo && e.Reason == "signing-key" && !o.out.quiet {
				announceSigningKey(e.Path, source, t)
			}
			warnHistory(out, e, t, &o.s3)
			out.event(e)
		},
	}
	tuneGC(sync.PooledMemory(opts))
	sum, err := sync.Sync(ctx, db, st, opts)
	tooMany := errors.Is(err, sync.ErrTooManyDeletes)
	if err == nil || tooMany || ctx.Err() != nil || o.out.json {
		// A run that failed as a whole gets its error, not a summary line
		// that reads like a finished run; --json always ends in a summary.
		out.syncSummary(sum, time.Since(start))
	}
	if tooMany {
		return withHint(err, "check that SRC is the right folder and is mounted",
			"if the deletions are intended, run again with a higher --max-delete, or first with --dry-run to list them")
	}
	if errors.Is(err, sync.ErrNoObjectLock) {
		return withHint(err, "Object Lock can only be enabled when a bucket is created: create one with 's3seal target setup s3://BUCKET/PREFIX -c --versioning --lock-days N' (owner credentials), or drop --lock-days")
	}
	if errors.Is(err, sync.ErrInvalidStorageClass) {
		return withHint(err, storageClassHints(o.storageClass)...)
	}
	if err != nil {
		return err
	}
	if sum.Failed > 0 {
		return exitStatus{exitPartial}
	}
	return nil
}

// lock returns the Object Lock policy of --lock-days, --lock-mode and
// --lock-margin, or nil without --lock-days.
func (o *syncOptions) lock() (*sync.Lock, error) {
	if o.lockDays < 0 {
		return nil, usagef("--lock-days must be positive")
	}
	if o.lockDays == 0 {
		return nil, nil
	}
	l := &sync.Lock{Days: o.lockDays, Margin: time.Duration(o.lockMargin)}
	switch strings.ToLower(o.lockMode) {
	case "governance":
		l.Mode = sync.RetentionGovernance
	case "compliance":
		l.Mode = sync.RetentionCompliance
	default:
		return nil, usagef("--lock-mode is governance or compliance, not %q", o.lockMode)
	}
	if l.Margin <= 0 {
		l.Margin = min(time.Duration(o.lockDays)*12*time.Hour, 7*24*time.Hour)
	}
	return l, nil
}

// storageClassHints say what to do when the server refuses class: S3
// defines many classes, and servers accept a subset.
func storageClassHints(class string) []string {
	return []string{
		fmt.Sprintf("S3 defines the storage classes %s; S3-compatible servers accept a subset (MinIO: STANDARD and REDUCED_REDUNDANCY), and this one refuses %s",
			strings.Join(storageClasses, ", "), class),
		"drop --storage-class (or storage-class in the config file) to use the bucket's default class, or pick one this server accepts",
	}
}

func namingChoice(plain, hidden bool) sync.NamingChoice {
	switch {
	case plain:
		return sync.NamingPlain
	case hidden:
		return sync.NamingHidden
	}
	return sync.NamingDefault
}

// catalogPath returns path, or the default catalog path for the source and
// target.
func catalogPath(path, source string, t target) (string, error) {
	if path != "" {
		return path, nil
	}
	return catalog.DefaultPath(source, t.String())
}

// openCatalog opens the catalog at path, or the default one for the source
// and target.
func openCatalog(path, source string, t target) (*catalog.DB, error) {
	path, err := catalogPath(path, source, t)
	if err != nil {
		return nil, err
	}
	return catalog.Open(path)
}

// refuseFreshCatalog stops a first sync with a new catalog into a target
// that another catalog already fills: it would upload everything again
// (under new hidden names). Pull the mirror first: the hint prints the
// command, with the options this run reaches the bucket with.
func (o *syncOptions) refuseFreshCatalog(ctx context.Context, source, path string, st sync.Bucket, t target) error {
	ok, err := sync.HasMirror(ctx, st, t.Prefix)
	if err != nil || !ok {
		return err
	}
	return withHint(fmt.Errorf("%s already holds a backup, and this catalog (%s) is new", t, path),
		pullHints("so that nothing is uploaded twice", source, t, &o.s3, &o.keys, o.catalogPath)...)
}

// storageClasses are the storage classes S3 defines for new objects.
// Servers accept a subset (MinIO: STANDARD and REDUCED_REDUNDANCY); others
// have classes of their own, which pass through with a warning.
var storageClasses = []string{"STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA",
	"INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE", "EXPRESS_ONEZONE", "OUTPOSTS", "SNOW"}

// checkStorageClass refuses a class that is one of S3's in the wrong case
// (S3 compares them exactly) and returns a warning for one S3 does not
// define, which is sent as given.
func checkStorageClass(class string) (warning string, err error) {
	if class == "" || slices.Contains(storageClasses, class) {
		return "", nil
	}
	for _, c := range storageClasses {
		if strings.EqualFold(class, c) {
			return "", withHint(usagef("unknown storage class %q", class), "storage classes are upper case: --storage-class "+c)
		}
	}
	return fmt.Sprintf("storage class %q is not one S3 defines (%s); it is sent to the server as given",
		class, strings.Join(storageClasses, ", ")), nil
}

// named reads the configured target NAME into the flags the command line
// left unset, and returns its source and target.
func (o *syncOptions) named(fs *pflag.FlagSet, name string) (src, dst string, err error) {
	path := o.configPath
	if path == "" {
		if path, err = defaultConfigPath(); err != nil {
			return "", "", err
		}
	}
	settings, err := targetSettings(path, name)
	if err != nil {
		return "", "", err
	}
	return applySettings(fs, settings, "targets."+name, filepath.Dir(path))
}

// skipCatalog adds the catalog's own files to skip when the catalog lives
// inside the source (a backup of a whole home folder): they change while the
// sync runs, and backing them up would make every run fail on them. Its
// temporary folders (catalog.DB.TempDir) go too: the listing of the bucket
// is one while the source is scanned.
func skipCatalog(source, catalogPath string, skip func(string, bool) bool) func(string, bool) bool {
	rel, err := filepath.Rel(source, catalogPath)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return skip
	}
	rel = filepath.ToSlash(rel)
	return func(p string, dir bool) bool {
		if dir && path.Dir(p) == path.Dir(rel) && catalog.IsTempName(path.Base(rel), path.Base(p)) {
			return true
		}
		if !dir {
			if suffix, ok := strings.CutPrefix(p, rel); ok {
				switch suffix {
				case "", "-wal", "-shm", "-journal", ".lock":
					return true
				}
			}
		}
		return skip(p, dir)
	}
}

// announceSigningKey prints the fingerprint of the catalog signing key a
// target got on its first sync with this version: a new machine checks
// pulled catalogs against it.
func announceSigningKey(fp, source string, t target) {
	fmt.Fprintf(os.Stderr, "s3seal: new catalog signing key for %s: %s\n", t, fp)
	fmt.Fprintf(os.Stderr, "s3seal: keep it: another machine pulls the catalog with --fingerprint %s ('s3seal target info %s %s' prints it again)\n", fp, source, t)
}
