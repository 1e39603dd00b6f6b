package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"

	"filippo.io/age"
	"github.com/spf13/pflag"

	"github.com/s3seal/s3seal/catalog"
	"github.com/s3seal/s3seal/cipher"
	"github.com/s3seal/s3seal/sync"
)

// keyOptions are the flags that name keys: recipients to encrypt to,
// identities to decrypt with, or passphrase mode.
type keyOptions struct {
	recipients     []string
	recipientFiles []string
	identityFiles  []string
	symmetric      bool
	passphraseFile string
	workFactor     int
}

func (o *keyOptions) addEncryptFlags(fs *pflag.FlagSet) {
	fs.StringArrayVarP(&o.recipients, "recipient", "r", nil, "encrypt to `RECIPIENT` (age1..., age1pq1..., ssh-ed25519 ..., ssh-rsa ...); repeatable")
	fs.StringArrayVarP(&o.recipientFiles, "recipients-file", "R", nil, "encrypt to the recipients listed in `FILE`; repeatable")
	o.addPassphraseFlags(fs)
}

func (o *keyOptions) addDecryptFlags(fs *pflag.FlagSet) {
	fs.StringArrayVarP(&o.identityFiles, "identity", "i", nil, "decrypt with the identities in `FILE` (age or OpenSSH keys); repeatable")
	o.addPassphraseFlags(fs)
}

func (o *keyOptions) addPassphraseFlags(fs *pflag.FlagSet) {
	fs.BoolVarP(&o.symmetric, "symmetric", "S", false, "passphrase mode: the passphrase comes from a prompt, S3SEAL_PASSPHRASE or --passphrase-file")
	fs.BoolVar(&o.symmetric, "passphrase", false, "same as --symmetric")
	fs.StringVar(&o.passphraseFile, "passphrase-file", "", "read the passphrase from the first line of `FILE` (implies --symmetric)")
	fs.IntVar(&o.workFactor, "scrypt-work-factor", cipher.DefaultWorkFactor, "scrypt work factor when sealing a new passphrase key")
	_ = fs.MarkHidden("scrypt-work-factor")
}

func (o *keyOptions) passphraseMode() bool { return o.symmetric || o.passphraseFile != "" }

// noPromptHint says how to give a passphrase when it cannot be prompted for.
const noPromptHint = "set S3SEAL_PASSPHRASE or use --passphrase-file FILE when not running on a terminal that can hide what you type"

// passphrase returns the passphrase from the environment, the file or a
// prompt, in that order.
func (o *keyOptions) passphrase(confirm bool) (string, error) {
	if p := os.Getenv("S3SEAL_PASSPHRASE"); p != "" {
		return p, nil
	}
	if o.passphraseFile != "" {
		return readSecretFile(o.passphraseFile)
	}
	p, err := promptSecret("Passphrase: ")
	if err != nil {
		return "", withHint(err, noPromptHint)
	}
	if confirm {
		again, err := promptSecret("Confirm passphrase: ")
		if err != nil {
			return "", withHint(err, noPromptHint)
		}
		if again != p {
			return "", errors.New("the passphrases do not match")
		}
	}
	if p == "" {
		return "", errors.New("empty passphrase")
	}
	return p, nil
}

// encryptKeys returns the recipients to encrypt to, and a string that
// identifies them (see keysID). In passphrase mode it is the target
// identity's recipient, created on first use unless dryRun.
func (o *keyOptions) encryptKeys(ctx context.Context, db *catalog.DB, st sync.Bucket, t target, dryRun bool) ([]age.Recipient, string, error) {
	if o.passphraseMode() {
		if len(o.recipients)+len(o.recipientFiles) > 0 {
			return nil, "", usagef("choose recipients (-r/-R) or passphrase mode (-S), not both")
		}
		if dryRun {
			return nil, "", nil // a dry run encrypts nothing; it must not create the key either
		}
		id, err := sync.PassphraseIdentity(ctx, db, st, t.Prefix, o.passphrase, true, o.workFactor)
		if err != nil {
			return nil, "", err
		}
		return []age.Recipient{id.Recipient()}, keysID([]string{id.Recipient().String()}, nil), nil
	}
	if len(o.recipients)+len(o.recipientFiles) == 0 {
		return nil, "", withHint(usagef("no recipient"),
			"pass -r age1... or -R recipients.txt (make a key with age-keygen), or -S for passphrase mode")
	}
	rs, err := cipher.ParseRecipients(o.recipients, o.recipientFiles)
	if err != nil {
		return nil, "", withHint(usageError{err}, "a recipient is a public key such as age1..., age1pq1... or ssh-ed25519 AAAA...")
	}
	var files [][]byte
	for _, path := range o.recipientFiles {
		content, err := os.ReadFile(path) // parsed above: readable
		if err != nil {
			return nil, "", fmt.Errorf("read recipients file %s: %w", path, err)
		}
		files = append(files, content)
	}
	return rs, keysID(o.recipients, files), nil
}

// keysID identifies a set of recipients by what the user gave: a SHA-256
// over the recipient strings (in any order) and the recipients files'
// contents. It changes when the recipients do, so that the catalog mirror
// is encrypted again to the new set (and also, harmlessly, when only a
// comment in a file changes).
func keysID(recipients []string, files [][]byte) string {
	h := sha256.New()
	for _, r := range slices.Sorted(slices.Values(recipients)) {
		fmt.Fprintf(h, "r %d %s\n", len(r), r)
	}
	for _, f := range files {
		fmt.Fprintf(h, "R %d\n", len(f))
		h.Write(f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// decryptKeys returns the identities to decrypt with.
func (o *keyOptions) decryptKeys(ctx context.Context, st sync.Bucket, t target) ([]age.Identity, error) {
	if o.passphraseMode() {
		id, err := sync.PassphraseIdentity(ctx, nil, st, t.Prefix, o.passphrase, false, o.workFactor)
		if err != nil {
			return nil, err
		}
		return []age.Identity{id}, nil
	}
	if len(o.identityFiles) == 0 {
		return nil, withHint(usagef("no identity"), "pass -i key.txt (the identity whose recipient was used for the sync), or -S for passphrase mode")
	}
	var ids []age.Identity
	for _, path := range o.identityFiles {
		fileIDs, err := cipher.ParseIdentityFile(path)
		if err != nil {
			return nil, fmt.Errorf("read identity: %w", err)
		}
		ids = append(ids, fileIDs...)
	}
	return ids, nil
}
