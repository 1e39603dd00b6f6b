package cipher

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"golang.org/x/crypto/ssh"
)

const (
	keyFileSizeLimit = 16 << 20 // bytes, as the age CLI
	lineLengthLimit  = 8 << 10  // bytes per recipient line, as the age CLI and sshd
)

// ErrEncryptedIdentityFile is wrapped by [ParseIdentityFile] when the file is
// itself an age-encrypted file (for example a passphrase-sealed identity,
// see [OpenSealedIdentity]) rather than a plain identity file.
var ErrEncryptedIdentityFile = errors.New("identity file is age-encrypted")

// ParseRecipients returns the recipients named by -r values and -R files.
//
// Each value is one recipient: "age1..." (X25519), "age1pq1..." (hybrid
// post-quantum), or an "ssh-ed25519 ..." / "ssh-rsa ..." public key. Each
// file uses the `age -R` recipients-file format: one recipient per line,
// lines starting with '#' and blank lines ignored; surrounding whitespace on
// a line is ignored too.
//
// Errors say which value (by position) or which file and line failed, and
// never echo the text itself, since a misplaced secret key must not end up
// in a log. Parsing fails when there is no recipient at all, and when
// post-quantum and classic recipients are mixed (age refuses to encrypt to
// such a set).
func ParseRecipients(values []string, files []string) ([]age.Recipient, error) {
	var recipients []age.Recipient
	for i, value := range values {
		r, err := parseRecipient(value)
		if err != nil {
			return nil, fmt.Errorf("parse recipient #%d given with -r: %w", i+1, err)
		}
		recipients = append(recipients, r)
	}
	for _, path := range files {
		fromFile, err := parseRecipientsFile(path)
		if err != nil {
			return nil, err
		}
		recipients = append(recipients, fromFile...)
	}
	if len(recipients) == 0 {
		return nil, errors.New("parse recipients: no recipients given")
	}
	if err := checkNotMixed(recipients); err != nil {
		return nil, err
	}
	return recipients, nil
}

// parseRecipient parses one recipient string. Its errors describe the
// expected form, never the input.
func parseRecipient(text string) (age.Recipient, error) {
	switch {
	case strings.HasPrefix(text, "AGE-SECRET-KEY-"), strings.HasPrefix(text, "AGE-PLUGIN-"):
		return nil, errors.New("this looks like an identity (a secret key), not a recipient; give its public key (age-keygen -y prints it)")
	case strings.HasPrefix(text, "age1pq1"):
		if r, err := age.ParseHybridRecipient(text); err == nil {
			return r, nil
		}
		return nil, errors.New("malformed post-quantum recipient (age1pq1...)")
	case strings.HasPrefix(text, "age1tag1"), strings.HasPrefix(text, "age1tagpq1"):
		// Not "age1tag" alone: an X25519 recipient's Bech32 data may begin
		// with "tag", but never holds a "1".
		return nil, errors.New("tagged recipients (age1tag1..., age1tagpq1...) are not supported")
	case strings.HasPrefix(text, "age1") && strings.Count(text, "1") > 1:
		if r, err := age.ParseX25519Recipient(text); err == nil {
			return r, nil // a "1" inside the Bech32 data is legal
		}
		return nil, errors.New("malformed recipient, or a plugin recipient (age1<plugin>1...), which is not supported")
	case strings.HasPrefix(text, "age1"):
		if r, err := age.ParseX25519Recipient(text); err == nil {
			return r, nil
		}
		return nil, errors.New("malformed X25519 recipient (age1...)")
	case strings.HasPrefix(text, "ssh-"), strings.HasPrefix(text, "ecdsa-"), strings.HasPrefix(text, "sk-"):
		return parseSSHRecipient(text)
	}
	return nil, errors.New("unknown recipient type (want age1..., age1pq1..., ssh-ed25519 or ssh-rsa)")
}

// parseSSHRecipient parses an authorized_keys-style public key line.
func parseSSHRecipient(text string) (age.Recipient, error) {
	pubKey, _, _, _, err := ssh.ParseAuthorizedKey([]byte(text))
	if err != nil {
		return nil, errors.New("malformed ssh public key")
	}
	if t := pubKey.Type(); t != ssh.KeyAlgoED25519 && t != ssh.KeyAlgoRSA {
		return nil, fmt.Errorf("unsupported ssh key type %q (want ssh-ed25519 or ssh-rsa)", t)
	}
	r, err := agessh.ParseRecipient(text)
	if err != nil {
		return nil, fmt.Errorf("unusable %s public key (RSA keys need at least 2048 bits)", pubKey.Type())
	}
	return r, nil
}

// parseRecipientsFile reads one -R file.
func parseRecipientsFile(path string) ([]age.Recipient, error) {
	content, err := readKeyFile(path)
	if err != nil {
		return nil, fmt.Errorf("read recipients file %s: %w", path, err)
	}
	var recipients []age.Recipient
	err = forEachLine(content, func(lineNo int, line string) error {
		r, err := parseRecipient(line)
		if err != nil {
			return err
		}
		recipients = append(recipients, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("parse recipients file %s: %w", path, err)
	}
	if len(recipients) == 0 {
		return nil, fmt.Errorf("parse recipients file %s: no recipients found", path)
	}
	return recipients, nil
}

// checkNotMixed refuses a set of recipients that mixes post-quantum and
// classic ones, before any file is encrypted.
func checkNotMixed(recipients []age.Recipient) error {
	var postQuantum, classic int
	for _, r := range recipients {
		if _, ok := r.(*age.HybridRecipient); ok {
			postQuantum++
		} else {
			classic++
		}
	}
	if postQuantum > 0 && classic > 0 {
		return fmt.Errorf("parse recipients: %d post-quantum (age1pq1...) and %d classic recipients can't be mixed; age refuses to encrypt to both, since the classic ones would defeat the post-quantum protection", postQuantum, classic)
	}
	return nil
}

// ParseIdentityFile reads an identity file as `age -i` does: age identity
// lines (AGE-SECRET-KEY-1..., AGE-SECRET-KEY-PQ-1...; '#' comments and blank
// lines ignored) or one unencrypted OpenSSH / PEM private key (ssh-ed25519 or
// ssh-rsa). An age-encrypted file yields an error wrapping
// [ErrEncryptedIdentityFile]; passphrase-protected SSH keys and plugin
// identities are not supported. Errors name the path and line but never
// include file content.
func ParseIdentityFile(path string) ([]age.Identity, error) {
	content, err := readKeyFile(path)
	if err != nil {
		return nil, fmt.Errorf("read identity file %s: %w", path, err)
	}
	ids, err := parseIdentities(content)
	if err != nil {
		return nil, fmt.Errorf("parse identity file %s: %w", path, err)
	}
	return ids, nil
}

// parseIdentities parses the content of an identity file.
func parseIdentities(content []byte) ([]age.Identity, error) {
	trimmed := bytes.TrimSpace(content)
	switch {
	case bytes.HasPrefix(content, []byte("age-encryption.org/")),
		bytes.HasPrefix(trimmed, []byte("-----BEGIN AGE ENCRYPTED FILE-----")):
		return nil, ErrEncryptedIdentityFile
	case bytes.HasPrefix(trimmed, []byte("-----BEGIN")):
		return parseSSHIdentity(content)
	}
	var ids []age.Identity
	err := forEachLine(content, func(lineNo int, line string) error {
		id, err := parseIdentityLine(line)
		if err != nil {
			return err
		}
		ids = append(ids, id)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, errors.New("no identities found")
	}
	return ids, nil
}

// parseIdentityLine parses one age identity. Its errors never include the
// line, which is probably a secret.
func parseIdentityLine(line string) (age.Identity, error) {
	switch {
	case strings.HasPrefix(line, "AGE-SECRET-KEY-PQ-1"):
		if id, err := age.ParseHybridIdentity(line); err == nil {
			return id, nil
		}
		return nil, errors.New("malformed post-quantum identity (AGE-SECRET-KEY-PQ-1...)")
	case strings.HasPrefix(line, "AGE-SECRET-KEY-1"):
		if id, err := age.ParseX25519Identity(line); err == nil {
			return id, nil
		}
		return nil, errors.New("malformed X25519 identity (AGE-SECRET-KEY-1...)")
	case strings.HasPrefix(line, "AGE-PLUGIN-"):
		return nil, errors.New("plugin identities are not supported")
	case strings.HasPrefix(line, "age1"), strings.HasPrefix(line, "ssh-"):
		return nil, errors.New("this looks like a recipient (a public key), not an identity")
	}
	return nil, errors.New("unknown identity type (want AGE-SECRET-KEY-1... or AGE-SECRET-KEY-PQ-1...)")
}

// parseSSHIdentity parses a PEM-encoded SSH private key.
func parseSSHIdentity(pemBytes []byte) ([]age.Identity, error) {
	id, err := agessh.ParseIdentity(pemBytes)
	var missing *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &missing):
		return nil, errors.New("passphrase-protected ssh keys are not supported; remove the passphrase from a copy (ssh-keygen -p) or use an age identity")
	case err != nil:
		// ssh's parse errors describe the format (PEM type, key type), not
		// key material.
		return nil, fmt.Errorf("malformed ssh private key: %w", err)
	}
	return []age.Identity{id}, nil
}

// readKeyFile reads a recipients or identity file of at most
// keyFileSizeLimit bytes.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	content, err := io.ReadAll(io.LimitReader(f, keyFileSizeLimit+1))
	if err != nil {
		return nil, err
	}
	if len(content) > keyFileSizeLimit {
		return nil, fmt.Errorf("larger than %d bytes", keyFileSizeLimit)
	}
	return content, nil
}

// forEachLine calls parse for every line of content that is not blank and
// not a '#' comment, with surrounding whitespace removed. Errors are
// prefixed with the 1-based line number.
func forEachLine(content []byte, parse func(lineNo int, line string) error) error {
	scanner := bufio.NewScanner(bytes.NewReader(content))
	scanner.Buffer(nil, keyFileSizeLimit)
	lineNo := 0
	for scanner.Scan() {
		lineNo++
		line := strings.TrimSpace(scanner.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !utf8.ValidString(line) {
			return fmt.Errorf("line %d: not valid UTF-8", lineNo)
		}
		if len(line) > lineLengthLimit {
			return fmt.Errorf("line %d: longer than %d bytes", lineNo, lineLengthLimit)
		}
		if err := parse(lineNo, line); err != nil {
			return fmt.Errorf("line %d: %w", lineNo, err)
		}
	}
	return scanner.Err()
}
