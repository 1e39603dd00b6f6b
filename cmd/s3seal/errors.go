package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/s3seal/s3seal/catalog"
	"github.com/s3seal/s3seal/cipher"
	"github.com/s3seal/s3seal/sync"
	"github.com/s3seal/s3seal/sync/s3store"
)

// exitStatus is an error that carries an exit code and has already been
// reported (a partial sync, an audit that found differences).
type exitStatus struct{ code int }

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// usageError marks bad command-line input.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// hintError adds hints to an error for the user.
type hintError struct {
	err   error
	hints []string
}

func (e hintError) Error() string { return e.err.Error() }
func (e hintError) Unwrap() error { return e.err }

func withHint(err error, hints ...string) error { return hintError{err, hints} }

// exitCode maps the outcome of a command to the process exit code.
func exitCode(ctx context.Context, err error) int {
	var st exitStatus
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &st):
		return st.code
	case ctx.Err() != nil || errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.As(err, &ue), isCobraUsage(err):
		return exitUsage
	}
	return exitError
}

// isCobraUsage recognises cobra's own flag and argument errors.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown flag", "unknown shorthand", "unknown command", "flag needs an argument",
		"invalid argument", "accepts ", "requires at least", "requires exactly", "required flag"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// printError writes err as "s3seal: error: ..." followed by hint lines,
// with the words typed after a secret switch left out (redactSecretArgs);
// with verbose, also the full chain of the S3 client's error ("detail").
func printError(w io.Writer, ctx context.Context, err error, verbose bool) {
	if ctx.Err() != nil {
		fmt.Fprintln(w, "s3seal: interrupted; finished work was recorded, the next run continues")
		return
	}
	fmt.Fprintf(w, "s3seal: error: %s\n", redactSecretArgs(err.Error(), os.Args[1:]))
	var detailed interface{ Detail() string }
	if verbose && errors.As(err, &detailed) && detailed.Detail() != "" {
		fmt.Fprintf(w, "s3seal: detail: %s\n", redactSecretArgs(detailed.Detail(), os.Args[1:]))
	}
	for _, h := range hintsFor(err) {
		fmt.Fprintf(w, "s3seal: hint: %s\n", redactSecretArgs(h, os.Args[1:]))
	}
}

// hintsFor returns what the user can do about err.
func hintsFor(err error) []string {
	var he hintError
	if errors.As(err, &he) {
		return he.hints
	}
	var ue usageError
	switch {
	case errors.As(err, &ue), isCobraUsage(err):
		return []string{"run 's3seal help' or add --help to the command for usage and examples"}
	case errors.Is(err, sync.ErrNoSuchBucket):
		return []string{"check the bucket name and --region, or pass -c/--create-bucket to create it"}
	case errors.Is(err, sync.ErrBadCredentials):
		return []string{"set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, name a profile with --profile, or pass -a with -s (a prompt); check that the key and secret belong together"}
	case errors.Is(err, sync.ErrAccessDenied):
		return []string{"the credentials work but lack permission on this bucket or prefix; check the bucket policy and the credential's own",
			"'s3seal policy s3://BUCKET/PREFIX' prints what the machine that backs up needs; one printed with --no-delete does not allow sync --delete"}
	case errors.Is(err, s3store.ErrInsecureEndpoint):
		return []string{"use an https:// endpoint; plain http is accepted without asking only to 127.0.0.1, ::1 and localhost",
			"if you trust every network between this machine and the server, pass --allow-http"}
	case errors.Is(err, sync.ErrUnreachable):
		return []string{"check --endpoint, the network, and that the S3 server is running"}
	case errors.Is(err, catalog.ErrLocked):
		return []string{"another s3seal run uses this catalog; wait for it to finish (a killed run releases the lock by itself)"}
	case errors.Is(err, catalog.ErrCorrupt):
		return []string{"the catalog file was not changed; move it aside and run 's3seal catalog pull' to fetch the mirrored copy"}
	case errors.Is(err, cipher.ErrWrongIdentity):
		return []string{"pass the identity file (-i) whose recipient the files were encrypted to"}
	case errors.Is(err, cipher.ErrWrongPassphrase):
		return []string{"use the passphrase the target was first synced with"}
	case errors.Is(err, sync.ErrNamingMismatch):
		return []string{"a target keeps the naming it was created with; drop the flag, or sync to a new prefix"}
	case errors.Is(err, sync.ErrOtherTarget):
		return []string{"pass a different --catalog for this target"}
	case errors.Is(err, sync.ErrUnsigned):
		return []string{"if the target was last synced by an older s3seal, sync once from the machine that backs up: it signs the mirror from then on",
			"if this machine knew the key, someone replaced the mirror: do not use it; --allow-unsigned takes an unsigned catalog on trust otherwise"}
	case errors.Is(err, sync.ErrOtherSigner), errors.Is(err, cipher.ErrBadSignature):
		return []string{"this catalog may not come from the machine that backs up: do not use it",
			"compare with 's3seal target info SRC TARGET' on that machine; nothing was changed here"}
	case errors.Is(err, sync.ErrOlderGeneration):
		return []string{"the mirror was put back to an older copy; sync from the machine that backs up to push the current one"}
	case errors.Is(err, sync.ErrNamingChanged):
		return []string{"a pulled catalog never changes a target's object naming; if that is intended, pull into a new catalog with --catalog FILE"}
	case errors.Is(err, sync.ErrUnprovenPlain):
		return []string{"pass --fingerprint with what 's3seal target info SRC TARGET' prints on the machine that backs up",
			"or, if you created the target with --plain-names, add --allow-plain-names"}
	case errors.Is(err, sync.ErrNoMirror):
		return []string{"the target was synced with --no-mirror or never synced; pass --catalog with a local or imported catalog"}
	case errors.Is(err, fs.ErrNotExist):
		return []string{"check the path"}
	}
	return nil
}
