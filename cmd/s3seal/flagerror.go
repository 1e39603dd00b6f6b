package main

import (
	"errors"
	"os"
	"strings"

	"github.com/spf13/pflag"
)

// noValueSecretFlags are the passphrase-mode flags. They take no value, so
// a value given to one (--passphrase=VALUE, -S=VALUE) is most likely the
// passphrase itself, and is never printed.
var noValueSecretFlags = map[string]bool{"symmetric": true, "passphrase": true}

// passphraseHint says where a passphrase comes from.
const passphraseHint = "write -S or --passphrase alone: the passphrase comes from a prompt, from S3SEAL_PASSPHRASE, or from the first line of --passphrase-file FILE"

// flagError turns a flag parsing error into a usage error whose text holds
// no value that may be a secret: pflag quotes the value of a flag it
// refuses, and the whole group of an unknown short flag ("-Sxyz").
func flagError(err error) error {
	var invalid *pflag.InvalidValueError
	if errors.As(err, &invalid) && invalid.GetFlag() != nil && noValueSecretFlags[invalid.GetFlag().Name] {
		name := "--" + invalid.GetFlag().Name
		if sh := invalid.GetFlag().Shorthand; sh != "" {
			name = "-" + sh + "/" + name
		}
		return withHint(usagef("%s takes no value (the value given is not printed: it may be a passphrase)", name), passphraseHint)
	}
	var unknown *pflag.NotExistError
	if errors.As(err, &unknown) {
		if group, ok := shortGroup(os.Args[1:], unknown.GetSpecifiedShortnames()); ok && strings.ContainsAny(group, "Ss") {
			return unknownInSecretGroup(group)
		}
	}
	return usageError{err}
}

// secretKeyHint says where the secret access key comes from.
const secretKeyHint = "write -s alone to be prompted for the secret access key, or use --secret-key-file FILE or AWS_SECRET_ACCESS_KEY"

// unknownInSecretGroup is the error for an unknown flag in a group of short
// flags with -S or -s, neither of which takes a value: the rest of the group
// may be a secret typed as one ("-Shunter2", "-sSECRET").
func unknownInSecretGroup(group string) error {
	var hints []string
	if strings.Contains(group, "S") {
		hints = append(hints, passphraseHint)
	}
	if strings.Contains(group, "s") {
		hints = append(hints, secretKeyHint)
	}
	return withHint(usagef("unknown short flag in a group of short flags with -S or -s (the group is not printed: it may hold a secret)"), hints...)
}

// shortGroup returns the argument of args, a group of short flags such as
// "-vSq", that ends with rest, what pflag had left to parse of it when it
// met an unknown flag.
func shortGroup(args []string, rest string) (string, bool) {
	for _, arg := range args {
		if arg == "--" {
			break
		}
		if strings.HasPrefix(arg, "-") && !strings.HasPrefix(arg, "--") && strings.HasSuffix(arg, rest) {
			return arg, true
		}
	}
	return "", false
}

// secretSwitches are the flags that take no value but stand for a secret:
// a word typed after one ("-S hunter2") is most likely that secret, which
// the parser takes for an argument (a target, say) and an error may quote.
var secretSwitches = map[string]bool{"-S": true, "--symmetric": true, "--passphrase": true, "-s": true, "--secret-key": true}

// redactSecretArgs replaces in msg each word of args that directly follows
// a secret switch, unless it is a flag or an s3:// target.
func redactSecretArgs(msg string, args []string) string {
	for i := 1; i < len(args); i++ {
		word := args[i]
		if args[i-1] == "--" {
			break
		}
		if secretSwitches[args[i-1]] && word != "" && !strings.HasPrefix(word, "-") && !strings.HasPrefix(word, "s3://") {
			msg = strings.ReplaceAll(msg, word, "[the word after "+args[i-1]+", not printed]")
		}
	}
	return msg
}
