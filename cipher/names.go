package cipher

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"strings"
)

// NameKeySize is the size in bytes of a per-target name key.
const NameKeySize = 32

// hiddenNameBytes is how much of the HMAC a hidden name keeps: 160 bits,
// which encode to exactly 32 base32 characters.
const hiddenNameBytes = 20

// hiddenFolderChars is how many leading characters of a hidden name form its
// folder: two base32 characters, 1,024 folders.
const hiddenFolderChars = 2

// metaDir is the directory, under the prefix, of s3seal's own objects.
const metaDir = ".s3seal"

var hiddenNameEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Naming maps a relative slash-separated path to an object key under a
// prefix. Plain: PREFIX + "/" + path (no leading slash when PREFIX is "").
// Hidden: PREFIX + "/" + a fixed-length opaque name, the lowercase base32 (no
// padding) of HMAC-SHA256(Key, path) truncated to 20 bytes (32 characters),
// so nothing of the name, extension, depth or length is visible. The first
// two characters form a folder ("ab/cdef..."): 1,024 folders, one level,
// the same for every file. Stores that keep objects in a file system (MinIO,
// versitygw and others) read a whole folder for each page of a listing, so a
// flat prefix of n objects costs them O(n²) to list; fanned out it stays
// O(n). The folder reveals nothing: it is part of the HMAC. The prefix is
// used as given: pass it without a trailing slash.
type Naming struct {
	Hidden bool
	Key    []byte // NameKeySize random bytes when Hidden; the per-target name key
}

// NewNameKey returns NameKeySize bytes from crypto/rand for a new target.
func NewNameKey() ([]byte, error) {
	key := make([]byte, NameKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("new name key: %w", err)
	}
	return key, nil
}

// ObjectKey returns the object key of relPath under prefix. The same Naming,
// prefix and relPath always give the same key. With Hidden set, Key must be
// NameKeySize bytes; ObjectKey panics otherwise, because an empty or short
// key would silently produce guessable names.
func (n Naming) ObjectKey(prefix, relPath string) string {
	if !n.Hidden {
		return joinKey(prefix, relPath)
	}
	if len(n.Key) != NameKeySize {
		panic(fmt.Sprintf("cipher: hidden Naming needs a %d-byte key, have %d bytes", NameKeySize, len(n.Key)))
	}
	mac := hmac.New(sha256.New, n.Key)
	mac.Write([]byte(relPath))
	name := hiddenNameEncoding.EncodeToString(mac.Sum(nil)[:hiddenNameBytes])
	return joinKey(prefix, name[:hiddenFolderChars]+"/"+name[hiddenFolderChars:])
}

// MetaKey returns the key of an internal object (for example "catalog.age",
// "key.age"): PREFIX + "/.s3seal/" + name. Internal objects live under
// ".s3seal/" so they never collide with file objects: plain names of files
// inside a top-level ".s3seal" directory are refused by the caller, and
// hidden names never start with ".".
func MetaKey(prefix, name string) string {
	return joinKey(prefix, metaDir+"/"+name)
}

// IsMetaPath reports whether relPath lies in the top-level ".s3seal"
// directory, whose plain object keys would collide with [MetaKey] keys.
func IsMetaPath(relPath string) bool {
	return relPath == metaDir || strings.HasPrefix(relPath, metaDir+"/")
}

// joinKey joins prefix and name with "/", or returns name when prefix is "".
func joinKey(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "/" + name
}
