package main

import (
	"fmt"
	"io"

	"filippo.io/age"
	"github.com/spf13/pflag"

	"github.com/s3seal/s3seal/catalog"
	"github.com/s3seal/s3seal/cipher"
	"github.com/s3seal/s3seal/sync"
)

// trustOptions are the flags that say which pulled or imported catalog to
// accept (see docs/SECURITY.md, "The catalog signature").
type trustOptions struct {
	fingerprint     string
	allowUnsigned   bool
	allowPlainNames bool
}

func (o *trustOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.fingerprint, "fingerprint", "", "require the catalog to be signed by the key with this `FINGERPRINT` (SHA256:..., shown by 's3seal target info' on the machine that backs up)")
	fs.BoolVar(&o.allowUnsigned, "allow-unsigned", false, "accept a catalog without a signature (pushed by an s3seal older than catalog signatures), on trust")
	fs.BoolVar(&o.allowPlainNames, "allow-plain-names", false, "accept a catalog with plain (readable) object names even when no --fingerprint, passphrase or known key proves it")
}

// trust returns what a catalog of t must prove. In passphrase mode the one
// identity is the target identity, from which the signer is derived.
func (o *trustOptions) trust(t target, keys *keyOptions, ids []age.Identity) (sync.Trust, error) {
	tr := sync.Trust{Target: t.String(), AllowUnsigned: o.allowUnsigned, AllowPlainNames: o.allowPlainNames}
	if o.fingerprint != "" {
		fp, err := cipher.ParseFingerprint(o.fingerprint)
		if err != nil {
			return sync.Trust{}, withHint(usageError{err}, "copy the fingerprint that 's3seal target info SRC TARGET' prints on the machine that backs up")
		}
		tr.Fingerprint = fp
	}
	if keys.passphraseMode() && len(ids) == 1 {
		if id, ok := ids[0].(*age.X25519Identity); ok {
			tr.Passphrase = id
		}
	}
	return tr, nil
}

// addKnown adds to tr what this machine's other catalogs of the target
// know (see sync.KnownCatalogs), leaving out the catalog at own. A catalog
// that another run holds may know the target's signing key; without it, a
// catalog that nothing else vouches for (no --fingerprint, no passphrase)
// is not judged.
func addKnown(tr *sync.Trust, own string) error {
	known, busy, err := sync.KnownCatalogs(tr.Target, own)
	if err != nil {
		return err
	}
	tr.Known = append(tr.Known, known...)
	if len(busy) > 0 && tr.Fingerprint == "" && tr.Passphrase == nil {
		return withHint(fmt.Errorf("%w: %s knows %s and cannot be read now, so the catalog cannot be judged against it",
			catalog.ErrLocked, busy[0], tr.Target),
			"wait for the other s3seal run to finish, or pass --fingerprint with the key 's3seal target info SRC TARGET' shows on the machine that backs up")
	}
	return nil
}

// reportAccepted tells the user how the catalog they pulled was proven, and
// on first use how to check the key. With quiet it says only what was taken
// on trust.
func reportAccepted(w io.Writer, quiet bool, src string, t target, acc sync.Accepted) {
	if quiet && acc.Proof >= sync.ProofKnownKey {
		return
	}
	switch acc.Proof {
	case sync.ProofPassphrase:
		fmt.Fprintf(w, "s3seal: the catalog is signed by the passphrase's key %s (generation %d)\n", acc.Fingerprint, acc.Generation)
	case sync.ProofFingerprint:
		fmt.Fprintf(w, "s3seal: the catalog is signed by %s, as --fingerprint requires (generation %d)\n", acc.Fingerprint, acc.Generation)
	case sync.ProofKnownKey:
		fmt.Fprintf(w, "s3seal: the catalog is signed by %s, the key this machine knows (generation %d)\n", acc.Fingerprint, acc.Generation)
	case sync.ProofFirstUse:
		fmt.Fprintf(w, "s3seal: the catalog is signed by %s, a key this machine had not seen for %s\n", acc.Fingerprint, t)
		fmt.Fprintf(w, "s3seal: check it: 's3seal target info %s %s' on the machine that backs up must print the same fingerprint;\n", src, t)
		fmt.Fprintf(w, "s3seal: until then the catalog is taken on trust; next time pass --fingerprint %s\n", acc.Fingerprint)
	case sync.ProofNone:
		fmt.Fprintf(w, "s3seal: warning: the catalog is unsigned and was taken on trust (--allow-unsigned)\n")
	}
}
