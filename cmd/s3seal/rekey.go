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
	"github.com/s3seal/s3seal/cipher"
	"github.com/s3seal/s3seal/sync"
)

type rekeyOptions struct {
	s3                s3Options
	keys              keyOptions // -i (old identities), -r/-R (new recipients), -S, --passphrase-file (old passphrase)
	out               outputOptions
	catalogPath       string
	dryRun            bool
	newFileKeys       bool
	partSize          sizeValue
	newPassphraseFile string
}

func newRekeyCommand() *cobra.Command {
	var o rekeyOptions
	cmd := &cobra.Command{
		Use:   "rekey SRC s3://BUCKET[/PREFIX] (-i OLD_IDENTITY | --passphrase-file OLD) (-r NEW | -R FILE | -S --new-passphrase-file NEW)",
		Short: "Change who can decrypt a target without uploading its data again",
		Long: `Rekey rewrites the age header of every object the catalog of SRC and the
target records, so that it wraps the same file key to the new recipients, and
keeps the encrypted payload. Objects over two parts are rebuilt on the server:
the new header and the first part go up, the rest is copied from the old
object (UploadPartCopy); smaller ones are downloaded and put again. The catalog
mirror is encrypted again to the new recipients.

The old keys are -i FILE, or for a passphrase-mode target the passphrase
(S3SEAL_PASSPHRASE or --passphrase-file). The new keys are -r/-R, or -S for
passphrase mode with the new passphrase from S3SEAL_NEW_PASSPHRASE,
--new-passphrase-file or a prompt. From passphrase mode to passphrase mode
only the target identity is sealed again with the new passphrase: nothing
else moves.

With --new-file-keys every object is instead downloaded, decrypted, checked
against the catalog's hashes of its plaintext and encrypted again under a
fresh file key, then uploaded in full: a removed key that had read the old
objects (and kept their file keys) cannot open the new ones. It costs a full
download and upload of the target.

An interrupted rekey continues where it stopped when run again. Rekey does
not take back what a removed key could already read, nor old versions a
versioned bucket keeps: see docs/SECURITY.md.`,
		Example: `  s3seal rekey ~/archive s3://my-bucket/archive -i old.txt -r age1new...
  s3seal rekey ~/archive s3://my-bucket/archive -i old.txt -R recipients.txt --dry-run
  s3seal rekey ~/archive s3://my-bucket/archive -i old.txt -r age1new... --new-file-keys
  s3seal rekey ~/archive s3://my-bucket/archive --passphrase-file old.pass -S --new-passphrase-file new.pass
  s3seal rekey ~/archive s3://my-bucket/archive -i old.txt -S`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usagef("rekey takes SRC and a target; got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRekey(cmd.Context(), &o, args[0], args[1])
		},
	}
	fs := cmd.Flags()
	o.s3.addFlags(fs, false)
	fs.StringArrayVarP(&o.keys.identityFiles, "identity", "i", nil, "open the objects with the identities in `FILE` (the old keys); repeatable")
	fs.StringArrayVarP(&o.keys.recipients, "recipient", "r", nil, "the new recipient `RECIPIENT`; repeatable")
	fs.StringArrayVarP(&o.keys.recipientFiles, "recipients-file", "R", nil, "the new recipients listed in `FILE`; repeatable")
	fs.BoolVarP(&o.keys.symmetric, "symmetric", "S", false, "move to (or stay in) passphrase mode, with the new passphrase")
	fs.StringVar(&o.keys.passphraseFile, "passphrase-file", "", "the old passphrase of a passphrase-mode target, from the first line of `FILE`")
	fs.StringVar(&o.newPassphraseFile, "new-passphrase-file", "", "with -S, the new passphrase, from the first line of `FILE`")
	fs.IntVar(&o.keys.workFactor, "scrypt-work-factor", cipher.DefaultWorkFactor, "scrypt work factor of the new passphrase key")
	_ = fs.MarkHidden("scrypt-work-factor")
	o.out.addFlags(fs)
	fs.StringVar(&o.catalogPath, "catalog", "", "catalog `FILE` (default: the one of SRC and the target)")
	fs.BoolVarP(&o.dryRun, "dry-run", "n", false, "print how many objects would be rekeyed and the bytes that would cross the network; change nothing")
	fs.BoolVar(&o.newFileKeys, "new-file-keys", false, "encrypt every object again under a fresh file key: download and upload it in full (revokes what a removed key could read)")
	o.partSize = sync.DefaultPartSize
	fs.Var(&o.partSize, "part-size", "part `SIZE` of the rebuilt objects: 16M, 64M (at least 5M)")
	return cmd
}

func runRekey(ctx context.Context, o *rekeyOptions, src, dst string) error {
	t, err := parseTarget(dst)
	if err != nil {
		return err
	}
	newRecipients := len(o.keys.recipients)+len(o.keys.recipientFiles) > 0
	if newRecipients == o.keys.symmetric {
		return withHint(usagef("give the new keys: -r/-R recipients or -S passphrase mode, one of them"),
			"for example -r age1... (make a key with age-keygen)")
	}
	source, err := filepath.Abs(src)
	if err != nil {
		return err
	}
	path, err := catalogPath(o.catalogPath, source, t)
	if err != nil {
		return err
	}
	if _, err := os.Stat(path); err != nil {
		return withHint(fmt.Errorf("catalog of %s and %s: %w", source, t, err), "rekey works from the catalog of the machine that syncs; run it there, or pull the catalog first ('s3seal catalog pull')")
	}
	db, err := catalog.Open(path)
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := o.s3.store(ctx, t)
	if err != nil {
		return err
	}
	fromPassphrase, err := sync.IsPassphraseTarget(ctx, db, st, t.Prefix)
	if err != nil {
		return err
	}
	fromPassphrase = fromPassphrase && len(o.keys.identityFiles) == 0
	oldIDs, targetID, err := o.oldKeys(ctx, st, t, fromPassphrase)
	if err != nil {
		return err
	}
	if fromPassphrase && o.keys.symmetric && o.newFileKeys {
		// The new file keys would need a new target identity, and the
		// sealed copy of the old one opens the objects not yet done.
		return withHint(usagef("--new-file-keys cannot stay in passphrase mode in one run"),
			"run it to a recipient (-r age1...), then rekey from that identity to -S")
	}
	if fromPassphrase && o.keys.symmetric {
		if o.dryRun {
			return nil // nothing but the sealed key would change
		}
		pass, err := o.newPassphrase()
		if err != nil {
			return err
		}
		return sync.ResealIdentity(ctx, db, st, t.Prefix, targetID, pass, o.keys.workFactor)
	}
	recipients, id, err := o.newKeys(ctx, db, st, t)
	if err != nil {
		return err
	}
	out := o.out.printer(o.dryRun)
	start := time.Now()
	sum, err := sync.Rekey(ctx, db, st, sync.RekeyOptions{
		Prefix: t.Prefix, Identities: oldIDs, Recipients: recipients, KeysID: id,
		PartSize: int64(o.partSize), DryRun: o.dryRun, NewFileKeys: o.newFileKeys, Report: out.event,
	})
	out.rekeySummary(sum, time.Since(start))
	if err != nil {
		return err
	}
	if sum.Failed > 0 {
		return exitStatus{exitPartial}
	}
	if fromPassphrase && !o.dryRun {
		// Every object is encrypted to the new recipients now: the sealed
		// identity would only let the passphrase open the old versions.
		return sync.DropPassphraseKey(ctx, db, st, t.Prefix)
	}
	return nil
}

// oldKeys returns the identities that open the objects now; in passphrase
// mode also the target identity.
func (o *rekeyOptions) oldKeys(ctx context.Context, st sync.Bucket, t target, fromPassphrase bool) ([]age.Identity, *age.X25519Identity, error) {
	if !fromPassphrase {
		old := keyOptions{identityFiles: o.keys.identityFiles}
		ids, err := old.decryptKeys(ctx, st, t)
		return ids, nil, err
	}
	old := keyOptions{symmetric: true, passphraseFile: o.keys.passphraseFile}
	id, err := sync.PassphraseIdentity(ctx, nil, st, t.Prefix, old.passphrase, false, o.keys.workFactor)
	if err != nil {
		return nil, nil, err
	}
	return []age.Identity{id}, id, nil
}

// newKeys returns the new recipients and their keysID. For passphrase mode
// the target identity is made and sealed with the new passphrase first (or
// opened with it, when an interrupted rekey made it already).
func (o *rekeyOptions) newKeys(ctx context.Context, db *catalog.DB, st sync.Bucket, t target) ([]age.Recipient, string, error) {
	if !o.keys.symmetric {
		keys := keyOptions{recipients: o.keys.recipients, recipientFiles: o.keys.recipientFiles}
		return keys.encryptKeys(ctx, db, st, t, o.dryRun)
	}
	if o.dryRun {
		return nil, "", nil
	}
	pass := func(bool) (string, error) { return o.newPassphrase() }
	id, err := sync.PassphraseIdentity(ctx, db, st, t.Prefix, pass, true, o.keys.workFactor)
	if err != nil {
		return nil, "", err
	}
	return []age.Recipient{id.Recipient()}, keysID([]string{id.Recipient().String()}, nil), nil
}

// newPassphrase returns the new passphrase from S3SEAL_NEW_PASSPHRASE,
// --new-passphrase-file or a prompt (typed twice).
func (o *rekeyOptions) newPassphrase() (string, error) {
	if p := os.Getenv("S3SEAL_NEW_PASSPHRASE"); p != "" {
		return p, nil
	}
	if o.newPassphraseFile != "" {
		return readSecretFile(o.newPassphraseFile)
	}
	p, err := promptSecret("New passphrase: ")
	if err == nil {
		var again string
		if again, err = promptSecret("Confirm new passphrase: "); err == nil && again != p {
			err = errors.New("the passphrases do not match")
		}
	}
	if err == nil && p == "" {
		err = errors.New("empty passphrase")
	}
	if err != nil {
		return "", withHint(err, "set S3SEAL_NEW_PASSPHRASE or use --new-passphrase-file FILE when not running on a terminal")
	}
	return p, nil
}
