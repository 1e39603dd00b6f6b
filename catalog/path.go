package catalog

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// maxSlug bounds the readable part of a default catalog name.
const maxSlug = 64

// DefaultPath returns the default catalog path for backing up the directory
// absSource (which must be absolute; it is cleaned) to target, for example
// "s3://bucket/prefix":
//
//	$XDG_DATA_HOME/s3seal/catalogs/<slug>-<hash>.db
//
// XDG_DATA_HOME defaults to ~/.local/share and is ignored unless absolute.
// <slug> is a readable form of target (letters, digits, '.', '_' and '-',
// at most 64 bytes) and <hash> is the first 16 hex digits of
// SHA-256(absSource + "\x00" + target), so different pairs never share a
// catalog and the same pair always finds its own.
func DefaultPath(absSource, target string) (string, error) {
	if !filepath.IsAbs(absSource) {
		return "", fmt.Errorf("default catalog path: source %q is not absolute", absSource)
	}
	absSource = filepath.Clean(absSource)
	dataDir, err := DataDir()
	if err != nil {
		return "", fmt.Errorf("default catalog path: %w", err)
	}
	sum := sha256.Sum256([]byte(absSource + "\x00" + target))
	name := slug(target) + "-" + hex.EncodeToString(sum[:])[:16] + ".db"
	return filepath.Join(dataDir, "catalogs", name), nil
}

// DefaultPathsFor returns the catalogs in the default folder (see
// DefaultPath) whose name could belong to target, whatever their source.
// Some may belong to another target with the same slug: check the catalog's
// own "target" setting. Slugs hold no glob metacharacters.
func DefaultPathsFor(target string) ([]string, error) {
	dataDir, err := DataDir()
	if err != nil {
		return nil, fmt.Errorf("default catalogs of %s: %w", target, err)
	}
	paths, err := filepath.Glob(filepath.Join(dataDir, "catalogs", slug(target)+"-????????????????.db"))
	if err != nil {
		return nil, fmt.Errorf("default catalogs of %s: %w", target, err)
	}
	return paths, nil
}

// DataDir returns s3seal's data directory, $XDG_DATA_HOME/s3seal, where
// XDG_DATA_HOME defaults to ~/.local/share and is ignored unless absolute.
// It holds the default catalogs (DefaultPath) and the temporary plaintext of
// commands that have no catalog of their own. It does not create it.
func DataDir() (string, error) {
	dataHome := os.Getenv("XDG_DATA_HOME")
	if !filepath.IsAbs(dataHome) {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find the data directory: %w", err)
		}
		dataHome = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(dataHome, "s3seal"), nil
}

// slug turns target into a file-name-safe, readable string: the scheme is
// dropped and every run of other bytes becomes one '-'.
func slug(target string) string {
	if _, rest, ok := strings.Cut(target, "://"); ok {
		target = rest
	}
	var b strings.Builder
	dash := false
	for i := 0; i < len(target) && b.Len() < maxSlug; i++ {
		c := target[i]
		if c == '.' || c == '_' || c == '-' ||
			('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') {
			b.WriteByte(c)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.Trim(b.String(), "-.")
	if s == "" {
		return "catalog"
	}
	return s
}
