package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/s3seal/s3seal/sync"
	"github.com/s3seal/s3seal/sync/s3store"
)

// abortUploadDays is how long the lifecycle rule of target setup lets an
// incomplete multipart upload live: long enough for a resume after a
// holiday, short enough not to pay for lost parts for long.
const abortUploadDays = 7

type targetSetupOptions struct {
	s3         s3Options
	versioning bool
	keepDays   int
	lockDays   int
}

func newTargetSetupCommand() *cobra.Command {
	var o targetSetupOptions
	cmd := &cobra.Command{
		Use:   "setup s3://BUCKET[/PREFIX]",
		Short: "Make the bucket keep history: versioning, lifecycle rule, Object Lock",
		Long: `Setup makes a target's bucket keep the versions a sync replaces, so that a
file damaged, deleted or encrypted by ransomware on this machine can be
restored as it was. Run it once, with the bucket owner's credentials: the
machine that backs up needs none of the rights it uses.

  --versioning   turn versioning on: every overwrite and delete keeps the
                 version it replaces
  --keep-days N  install a lifecycle rule for the prefix, which the store
                 enforces: versions expire N days after they were replaced,
                 and incomplete multipart uploads are aborted after 7 days
                 (the bucket's other rules are kept)
  --lock-days N  check that the bucket has Object Lock, under which a
                 version cannot be deleted before its retention date; with -c
                 a missing bucket is created with it. Nothing is set on the
                 bucket: sync sets the retention of each version it uploads.

Most stores enable Object Lock only when a bucket is created. A store without
lifecycle rules gets a warning (versions are then kept until deleted by
hand); one that cannot keep versions at all is an error that says so.

Setup ends by printing the settings it reads back from the bucket. Without
any flag it only prints them.`,
		Example: `  s3seal target setup s3://my-bucket/archive --versioning --keep-days 90
  s3seal target setup s3://new-bucket/archive -c --versioning --keep-days 90 --lock-days 30
  s3seal target setup s3://my-bucket/archive      # print what the bucket keeps`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTargetSetup(cmd.Context(), &o, cmd, args[0])
		},
	}
	fs := cmd.Flags()
	o.s3.addFlags(fs, true)
	fs.BoolVar(&o.versioning, "versioning", false, "turn on the bucket's versioning")
	fs.IntVar(&o.keepDays, "keep-days", 0, "expire replaced versions `N` days after they were replaced (a lifecycle rule for the prefix)")
	fs.IntVar(&o.lockDays, "lock-days", 0, "check that the bucket has Object Lock, for a retention of `N` days (with -c: create it so)")
	return cmd
}

func runTargetSetup(ctx context.Context, o *targetSetupOptions, cmd *cobra.Command, arg string) error {
	t, err := parseTarget(arg)
	if err != nil {
		return err
	}
	for _, flag := range []string{"keep-days", "lock-days"} {
		if n, _ := cmd.Flags().GetInt(flag); cmd.Flags().Changed(flag) && n < 1 {
			return usagef("--%s must be at least 1", flag)
		}
	}
	st, err := o.s3.newStore(ctx, t, o.lockDays > 0)
	if err != nil {
		return err
	}
	created, err := ensureBucket(ctx, st, o.s3.createBucket)
	if err != nil {
		return err
	}
	prefix := keyPrefix(t)
	before, err := st.Settings(ctx, prefix)
	unsupported := errors.Is(err, sync.ErrNotImplemented)
	if err != nil && !unsupported {
		return err
	}
	if err := o.check(t, before, unsupported, created); err != nil {
		return err
	}
	if o.versioning && !before.Versioned() {
		if err := st.EnableVersioning(ctx); errors.Is(err, sync.ErrNotImplemented) {
			return cannotVersion(t, err)
		} else if err != nil {
			return err
		}
	}
	noLifecycle := false
	if o.keepDays > 0 {
		err := st.SetLifecycle(ctx, prefix, o.keepDays, abortUploadDays)
		if noLifecycle = errors.Is(err, sync.ErrNotImplemented); noLifecycle {
			warnf("%s has no lifecycle rules (the server answered NotImplemented): versions replaced by a sync are kept until deleted by hand, and incomplete multipart uploads until a sync aborts them", t)
		} else if err != nil {
			return err
		}
	}
	after, err := st.Settings(ctx, prefix)
	if errors.Is(err, sync.ErrNotImplemented) {
		after, err = sync.HistorySettings{}, nil
	}
	if err != nil {
		return err
	}
	return printSetup(cmd.OutOrStdout(), t, created, sync.TargetHistory{HistorySettings: after, Unsupported: unsupported}, noLifecycle)
}

// ensureBucket checks that the bucket exists, and with create makes a
// missing one; it reports whether it did.
func ensureBucket(ctx context.Context, st *s3store.Store, create bool) (created bool, err error) {
	err = st.CheckBucket(ctx)
	if !errors.Is(err, sync.ErrNoSuchBucket) || !create {
		return false, err
	}
	return true, st.CreateBucket(ctx)
}

// check refuses what the bucket as it is cannot do, before anything is
// changed.
func (o *targetSetupOptions) check(t target, before sync.HistorySettings, unsupported, created bool) error {
	asked := o.versioning || o.keepDays > 0 || o.lockDays > 0
	switch {
	case unsupported && asked:
		return cannotVersion(t, errors.New("it answered GetBucketVersioning with NotImplemented"))
	case o.lockDays > 0 && !before.ObjectLock && created:
		return withHint(fmt.Errorf("%s was created, but without Object Lock: the store does not support it", t),
			"Object Lock needs a store that implements it (AWS S3, MinIO, Ceph RGW, ...); drop --lock-days to use this one with versioning alone")
	case o.lockDays > 0 && !before.ObjectLock:
		return withHint(fmt.Errorf("%s has no Object Lock, which most stores enable only when a bucket is created", t),
			"create a new bucket with it: "+commandLine(append([]string{"s3seal", "target", "setup", "s3://NEW-BUCKET/" + t.Prefix,
				"-c", "--versioning", "--lock-days", fmt.Sprint(o.lockDays)}, o.s3.placeArgs()...)...)+", and sync to that",
			"on AWS S3 a versioned bucket can also get it afterwards: aws s3api put-object-lock-configuration --bucket "+t.Bucket+
				" --object-lock-configuration ObjectLockEnabled=Enabled; then run this again")
	case o.keepDays > 0 && !o.versioning && !before.Versioned():
		return withHint(usagef("--keep-days expires old versions, and %s keeps none: it is not versioned", t),
			"add --versioning")
	}
	return nil
}

// cannotVersion is the error of a store that cannot keep versions.
func cannotVersion(t target, why error) error {
	return withHint(fmt.Errorf("%s cannot keep versions: %w", t, why),
		"s3seal works with this store as it is, but a sync overwrites what it replaces: there is no history to restore",
		"for history, back up to a store with S3 versioning (AWS S3, MinIO, Ceph RGW, Backblaze B2, ...)")
}

// keyPrefix is the key prefix of the target's objects: "p/", or "" for a
// whole bucket.
func keyPrefix(t target) string {
	if t.Prefix == "" {
		return ""
	}
	return t.Prefix + "/"
}

// printSetup writes the settings read back, one "name: value" line each.
func printSetup(w io.Writer, t target, created bool, h sync.TargetHistory, noLifecycle bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "target:\t%s\n", t)
	if created {
		fmt.Fprintf(tw, "bucket:\tcreated\n")
	}
	fmt.Fprintf(tw, "versioning:\t%s\n", versioningWords(h))
	fmt.Fprintf(tw, "object lock:\t%s\n", lockWords(h))
	if noLifecycle {
		fmt.Fprintf(tw, "keep days:\tnot supported by the server: replaced versions are kept until deleted by hand\n")
	} else {
		fmt.Fprintf(tw, "keep days:\t%s\n", keepDaysWords(h))
	}
	return tw.Flush()
}

func versioningWords(h sync.TargetHistory) string {
	switch {
	case h.Unsupported:
		return "not supported by the store: a sync overwrites what it replaces"
	case h.Versioning == "":
		return "off: a sync overwrites what it replaces"
	case !h.Versioned():
		return h.Versioning + ": a sync overwrites what it replaces (versions kept so far remain)"
	}
	return h.Versioning
}

func lockWords(h sync.TargetHistory) string {
	if h.ObjectLock {
		return "enabled"
	}
	return "off"
}

func keepDaysWords(h sync.TargetHistory) string {
	switch {
	case !h.Versioned():
		return "none"
	case h.KeepDays == 0:
		return "none: replaced versions are kept until deleted"
	}
	return fmt.Sprintf("%d: replaced versions expire %d days after they were replaced", h.KeepDays, h.KeepDays)
}

// placeArgs returns the flags that say where the bucket is, without whose
// credentials: a hint that suggests an owner's command leaves those to the
// owner.
func (o *s3Options) placeArgs() []string {
	var args []string
	if o.endpoint != "" {
		args = append(args, "--endpoint", o.endpoint)
	}
	if o.region != "" {
		args = append(args, "--region", o.region)
	}
	if o.allowHTTP {
		args = append(args, "--allow-http")
	}
	return args
}

// warnHistory prints the warning and hints of a sync's history event:
// history is off (said once per target), the store cannot keep versions
// (once), or the settings could not be read (every run).
func warnHistory(p *printer, e sync.Event, t target, s3 *s3Options) {
	if e.Kind != sync.EventInfo || p.opts.quiet {
		return
	}
	var hints []string
	switch e.Reason {
	case sync.ReasonHistoryOff:
		setup := append([]string{"s3seal", "target", "setup", t.String(), "--versioning", "--keep-days", "90"}, s3.placeArgs()...)
		hints = []string{"with the bucket owner's credentials, turn versioning on: " + commandLine(setup...),
			"this is said once for this target"}
	case sync.ReasonHistoryUnsupported:
		hints = []string{"s3seal works with this store as it is; for history, back up to a store with S3 versioning (AWS S3, MinIO, Ceph RGW, Backblaze B2, ...)",
			"this is said once for this target"}
	case sync.ReasonHistoryUnknown:
		hints = []string{"allow this credential s3:GetBucketVersioning on the bucket; until then every sync says this"}
	default:
		return
	}
	if e.Reason == sync.ReasonHistoryUnknown {
		fmt.Fprintf(p.stderr, "s3seal: warning: %s: %v\n", t, e.Err)
	} else {
		fmt.Fprintf(p.stderr, "s3seal: warning: history is off for %s: %v\n", t, e.Err)
	}
	for _, h := range hints {
		fmt.Fprintf(p.stderr, "s3seal: hint: %s\n", h)
	}
}
