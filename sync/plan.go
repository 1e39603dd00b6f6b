package sync

import (
	"github.com/s3seal/s3seal/catalog"
)

// Action is what a sync does with one file.
type Action int

const (
	// Skip: the file, its catalog row and its object agree.
	Skip Action = iota
	// Hash: the stat changed (or --checksum); hash the file and decide again.
	Hash
	// Record: the content is unchanged and the object intact, but the stat
	// changed; refresh the catalog row without uploading.
	Record
	// Upload: encrypt and upload the file.
	Upload
)

func (a Action) String() string {
	switch a {
	case Skip:
		return "skip"
	case Hash:
		return "hash"
	case Record:
		return "record"
	case Upload:
		return "upload"
	}
	return "unknown"
}

// Remote is what the listing says about an object.
type Remote struct {
	ETag string
	Size int64
}

// Decision is an Action and why.
type Decision struct {
	Action Action
	Reason string // new, changed, remote-missing, remote-changed, key-changed, stat-changed, checksum, unchanged
}

// Input is everything Decide looks at for one file.
type Input struct {
	Local     Entry
	Row       *catalog.File // nil when the catalog has never seen the path
	Remote    *Remote       // the listed object at ObjectKey, nil when there is none
	ObjectKey string        // the key the file's object has under the current naming
	PlainMD5  *[16]byte     // the file's hash, once computed; nil before
	// PlainSHA256 is the file's SHA-256, computed with PlainMD5; it catches
	// a file swapped for its MD5-collision twin when the row has one too.
	PlainSHA256 *[32]byte
	Checksum    bool // --checksum: never trust the stat
}

// Decide returns what to do with one file. It is a pure function: the
// content is judged by plaintext hashes only (MD5, and SHA-256 where both
// sides have it; timestamps alone never cause an upload), and the remote by
// ETag only.
func Decide(in Input) Decision {
	row := in.Row
	if row == nil {
		return Decision{Upload, "new"}
	}
	statSame := in.Local.sameStat(rowEntry(row))
	if in.PlainMD5 == nil && in.Local.Size != row.Size {
		return Decision{Upload, "changed"}
	}
	if in.PlainMD5 == nil {
		if in.Checksum {
			return Decision{Hash, "checksum"}
		}
		if !statSame {
			return Decision{Hash, "stat-changed"}
		}
	} else if *in.PlainMD5 != row.PlainMD5 || in.PlainSHA256 != nil && row.HasSHA256 && *in.PlainSHA256 != row.PlainSHA256 {
		return Decision{Upload, "changed"}
	}
	switch {
	case row.ObjectKey != in.ObjectKey:
		return Decision{Upload, "key-changed"}
	case in.Remote == nil:
		return Decision{Upload, "remote-missing"}
	case in.Remote.ETag != row.ETag || in.Remote.Size != row.CipherSize:
		return Decision{Upload, "remote-changed"}
	case !statSame:
		return Decision{Record, "touched"}
	}
	return Decision{Skip, "unchanged"}
}

// rowEntry returns the stat a catalog row was recorded with.
func rowEntry(f *catalog.File) Entry {
	return Entry{
		Path:       f.Path,
		Size:       f.Size,
		ModTime:    f.ModTime,
		ChangeTime: f.ChangeTime,
		Inode:      f.Inode,
		Device:     f.Device,
	}
}
