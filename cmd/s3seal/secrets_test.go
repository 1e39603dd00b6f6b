package main

import (
	"io"
	"os"
	"strings"
	"testing"
)

// TestPassphraseFlagValueNotEchoed gives a value to the passphrase flags,
// which take none, in every form a user may type: the run is refused as a
// usage error that says where a passphrase comes from, and the value is
// printed nowhere. A value given to -s/--secret-key is refused unprinted
// too.
func TestPassphraseFlagValueNotEchoed(t *testing.T) {
	e := newEnv(t)
	const secret = "Tr0ub4dor-zq"
	commands := map[string][]string{
		"sync":         {"sync", e.src, e.target, "--endpoint", e.srv.Endpoint},
		"restore":      {"restore", e.target, t.TempDir(), "--endpoint", e.srv.Endpoint},
		"catalog pull": {"catalog", "pull", e.src, e.target, "--endpoint", e.srv.Endpoint},
	}
	flags := []struct {
		arg  string
		want string // in the error
	}{
		{"--passphrase=" + secret, "--passphrase takes no value"},
		{"--symmetric=" + secret, "-S/--symmetric takes no value"},
		{"-S=" + secret, "-S/--symmetric takes no value"},
		{"-Sz" + secret, "unknown short flag in a group of short flags with -S or -s"},
		{"-qSz" + secret, "unknown short flag in a group of short flags with -S or -s"},
		{"--secret-key=" + secret, "the secret key is not accepted on the command line"},
		{"-s=" + secret, "the secret key is not accepted on the command line"},
		{"-s" + secret, "unknown short flag in a group of short flags with -S or -s"},
	}
	// A word typed after a switch is an argument to the parser, here the
	// target of a named sync; the error about it must not quote it.
	res := e.run("sync", "photos", "-S", secret)
	if out := res.stdout + res.stderr; strings.Contains(out, secret) || res.code != exitUsage {
		t.Errorf("sync photos -S %s: exit %d; want 2 and the word not printed:\n%s", secret, res.code, out)
	}
	for name, args := range commands {
		for _, flag := range flags {
			res := e.run(append(args, flag.arg)...)
			out := res.stdout + res.stderr
			if strings.Contains(out, secret) || strings.Contains(out, strings.TrimPrefix(secret, "z")) {
				t.Errorf("%s %s: the value is printed:\n%s", name, flag.arg, out)
			}
			if res.code != exitUsage || !strings.Contains(res.stderr, flag.want) {
				t.Errorf("%s %s: exit %d; want 2 and %q\n%s", name, flag.arg, res.code, flag.want, out)
			}
			if (strings.Contains(flag.arg, "S") || strings.Contains(flag.want, "takes no value")) && !strings.Contains(res.stderr, "S3SEAL_PASSPHRASE") {
				t.Errorf("%s %s: the hint does not say where a passphrase comes from:\n%s", name, flag.arg, res.stderr)
			}
		}
	}
}

// TestPromptFailsWithoutNoEcho gives the prompt a file that cannot hide
// what is typed (a pipe, not a terminal): it must fail, saying how else to
// give the secret, rather than read the line with echo on.
func TestPromptFailsWithoutNoEcho(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := w.WriteString("typed-secret\n"); err != nil {
		t.Fatal(err)
	}
	w.Close()
	var shown strings.Builder
	got, err := readNoEcho(r, &shown, "Passphrase: ")
	if err == nil || got != "" {
		t.Fatalf("readNoEcho on a pipe = %q, %v; want an error and no secret", got, err)
	}
	if !strings.Contains(err.Error(), "cannot turn off echo") {
		t.Errorf("readNoEcho on a pipe: error %q does not say echo cannot be turned off", err)
	}
	if rest, _ := io.ReadAll(r); string(rest) != "typed-secret\n" {
		t.Errorf("readNoEcho on a pipe read %q of the typed line before failing; want nothing read", strings.TrimPrefix("typed-secret\n", string(rest)))
	}
	if shown.String() != "Passphrase: \n" {
		t.Errorf("readNoEcho on a pipe showed %q; want the prompt only", shown.String())
	}
}
