package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/s3seal/s3seal/sync"
	"github.com/s3seal/s3seal/sync/s3store"
)

// target is a parsed s3://bucket/prefix.
type target struct {
	Bucket string
	Prefix string // without leading or trailing "/"
}

func (t target) String() string {
	if t.Prefix == "" {
		return "s3://" + t.Bucket
	}
	return "s3://" + t.Bucket + "/" + t.Prefix
}

// parseTarget parses "s3://bucket[/prefix]".
func parseTarget(s string) (target, error) {
	rest, ok := strings.CutPrefix(s, "s3://")
	if !ok {
		return target{}, usagef("target %q is not of the form s3://BUCKET[/PREFIX]", s)
	}
	bucket, prefix, _ := strings.Cut(rest, "/")
	if bucket == "" {
		return target{}, usagef("target %q has no bucket name", s)
	}
	if !plausibleBucket(bucket) {
		return target{}, withHint(usagef("target %q: %q is not a bucket name", s, bucket),
			"bucket names are 3 to 63 characters: lowercase letters, digits, dots and hyphens")
	}
	return target{Bucket: bucket, Prefix: strings.Trim(prefix, "/")}, nil
}

// plausibleBucket refuses names no S3 store accepts, which servers answer
// with a bare "400 Bad Request". It is lenient beyond that: old AWS buckets
// and other stores allow capitals, underscores and up to 255 characters.
func plausibleBucket(name string) bool {
	if len(name) < 3 || len(name) > 255 {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// secretPrompt is the value -s takes when given alone.
const secretPrompt = "prompt"

// s3Options are the flags that say how to reach the bucket.
type s3Options struct {
	endpoint      string
	region        string
	profile       string
	accessKey     string
	secretKey     string
	secretKeyFile string
	createBucket  bool
	objectLock    bool // a bucket created gets Object Lock
	maxAttempts   int
	allowHTTP     bool
	bwlimit       rateValue // bytes per second of uploads; set by sync's --bwlimit
}

func (o *s3Options) addFlags(fs *pflag.FlagSet, create bool) {
	fs.StringVar(&o.endpoint, "endpoint", "", "S3-compatible endpoint URL (path-style addressing; plain http:// only to 127.0.0.1, ::1 or localhost unless --allow-http); default: AWS")
	fs.StringVar(&o.region, "region", "", "bucket region (default: from the profile or environment, else us-east-1)")
	fs.StringVar(&o.profile, "profile", "", "shared AWS config profile")
	fs.StringVarP(&o.accessKey, "access-key", "a", "", "access key ID (default: the AWS credential chain)")
	fs.StringVarP(&o.secretKey, "secret-key", "s", "", "alone: prompt for the secret access key (a key given here is refused: argv is public)")
	fs.Lookup("secret-key").NoOptDefVal = secretPrompt
	fs.StringVar(&o.secretKeyFile, "secret-key-file", "", "read the secret access key from `FILE`")
	fs.IntVar(&o.maxAttempts, "max-attempts", 10, "attempts per S3 request before giving up")
	fs.BoolVar(&o.allowHTTP, "allow-http", false, "allow a plain http:// endpoint to a host other than this machine (anyone on the path can read and forge the traffic)")
	if create {
		fs.BoolVarP(&o.createBucket, "create-bucket", "c", false, "create the bucket if it does not exist")
	}
}

// bucket returns the target's bucket after checking it, the first request
// of a command, so that a wrong endpoint, credential or bucket fails at
// once. A missing bucket is an error unless -c/--create-bucket is set: then
// missing is true, and the sync creates it (a dry run says it would).
func (o *s3Options) bucket(ctx context.Context, t target) (b sync.Bucket, missing bool, err error) {
	st, err := o.newStore(ctx, t, o.objectLock)
	if err != nil {
		return sync.Bucket{}, false, err
	}
	err = st.CheckBucket(ctx)
	if errors.Is(err, sync.ErrNoSuchBucket) && o.createBucket {
		return engineBucket(st), true, nil
	}
	if err != nil {
		return sync.Bucket{}, false, err
	}
	return engineBucket(st), false, nil
}

// newStore returns a client for the target's bucket, which CreateBucket
// creates with Object Lock when lock is set. It sends no request.
func (o *s3Options) newStore(ctx context.Context, t target, lock bool) (*s3store.Store, error) {
	cfg := s3store.Config{
		Bucket: t.Bucket, Endpoint: o.endpoint, Region: o.region, Profile: o.profile,
		AccessKey: o.accessKey, MaxAttempts: o.maxAttempts, BandwidthLimit: int64(o.bwlimit),
		AllowHTTP: o.allowHTTP, ObjectLock: lock, Prefix: t.Prefix,
	}
	secret, err := o.secret()
	if err != nil {
		return nil, err
	}
	cfg.SecretKey = secret
	if (cfg.AccessKey == "") != (cfg.SecretKey == "") {
		return nil, usagef("-a/--access-key and the secret key go together")
	}
	return s3store.New(ctx, cfg)
}

// store is bucket for commands that need the bucket to exist.
func (o *s3Options) store(ctx context.Context, t target) (sync.Bucket, error) {
	b, _, err := o.bucket(ctx, t) // missing only with -c, which only sync has
	return b, err
}

// engineBucket is st as the engine sees it.
func engineBucket(st *s3store.Store) sync.Bucket {
	return sync.Bucket{Name: st.Bucket(), Objects: st, Multipart: st, Copier: st, UploadLister: st, BucketCreator: st, History: st, Ranges: st, Folders: st}
}

// secret returns the secret access key from -s (a prompt) or
// --secret-key-file; a value on the command line is refused.
func (o *s3Options) secret() (string, error) {
	switch {
	case o.secretKey == secretPrompt:
		secret, err := promptSecret("Secret access key: ")
		if err != nil {
			return "", withHint(err, "set AWS_SECRET_ACCESS_KEY or use --secret-key-file FILE when no terminal can hide what you type")
		}
		return secret, nil
	case o.secretKey != "":
		return "", withHint(usagef("the secret key is not accepted on the command line, where other users of the machine can read it"),
			"set AWS_SECRET_ACCESS_KEY, use --secret-key-file FILE, or pass -s alone to be prompted")
	case o.secretKeyFile != "":
		return readSecretFile(o.secretKeyFile)
	}
	return "", nil
}

// readSecretFile returns the first line of a file.
func readSecretFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read secret: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", fmt.Errorf("read secret: %s is empty", path)
	}
	return line, nil
}

// promptSecret reads a line from the terminal without echo. It prompts only
// when standard input or standard error is a terminal, so that a run from
// cron or a script fails at once instead of waiting for an answer.
func promptSecret(prompt string) (string, error) {
	if !term.IsTerminal(int(os.Stdin.Fd())) && !term.IsTerminal(int(os.Stderr.Fd())) {
		return "", errors.New("cannot prompt: not running on a terminal")
	}
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return "", errors.New("cannot prompt: no terminal")
	}
	defer tty.Close()
	return readNoEcho(tty, tty, prompt)
}

// readNoEcho writes prompt to out and reads a line from in with echo turned
// off. When in cannot turn echo off (it is not a terminal, or refuses), it
// fails without reading anything: what the user typed would show.
func readNoEcho(in *os.File, out io.Writer, prompt string) (string, error) {
	fmt.Fprint(out, prompt)
	b, err := term.ReadPassword(int(in.Fd()))
	fmt.Fprintln(out)
	if err != nil {
		return "", fmt.Errorf("cannot prompt: cannot turn off echo on the terminal, so what you type would show: %w", err)
	}
	return string(b), nil
}

// exactArgs is cobra.ExactArgs with a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s takes %d arguments, got %d", cmd.Name(), n, len(args))
		}
		return nil
	}
}

// minArgs is cobra.MinimumNArgs with a usage error.
func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return usagef("%s takes at least %d arguments, got %d", cmd.Name(), n, len(args))
		}
		return nil
	}
}
