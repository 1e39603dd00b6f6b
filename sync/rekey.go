package sync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"filippo.io/age"

	"github.com/s3seal/s3seal/catalog"
	"github.com/s3seal/s3seal/cipher"
)

// headerProbe is how many bytes of an object are read to find its age
// header. Headers are a few hundred bytes; many recipients or a long
// ssh-rsa stanza still fit.
const headerProbe = 64 << 10

// rekeyPrefix starts the catalog setting that records, per object key, the
// header a rekey is about to write: "rekey:" + key -> keysID + " " +
// hex(SHA-256(new header)).
const rekeyPrefix = "rekey:"

// rekeyUploadPrefix starts the catalog setting that names the multipart
// upload a rekey of an object has open: "rekey-upload:" + key -> upload ID.
// A run killed mid-rebuild leaves it, and the next run aborts the upload.
const rekeyUploadPrefix = "rekey-upload:"

// RekeyOptions are the inputs of Rekey.
type RekeyOptions struct {
	Prefix     string
	Identities []age.Identity  // open the objects' current headers
	Recipients []age.Recipient // the new headers wrap the file keys to these
	KeysID     string          // identifies Recipients (see UpdateMirror)
	PartSize   int64           // of the multipart rebuild; at least 5 MiB
	DryRun     bool
	// NewFileKeys encrypts every object again under a fresh file key
	// instead of rewrapping the old one: each object is downloaded in
	// full, its plaintext verified against the catalog, and uploaded in
	// full (see reencrypt).
	NewFileKeys bool
	// Report receives a done, skip or fail event per object (Path is the
	// catalog path) and a fail event for a mirror that could not be pushed.
	Report func(Event)
}

// RekeySummary counts what a rekey did, or with DryRun would do. Sent is
// the bytes uploaded (new headers, first parts, small objects; with
// NewFileKeys every object in full), Copied the bytes the server copied
// from the old objects, Read the bytes downloaded.
type RekeySummary struct {
	Objects  int   `json:"objects"`
	Rekeyed  int   `json:"rekeyed"`
	Already  int   `json:"already"`
	Skipped  int   `json:"skipped"`
	Failed   int   `json:"failed"`
	Sent     int64 `json:"bytes_sent"`
	Copied   int64 `json:"bytes_copied"`
	Read     int64 `json:"bytes_read"`
	Requests int   `json:"requests"`
}

// Rekey rewrites the age header of every object the catalog records, so
// that it wraps the same file key to opts.Recipients, and keeps its payload:
// an object of more than two parts becomes a multipart upload of the new
// header plus the first part's worth of payload (one ranged GET, one
// UploadPart) followed by UploadPartCopy ranges of the old object; a
// smaller one is downloaded and put again. Each replacement is atomic
// (CompleteMultipart or Put), so every object opens with the old key or the
// new one at any moment. The header about to be written is recorded in the
// catalog first, so an interrupted rekey run again recognises the objects
// it finished. Rows get the new ETag, VersionID and size, and the catalog
// mirror is pushed again, encrypted to the new recipients.
//
// With opts.NewFileKeys each object is instead encrypted again under a
// fresh file key (see reencrypt), with the same atomic replacement and
// the same record of progress.
//
// An object whose ETag is not the one recorded is skipped (sync uploads it
// again); one the identities cannot open fails, and the run goes on.
func Rekey(ctx context.Context, db *catalog.DB, b Bucket, opts RekeyOptions) (RekeySummary, error) {
	var sum RekeySummary
	if b.Ranges == nil {
		return sum, errors.New("rekey: the store cannot read or copy byte ranges")
	}
	if opts.PartSize < 5<<20 {
		opts.PartSize = 5 << 20
	}
	listed := make(map[string]Object)
	err := b.List(ctx, listPrefix(opts.Prefix), func(obj Object) error {
		listed[obj.Key] = obj
		return nil
	})
	sum.Requests++
	if err != nil {
		return sum, fmt.Errorf("rekey: list %s: %w", b.url(opts.Prefix), err)
	}
	var rows []catalog.File
	if err := db.Files(func(f catalog.File) error { rows = append(rows, f); return nil }); err != nil {
		return sum, err
	}
	report := opts.Report
	if report == nil {
		report = func(Event) {}
	}
	for _, row := range rows {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		sum.Objects++
		obj, ok := listed[row.ObjectKey]
		if !ok {
			sum.Skipped++
			report(Event{Kind: EventSkip, Path: row.Path, Reason: "remote-missing"})
			continue
		}
		reason, err := rekeyObject(ctx, db, b, &opts, row, obj, &sum)
		switch {
		case err != nil && ctx.Err() != nil:
			return sum, ctx.Err()
		case err != nil:
			sum.Failed++
			report(Event{Kind: EventFail, Path: row.Path, Err: err})
		case reason == "rekeyed":
			sum.Rekeyed++
			report(Event{Kind: EventDone, Path: row.Path, Reason: reason, Bytes: obj.Size})
		case reason == "already":
			sum.Already++
			report(Event{Kind: EventSkip, Path: row.Path, Reason: reason})
		default:
			sum.Skipped++
			report(Event{Kind: EventSkip, Path: row.Path, Reason: reason})
		}
	}
	if opts.DryRun {
		return sum, nil
	}
	sum.Requests++
	if err := PushCatalog(ctx, db, b, opts.Prefix, opts.Recipients, opts.KeysID); err != nil {
		return sum, fmt.Errorf("rekey: push the catalog mirror: %w", err)
	}
	return sum, nil
}

// rekeyObject rekeys one object and returns "rekeyed", "already" (a run
// before wrote this header), or the reason it was skipped.
func rekeyObject(ctx context.Context, db *catalog.DB, b Bucket, o *RekeyOptions, row catalog.File, obj Object, sum *RekeySummary) (string, error) {
	firstLen := o.PartSize + headerProbe // part 1 stays >= PartSize whatever the headers' lengths
	whole := obj.Size <= firstLen+o.PartSize
	if o.DryRun {
		if row.ETag != obj.ETag {
			return "remote-changed", nil
		}
		if o.NewFileKeys {
			return "rekeyed", planReencrypt(row, obj, sum)
		}
		sum.Sent += min(obj.Size, firstLen)
		if !whole {
			sum.Copied += obj.Size - firstLen
		}
		return "rekeyed", nil
	}
	if err := abortLeftover(ctx, db, b, obj.Key, sum); err != nil {
		return "", err
	}
	probe, err := getRange(ctx, b, obj, 0, min(obj.Size, headerProbe), sum)
	if err != nil {
		return "", err
	}
	current, err := cipher.HeaderLen(probe)
	if err != nil {
		return "", fmt.Errorf("%s: %w", obj.Key, err)
	}
	setting := rekeyPrefix + obj.Key
	planned, _, err := db.Setting(setting)
	if err != nil {
		return "", err
	}
	if string(planned) == rekeyMark(o.markKeys(), probe[:current]) {
		return "already", recordRekeyed(ctx, db, b, row, obj.Key, sum)
	}
	if row.ETag != obj.ETag {
		return "remote-changed", nil
	}
	if o.NewFileKeys {
		if err := reencrypt(ctx, db, b, o, row, obj, sum); err != nil {
			return "", err
		}
		return "rekeyed", recordRekeyed(ctx, db, b, row, obj.Key, sum)
	}
	first, n := probe, firstLen
	if whole {
		n = obj.Size
	}
	if int64(len(probe)) < n {
		if first, err = getRange(ctx, b, obj, 0, n, sum); err != nil {
			return "", err
		}
	}
	header, oldLen, err := cipher.Rewrap(first, o.Identities, o.Recipients)
	if err != nil {
		return "", fmt.Errorf("%s: %w", obj.Key, err)
	}
	if err := db.SetSetting(setting, []byte(rekeyMark(o.markKeys(), header))); err != nil {
		return "", err
	}
	body := append(header, first[oldLen:]...)
	if whole {
		sum.Requests++
		sum.Sent += int64(len(body))
		if _, err := b.Put(ctx, obj.Key, body, PutOptions{}); err != nil {
			return "", err
		}
	} else if err := rebuild(ctx, db, b, obj, body, firstLen, o.PartSize, sum); err != nil {
		return "", err
	}
	return "rekeyed", recordRekeyed(ctx, db, b, row, obj.Key, sum)
}

// rebuild replaces obj by a multipart object: first (the new header and the
// start of the payload) as part 1, then the old object's bytes from offset
// skip on, copied by the server in parts of partSize.
func rebuild(ctx context.Context, db *catalog.DB, b Bucket, obj Object, first []byte, skip, partSize int64, sum *RekeySummary) error {
	return inUpload(ctx, db, b, obj.Key, sum, func(uploadID string) error {
		sum.Requests++
		sum.Sent += int64(len(first))
		part, err := b.UploadPart(ctx, obj.Key, uploadID, 1, first, sha256.Sum256(first))
		if err != nil {
			return err
		}
		parts := []Part{part}
		for off, number := skip, int32(2); off < obj.Size; off, number = off+partSize, number+1 {
			n := min(partSize, obj.Size-off)
			sum.Requests++
			part, err := b.Ranges.UploadPartCopy(ctx, obj.Key, uploadID, number, obj.Key, obj.ETag, off, n)
			if err != nil {
				return err
			}
			sum.Copied += n
			parts = append(parts, part)
		}
		sum.Requests++
		_, err = b.CompleteMultipart(ctx, obj.Key, uploadID, parts)
		return err
	})
}

// inUpload creates a multipart upload of key, records it in the catalog
// while it is open and calls send with its ID; send completes it. If send
// fails the upload is aborted.
func inUpload(ctx context.Context, db *catalog.DB, b Bucket, key string, sum *RekeySummary, send func(uploadID string) error) (err error) {
	sum.Requests++
	uploadID, err := b.CreateMultipart(ctx, key, PutOptions{})
	if err != nil {
		return err
	}
	if err := db.SetSetting(rekeyUploadPrefix+key, []byte(uploadID)); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			// Best effort: the old object is still in place, and the next
			// rekey aborts an upload this one could not.
			if b.AbortMultipart(context.WithoutCancel(ctx), key, uploadID) != nil {
				return
			}
		}
		if dropErr := db.DeleteSetting(rekeyUploadPrefix + key); err == nil {
			err = dropErr
		}
	}()
	return send(uploadID)
}

// abortLeftover aborts the multipart upload an interrupted rekey of key
// left open, if any.
func abortLeftover(ctx context.Context, db *catalog.DB, b Bucket, key string, sum *RekeySummary) error {
	uploadID, ok, err := db.Setting(rekeyUploadPrefix + key)
	if err != nil || !ok {
		return err
	}
	sum.Requests++
	if err := b.AbortMultipart(ctx, key, string(uploadID)); err != nil && !errors.Is(err, ErrNoSuchUpload) {
		return err
	}
	return db.DeleteSetting(rekeyUploadPrefix + key)
}

// recordRekeyed gives row the ETag, version and size the bucket now has
// for key. They are read with Head: some servers answer a completed upload
// with another ETag than they list.
func recordRekeyed(ctx context.Context, db *catalog.DB, b Bucket, row catalog.File, key string, sum *RekeySummary) error {
	sum.Requests++
	now, err := b.Head(ctx, key)
	if err != nil {
		return err
	}
	row.ETag, row.VersionID, row.CipherSize = now.ETag, now.VersionID, now.Size
	row.RetainUntil = 0 // the new version was written without retention
	return db.Put(row)
}

// getRange reads n bytes of obj from off.
func getRange(ctx context.Context, b Bucket, obj Object, off, n int64, sum *RekeySummary) ([]byte, error) {
	sum.Requests++
	body := make([]byte, n)
	got, err := b.Ranges.GetRange(ctx, Object{Key: obj.Key, ETag: obj.ETag}, off, body)
	body = body[:got]
	sum.Read += int64(got)
	if err == nil && int64(len(body)) != n {
		err = fmt.Errorf("get range of %s: got %d bytes, want %d", obj.Key, len(body), n)
	}
	return body, err
}

// markKeys names, in the catalog's record of a header, the keys and the
// kind of rekey that wrote it, so that a rekey with new file keys never
// takes an object a header-only rekey to the same keys wrote for done.
func (o *RekeyOptions) markKeys() string {
	if o.NewFileKeys {
		return o.KeysID + " new-file-keys"
	}
	return o.KeysID
}

// rekeyMark is the catalog's record of the header a rekey to keysID writes.
func rekeyMark(keysID string, header []byte) string {
	sum := sha256.Sum256(header)
	return keysID + " " + hex.EncodeToString(sum[:])
}
