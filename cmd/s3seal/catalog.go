package main

import (
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/s3seal/s3seal/catalog"
	"github.com/s3seal/s3seal/sync"
)

// catalogOptions locate a catalog: the default for SRC and the target, or --catalog.
type catalogOptions struct {
	s3          s3Options
	keys        keyOptions
	trust       trustOptions
	catalogPath string
	quiet       bool
}

func (o *catalogOptions) open(src string, t target) (*catalog.DB, error) {
	source, err := filepath.Abs(src)
	if err != nil {
		return nil, err
	}
	return openCatalog(o.catalogPath, source, t)
}

func newCatalogCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "Move the catalog between machines, or list it",
		Long: `The catalog maps each file to the plaintext MD5 and the ETag of what was
uploaded. It lives on this machine and, after every sync, encrypted in the
bucket under PREFIX/.s3seal/. These commands copy it between the two, to and
from an encrypted file, and list it. A catalog is found by SRC and the target,
as sync finds it, or named with --catalog.`,
		Example: `  s3seal catalog ls ~/archive s3://my-bucket/archive
  s3seal catalog pull ~/archive s3://my-bucket/archive -i key.txt
  s3seal catalog export ~/archive s3://my-bucket/archive catalog.age -R recipients.txt`,
	}
	cmd.AddCommand(newCatalogPullCommand(), newCatalogPushCommand(),
		newCatalogExportCommand(), newCatalogImportCommand(), newCatalogLsCommand())
	return cmd
}

func newCatalogPullCommand() *cobra.Command {
	var o catalogOptions
	cmd := &cobra.Command{
		Use:   "pull SRC s3://BUCKET[/PREFIX]",
		Short: "Replace the local catalog with the target's mirror",
		Long: `Pull downloads the target's catalog mirror, decrypts it and replaces the local
catalog with it. On a new machine, run it before the first sync: files that
are already in the bucket are then hashed, not uploaded again. On any error the
local catalog is left as it was.

The mirror must be signed by the target's catalog signing key. Passphrase mode
proves it fully. Otherwise pass --fingerprint with what 's3seal target info'
prints on the machine that backs up; a machine that pulled or pushed before
remembers the key and refuses another. A catalog that is unsigned, signed by
another key, older than one this machine has seen, or that changes the
target's naming is refused. On a machine that never saw the target, without
--fingerprint, a catalog with plain names needs --allow-plain-names.`,
		Example: `  s3seal catalog pull ~/archive s3://my-bucket/archive -i key.txt --fingerprint SHA256:...`,
		Args:    exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			t, err := parseTarget(args[1])
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
			db, err := o.open(args[0], t)
			if err != nil {
				return err
			}
			defer db.Close()
			if err := addKnown(&trust, db.Path()); err != nil {
				return err
			}
			out := outputOptions{quiet: o.quiet, progressInterval: 5 * time.Second}.printer(false)
			acc, err := sync.PullCatalog(ctx, db, withProgress(st, out.progress.event), t.Prefix, ids, trust)
			out.finish()
			if err != nil {
				return err
			}
			reportAccepted(os.Stderr, o.quiet, args[0], t, acc)
			if o.quiet {
				return nil
			}
			n, err := db.Count()
			fmt.Fprintf(os.Stderr, "s3seal: pulled the catalog of %s (%d files) into %s\n", t, n, db.Path())
			return err
		},
	}
	o.s3.addFlags(cmd.Flags(), false)
	o.keys.addDecryptFlags(cmd.Flags())
	o.trust.addFlags(cmd.Flags())
	cmd.Flags().StringVar(&o.catalogPath, "catalog", "", "catalog `FILE` to replace")
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "print only errors (no progress)")
	return cmd
}

func newCatalogPushCommand() *cobra.Command {
	var o catalogOptions
	cmd := &cobra.Command{
		Use:     "push SRC s3://BUCKET[/PREFIX]",
		Short:   "Upload the local catalog as the target's mirror now",
		Example: `  s3seal catalog push ~/archive s3://my-bucket/archive -R recipients.txt`,
		Args:    exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			t, err := parseTarget(args[1])
			if err != nil {
				return err
			}
			st, err := o.s3.store(ctx, t)
			if err != nil {
				return err
			}
			db, err := o.open(args[0], t)
			if err != nil {
				return err
			}
			defer db.Close()
			recipients, keysID, err := o.keys.encryptKeys(ctx, db, st, t, false)
			if err != nil {
				return err
			}
			return sync.PushCatalog(ctx, db, st, t.Prefix, recipients, keysID)
		},
	}
	o.s3.addFlags(cmd.Flags(), false)
	o.keys.addEncryptFlags(cmd.Flags())
	cmd.Flags().StringVar(&o.catalogPath, "catalog", "", "catalog `FILE` to upload")
	return cmd
}

func newCatalogExportCommand() *cobra.Command {
	var o catalogOptions
	cmd := &cobra.Command{
		Use:   "export SRC s3://BUCKET[/PREFIX] FILE",
		Short: "Write the catalog, encrypted to the recipients, to FILE",
		Long: `Export writes a snapshot of the catalog (without in-flight upload keys),
encrypted to the recipients as a standard age file, to FILE. In passphrase
mode it is encrypted to the target's passphrase key.`,
		Example: `  s3seal catalog export ~/archive s3://my-bucket/archive catalog.age -R recipients.txt`,
		Args:    exactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			t, err := parseTarget(args[1])
			if err != nil {
				return err
			}
			db, err := o.open(args[0], t)
			if err != nil {
				return err
			}
			defer db.Close()
			var st sync.Bucket
			if o.keys.passphraseMode() {
				if st, err = o.s3.store(ctx, t); err != nil {
					return err
				}
			}
			recipients, _, err := o.keys.encryptKeys(ctx, db, st, t, false)
			if err != nil {
				return err
			}
			return writeFileAtomic(args[2], func(f *os.File) error { return sync.ExportCatalog(db, f, recipients) })
		},
	}
	o.s3.addFlags(cmd.Flags(), false)
	o.keys.addEncryptFlags(cmd.Flags())
	cmd.Flags().StringVar(&o.catalogPath, "catalog", "", "catalog `FILE` to export")
	return cmd
}

func newCatalogImportCommand() *cobra.Command {
	var o catalogOptions
	cmd := &cobra.Command{
		Use:   "import SRC s3://BUCKET[/PREFIX] FILE",
		Short: "Replace the local catalog with an exported one",
		Long: `Import decrypts an exported catalog and replaces the local catalog with it,
after the checks of 'catalog pull' (signature, fingerprint, known key,
generation, naming).`,
		Example: `  s3seal catalog import ~/archive s3://my-bucket/archive catalog.age -i key.txt`,
		Args:    exactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			t, err := parseTarget(args[1])
			if err != nil {
				return err
			}
			var st sync.Bucket
			if o.keys.passphraseMode() {
				if st, err = o.s3.store(ctx, t); err != nil {
					return err
				}
			}
			ids, err := o.keys.decryptKeys(ctx, st, t)
			if err != nil {
				return err
			}
			trust, err := o.trust.trust(t, &o.keys, ids)
			if err != nil {
				return err
			}
			f, err := os.Open(args[2])
			if err != nil {
				return err
			}
			defer f.Close()
			db, err := o.open(args[0], t)
			if err != nil {
				return err
			}
			defer db.Close()
			if err := addKnown(&trust, db.Path()); err != nil {
				return err
			}
			acc, err := sync.ImportCatalog(db, f, ids, trust)
			if err != nil {
				return fmt.Errorf("import catalog %s: %w", args[2], err)
			}
			reportAccepted(os.Stderr, o.quiet, args[0], t, acc)
			return nil
		},
	}
	o.s3.addFlags(cmd.Flags(), false)
	o.keys.addDecryptFlags(cmd.Flags())
	o.trust.addFlags(cmd.Flags())
	cmd.Flags().StringVar(&o.catalogPath, "catalog", "", "catalog `FILE` to replace")
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "print only errors (no progress)")
	return cmd
}

func newCatalogLsCommand() *cobra.Command {
	var o catalogOptions
	cmd := &cobra.Command{
		Use:     "ls SRC s3://BUCKET[/PREFIX]",
		Short:   "List the files the catalog knows",
		Example: `  s3seal catalog ls ~/archive s3://my-bucket/archive`,
		Args:    exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := parseTarget(args[1])
			if err != nil {
				return err
			}
			db, err := o.open(args[0], t)
			if err != nil {
				return err
			}
			defer db.Close()
			uploads, err := db.Uploads()
			if err != nil {
				return err
			}
			inFlight := make(map[string]bool)
			for _, u := range uploads {
				inFlight[u.Path] = true
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "PATH\tSIZE\tUPLOADED\tSTATE")
			err = db.Files(func(f catalog.File) error {
				state := "uploaded"
				if inFlight[f.Path] {
					state = "uploading"
					delete(inFlight, f.Path)
				}
				fmt.Fprintf(w, "%s\t%d\t%s\t%s\n", quote(f.Path), f.Size,
					time.Unix(f.UploadedAt, 0).UTC().Format(time.RFC3339), state)
				return nil
			})
			for _, u := range uploads {
				if inFlight[u.Path] {
					fmt.Fprintf(w, "%s\t%d\t-\tuploading\n", quote(u.Path), u.Size)
				}
			}
			if ferr := w.Flush(); err == nil {
				err = ferr
			}
			return err
		},
	}
	cmd.Flags().StringVar(&o.catalogPath, "catalog", "", "catalog `FILE` to list")
	return cmd
}

// writeFileAtomic writes path through a temporary file in the same folder,
// created 0600, and renames it into place only when write succeeded.
func writeFileAtomic(path string, write func(*os.File) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".s3seal-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
