package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/s3seal/s3seal/catalog"
	"github.com/s3seal/s3seal/cipher"
	"github.com/s3seal/s3seal/sync"
)

func newTargetCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "target",
		Short: "Set up a target's bucket to keep history, or show what this machine knows of a target",
	}
	cmd.AddCommand(newTargetInfoCommand(), newTargetSetupCommand())
	return cmd
}

func newTargetInfoCommand() *cobra.Command {
	var catalogFile string
	cmd := &cobra.Command{
		Use:   "info SRC s3://BUCKET[/PREFIX]",
		Short: "Print the target's naming, catalog signing key fingerprint and history settings",
		Long: `Info reads the local catalog of SRC and the target (nothing is sent to the
bucket) and prints its naming, the fingerprint of the key that signs its
catalog mirror, the signer this machine knows with the newest generation
it has seen, the optional S3 operations a sync found the server to lack,
and what the bucket keeps of the past (versioning, Object Lock, the days
versions are kept) as a sync saw it. Run it on the machine that backs up,
and compare the fingerprint with the one 'catalog pull' or 'restore' shows
on another machine, or pass it there with --fingerprint.`,
		Example: `  s3seal target info ~/archive s3://my-bucket/archive`,
		Args:    exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := parseTarget(args[1])
			if err != nil {
				return err
			}
			source, err := filepath.Abs(args[0])
			if err != nil {
				return err
			}
			path, err := catalogPath(catalogFile, source, t)
			if err != nil {
				return err
			}
			if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
				return withHint(fmt.Errorf("this machine has no catalog for %s and %s (%s)", source, t, path),
					"run it on the machine that backs up, with the SRC and target of its sync, or pass --catalog FILE")
			}
			db, err := catalog.Open(path)
			if err != nil {
				return err
			}
			defer db.Close()
			return printTargetInfo(cmd, db, t)
		},
	}
	cmd.Flags().StringVar(&catalogFile, "catalog", "", "read this catalog `FILE`")
	return cmd
}

// printTargetInfo writes one "name: value" line per fact of db's target.
func printTargetInfo(cmd *cobra.Command, db *catalog.DB, t target) error {
	fp, err := sync.SigningFingerprint(db)
	if err != nil {
		return err
	}
	naming, known, err := sync.TargetNaming(db)
	if err != nil {
		return err
	}
	signer, pinned, err := db.Signer()
	if err != nil {
		return err
	}
	files, err := db.Count()
	if err != nil {
		return err
	}
	lacking, err := sync.ServerLacks(db)
	if err != nil {
		return err
	}
	history, seen, err := sync.RecordedHistory(db)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "target:\t%s\n", t)
	fmt.Fprintf(w, "catalog:\t%s\n", db.Path())
	fmt.Fprintf(w, "files:\t%d\n", files)
	fmt.Fprintf(w, "naming:\t%s\n", namingLine(naming, known))
	fmt.Fprintf(w, "signing key:\t%s\n", orNone(fp, "none yet (the next sync creates one)"))
	if pinned {
		fmt.Fprintf(w, "known signer:\t%s (newest generation seen: %d)\n", cipher.SignerKey(signer.Key).Fingerprint(), signer.Generation)
	} else {
		fmt.Fprintf(w, "known signer:\tnone\n")
	}
	if len(lacking) == 0 {
		fmt.Fprintf(w, "server lacks:\tnothing found so far\n")
	}
	for _, l := range lacking {
		fmt.Fprintf(w, "server lacks:\t%s (found %s): %s\n", l.Op, l.Since.UTC().Format(time.DateOnly), l.Lost)
	}
	if seen {
		fmt.Fprintf(w, "versioning:\t%s (as a sync saw it)\n", versioningWords(history))
		fmt.Fprintf(w, "object lock:\t%s\n", lockWords(history))
		fmt.Fprintf(w, "keep days:\t%s\n", keepDaysWords(history))
	} else {
		fmt.Fprintf(w, "versioning:\tnot seen yet (the next sync reads it)\n")
	}
	return w.Flush()
}

func orNone(s, none string) string {
	if s == "" {
		return none
	}
	return s
}

func namingLine(n cipher.Naming, known bool) string {
	switch {
	case !known:
		return "not set yet (the next sync sets it)"
	case n.Hidden:
		return "hidden"
	}
	return "plain"
}
