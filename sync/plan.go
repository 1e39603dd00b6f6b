package sync

import (
	"time"

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
	// changed, or the server lists another ETag for an object it has not
	// written since (Decision.ETag); refresh the catalog row without
	// uploading.
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
	ETag         string // an opaque token: only its equality with another means anything
	Size         int64
	LastModified time.Time // the zero time when the store does not say
}

// Decision is an Action and why.
type Decision struct {
	Action Action
	Reason string // new, changed, remote-missing, remote-changed, key-changed, stat-changed, checksum, maybe-copy, same-content, touched, etag-refreshed, unchanged
	// From is the row whose object a Copy copies.
	From *catalog.File
	// ETag is, for Record, the object's ETag as listed, which the row takes.
	ETag string
}

// objectState is how a listed object compares with the catalog row that
// recorded it.
type objectState int

const (
	objectAsRecorded objectState = iota
	// objectRelisted: the listing has another ETag than the row, but the
	// object has the recorded size and was last written no later than the
	// upload the row records. Nobody wrote it since: the server lists other
	// ETags than it answered (or recomputed them), and the listed ETag is
	// the object's own.
	objectRelisted
	objectChanged // another size, or another ETag on an object written since
)

// judgeObject compares the listed object r with row. ETags are compared as
// opaque tokens, never by their shape. A listed time or an upload time that
// is unknown (zero) cannot show that the object was not written since, so
// an ETag that differs then means a changed object. Both times are whole
// seconds (S3 lists no finer), so an object written in the very second of
// the upload, after it, passes as not written since.
func judgeObject(row *catalog.File, r Remote) objectState {
	switch {
	case r.Size != row.CipherSize:
		return objectChanged
	case r.ETag == row.ETag:
		return objectAsRecorded
	case r.LastModified.IsZero() || row.UploadedAt <= 0 || r.LastModified.After(time.Unix(row.UploadedAt, 0)):
		return objectChanged
	}
	return objectRelisted
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
// ETag and size, and by its LastModified only where the listed ETag is not
// the recorded one (see judgeObject): an object not written since its
// upload keeps the file's record under the listed ETag (Record,
// "etag-refreshed") instead of being sent again on every run.
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
	}
	switch judgeObject(row, *in.Remote) {
	case objectChanged:
		return Decision{Action: Upload, Reason: "remote-changed"}
	case objectRelisted:
		return Decision{Action: Record, Reason: "etag-refreshed", ETag: in.Remote.ETag}
	}
	if !statSame {
		return Decision{Action: Record, Reason: "touched", ETag: row.ETag}
	}
	return Decision{Action: Skip, Reason: "unchanged"}
}

// decideNew decides for a path the catalog has no row of: upload it, unless
// it has the content of an uploaded object the bucket still lists as
// recorded (a renamed or duplicated file), which is copied. A twin whose
// SHA-256 is not the file's is an MD5 collision, not a copy, and one whose
// object is listed with another ETag is not copied from, even when it was
// not written since (the twin's own row is refreshed when its file is
// synced). An in-flight upload is not replaced by a copy: the upload
// resumes.
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
		case t.Remote == nil || judgeObject(&t.Row, *t.Remote) != objectAsRecorded:
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
