package sync

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/s3seal/s3seal/catalog"
)

// settleUploads looks at the unfinished multipart uploads under the prefix.
// Those the catalog knows are resumed by the workers. Unknown ones (left by
// a run that crashed before recording its upload, or by another tool) are
// reported, and aborted once older than opts.AbortUploadsAfter. On a server
// that lacks ListMultipartUploads there is nothing to look at.
func settleUploads(ctx context.Context, db *catalog.DB, store Bucket, opts Options, opt *optional, sum *Summary, r *reporter) error {
	known, err := db.Uploads()
	if err != nil {
		return err
	}
	ids := make(map[string]bool, len(known))
	for _, u := range known {
		ids[u.UploadID] = true
	}
	pending, err := listUploads(ctx, store, listPrefix(opts.Prefix), opt)
	if err != nil {
		return err
	}
	for _, up := range pending {
		if ids[up.UploadID] {
			continue
		}
		sum.StaleUploads++
		age := time.Since(up.Initiated)
		if opts.DryRun || opts.AbortUploadsAfter <= 0 || age < opts.AbortUploadsAfter {
			r.report(Event{Kind: EventInfo, Path: up.Key, Reason: "unknown-upload",
				Err: fmt.Errorf("unfinished multipart upload %s started %s ago is not in the catalog", up.UploadID, age.Round(time.Second))})
			continue
		}
		if err := store.AbortMultipart(ctx, up.Key, up.UploadID); err != nil {
			return err
		}
		sum.AbortedUploads++
		r.report(Event{Kind: EventInfo, Path: up.Key, Reason: "aborted-upload"})
	}
	return nil
}

// listUploads returns the unfinished multipart uploads under prefix, or
// none when the server lacks ListMultipartUploads: then they cannot be
// known, and the first run to learn it says so (see optional).
func listUploads(ctx context.Context, store Bucket, prefix string, opt *optional) ([]MultipartUpload, error) {
	if opt.lacks(OpListUploads) {
		return nil, nil
	}
	pending, err := store.Uploads(ctx, prefix)
	if errors.Is(err, ErrNotImplemented) {
		return nil, opt.learn(OpListUploads, err)
	}
	if err != nil {
		return nil, fmt.Errorf("list multipart uploads: %w", err)
	}
	return pending, nil
}

// dropUnneededUploads aborts the catalog's in-flight uploads from earlier
// runs (u.inFlight) that this run did not continue (attempted): their file
// was deleted, or no longer needs an upload. Their key material goes with
// them. An upload this run began is kept for the next run to resume.
func dropUnneededUploads(ctx context.Context, u *uploader, attempted map[string]bool) error {
	known, err := u.db.Uploads()
	if err != nil {
		return err
	}
	for _, up := range known {
		if !u.inFlight[up.Path] || attempted[up.Path] {
			continue
		}
		if err := u.discard(ctx, &up); err != nil {
			return err
		}
	}
	return nil
}
