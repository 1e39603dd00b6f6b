package sync

import (
	"github.com/s3seal/s3seal/catalog"
)

// The plan. A sync decides everything it does with pure functions of what it
// has read (the scan, the catalog rows, the listing, and the hashes of the
// files it had to read): Decide for each file, Deletions for the files
// gone. The executor only carries the decisions out,
// and --dry-run reports the same decisions without carrying them out.

// Action is what a sync does with one file.
type Action int

const (
	// Skip: the file, its catalog row and its object agree.
	Skip Action = iota
	// Hash: the stat changed, --checksum, or a new file may be a copy of an
	// uploaded one; hash the file and decide again.
	Hash
	// Record: the content is unchanged and the object intact, but the stat
	// changed; refresh the catalog row without uploading.
	Record
	// Upload: encrypt and upload the file.
	Upload
	// Resume: Upload, continuing the catalog's unfinished multipart upload
	// of the file where the server still has it.
	Resume
	// Copy: the file has the content of an object this catalog uploaded
	// and the bucket still holds (Decision.From); make its object a
	// server-side copy of that one instead of uploading.
	Copy
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
	case Resume:
		return "resume"
	case Copy:
		return "copy"
	}
	return "unknown"
}

// copyMinSize is the smallest new file that is checked for being a copy of
// one already uploaded. The check reads the file once more before its
// upload; below this size an upload costs about what the check saves.
const copyMinSize = 1 << 20

// Remote is what the listing says about an object.
type Remote struct {
	ETag string
	Size int64
}

// Decision is an Action and why.
type Decision struct {
	Action Action
	Reason string // new, changed, remote-missing, remote-changed, key-changed, stat-changed, checksum, maybe-copy, same-content, touched, unchanged
	// From is the row whose object a Copy copies.
	From *catalog.File
}

// Twin is a catalog row with the same size and plaintext MD5 as a new file,
// and what the listing says of its object.
type Twin struct {
	Row    catalog.File
	Remote *Remote // nil when the listing has no object at Row.ObjectKey
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
	// InFlight says the catalog holds an unfinished multipart upload of
	// the file, which an upload resumes.
	InFlight bool
	// SizeKnown says the catalog has a row of the file's size: a new file
	// that large may be a copy, and is hashed to find out.
	SizeKnown bool
	// Twins, once the file is hashed, are the rows with its content.
	Twins []Twin
}

// Decide returns what to do with one file. It is a pure function: the
// content is judged by plaintext hashes only (MD5, and SHA-256 where both
// sides have it; timestamps alone never cause an upload), and the remote by
// ETag and size only.
func Decide(in Input) Decision {
	d := decideContent(in)
	if d.Action == Upload && in.InFlight {
		d.Action = Resume
	}
	return d
}

func decideContent(in Input) Decision {
	row := in.Row
	if row == nil {
		return decideNew(in)
	}
	statSame := in.Local.sameStat(rowEntry(row))
	if in.PlainMD5 == nil && in.Local.Size != row.Size {
		return Decision{Action: Upload, Reason: "changed"}
	}
	if in.PlainMD5 == nil {
		if in.Checksum {
			return Decision{Action: Hash, Reason: "checksum"}
		}
		if !statSame {
			return Decision{Action: Hash, Reason: "stat-changed"}
		}
	} else if *in.PlainMD5 != row.PlainMD5 || in.PlainSHA256 != nil && row.HasSHA256 && *in.PlainSHA256 != row.PlainSHA256 {
		return Decision{Action: Upload, Reason: "changed"}
	}
	switch {
	case row.ObjectKey != in.ObjectKey:
		return Decision{Action: Upload, Reason: "key-changed"}
	case in.Remote == nil:
		return Decision{Action: Upload, Reason: "remote-missing"}
	case in.Remote.ETag != row.ETag || in.Remote.Size != row.CipherSize:
		return Decision{Action: Upload, Reason: "remote-changed"}
	case !statSame:
		return Decision{Action: Record, Reason: "touched"}
	}
	return Decision{Action: Skip, Reason: "unchanged"}
}

// decideNew decides for a path the catalog has no row of: upload it, unless
// it has the content of an uploaded object the bucket still lists as
// recorded (a renamed or duplicated file), which is copied. A twin whose
// SHA-256 is not the file's is an MD5 collision, not a copy. An in-flight
// upload is not replaced by a copy: the upload resumes.
func decideNew(in Input) Decision {
	if in.InFlight || in.Local.Size < copyMinSize || !in.SizeKnown {
		return Decision{Action: Upload, Reason: "new"}
	}
	if in.PlainMD5 == nil {
		return Decision{Action: Hash, Reason: "maybe-copy"}
	}
	for _, t := range in.Twins {
		switch {
		case t.Row.PlainMD5 != *in.PlainMD5 || t.Row.Size != in.Local.Size:
		case t.Row.HasSHA256 && in.PlainSHA256 != nil && t.Row.PlainSHA256 != *in.PlainSHA256:
		case t.Row.ObjectKey == in.ObjectKey:
		case t.Remote == nil || t.Remote.ETag != t.Row.ETag || t.Remote.Size != t.Row.CipherSize:
		default:
			from := t.Row
			return Decision{Action: Copy, Reason: "same-content", From: &from}
		}
	}
	return Decision{Action: Upload, Reason: "new"}
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
