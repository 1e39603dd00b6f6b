package main

import (
	"regexp"
	"strconv"
	"strings"
)

// identityPlaceholder stands for the identity file in a printed command when
// the run that prints it has none (sync encrypts to public recipients only).
const identityPlaceholder = "IDENTITY_FILE"

// fingerprintPlaceholder stands for the target's signing key fingerprint in
// a printed pull command in recipient mode: only the machine that backs up
// knows it, and a pull that names it proves the catalog is that machine's.
const fingerprintPlaceholder = "FINGERPRINT"

// commandLine formats a command for a hint so that it runs as printed in a
// POSIX shell: each argument that holds anything but safe characters is
// single-quoted.
func commandLine(args ...string) string {
	quoted := make([]string, len(args))
	for i, arg := range args {
		quoted[i] = shellQuote(arg)
	}
	return strings.Join(quoted, " ")
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

func shellQuote(arg string) string {
	if shellSafe.MatchString(arg) {
		return arg
	}
	return "'" + strings.ReplaceAll(arg, "'", `'\''`) + "'"
}

// args returns the flags that make another command reach the bucket as
// this one does. Secrets are never among them: a secret key comes again
// from the prompt (-s) or its file.
func (o *s3Options) args() []string {
	var args []string
	add := func(flag, value string) {
		if value != "" {
			args = append(args, flag, value)
		}
	}
	add("--endpoint", o.endpoint)
	add("--region", o.region)
	add("--profile", o.profile)
	add("--access-key", o.accessKey)
	if o.secretKey == secretPrompt {
		args = append(args, "-s")
	}
	add("--secret-key-file", o.secretKeyFile)
	if o.allowHTTP {
		args = append(args, "--allow-http")
	}
	if o.maxAttempts != 10 {
		args = append(args, "--max-attempts", strconv.Itoa(o.maxAttempts))
	}
	return args
}

// decryptArgs returns the flags that give another command the keys to
// decrypt with: passphrase mode as this run has it, the identity files this
// run was given, or identityPlaceholder.
func (o *keyOptions) decryptArgs() []string {
	if o.passphraseMode() {
		if o.passphraseFile != "" {
			return []string{"--passphrase-file", o.passphraseFile}
		}
		return []string{"-S"}
	}
	if len(o.identityFiles) == 0 {
		return []string{"-i", identityPlaceholder}
	}
	var args []string
	for _, path := range o.identityFiles {
		args = append(args, "-i", path)
	}
	return args
}

// pullHints are the hints that tell the user to pull the target's catalog
// mirror into the catalog for source (an absolute path) first: the command
// to run, complete, and what to put for a placeholder in it.
func pullHints(why string, source string, t target, s3 *s3Options, keys *keyOptions, catalogPath string) []string {
	args := append([]string{"s3seal", "catalog", "pull", source, t.String()}, s3.args()...)
	args = append(args, keys.decryptArgs()...)
	if catalogPath != "" {
		args = append(args, "--catalog", catalogPath)
	}
	if !keys.passphraseMode() {
		args = append(args, "--fingerprint", fingerprintPlaceholder)
	}
	hints := []string{"run 's3seal catalog pull' first, " + why + ":", "  " + commandLine(args...)}
	if !keys.passphraseMode() && len(keys.identityFiles) == 0 {
		hints = append(hints, "with "+identityPlaceholder+" the file holding the identity (secret key) of one of the target's recipients")
	}
	if !keys.passphraseMode() {
		hints = append(hints, "and "+fingerprintPlaceholder+" the signing key 's3seal target info SRC "+t.String()+"' prints on the machine that has backed up so far (without --fingerprint the catalog is taken on trust)")
	}
	return hints
}
