package sync

import (
	"context"
	"fmt"
	"time"

	"github.com/s3seal/s3seal/catalog"
)

// prepareLock checks that a run with a Lock policy has a bucket with
// Object Lock (asking the bucket only if the catalog has not seen it so:
// Object Lock cannot be turned off), and sets the retention this run gives
// what it writes.
func (o *run) prepareLock(ctx context.Context, db *catalog.DB, b Bucket, now time.Time) error {
	if o.Lock == nil || o.Lock.Days <= 0 {
		return nil
	}
	if b.History == nil {
		return fmt.Errorf("%w: the store keeps no versions", ErrNoObjectLock)
	}
	seen, known, err := RecordedHistory(db)
	if err != nil {
		return err
	}
	if !(known && seen.ObjectLock) && !(o.CreateBucket && o.DryRun) { // a bucket to create has nothing to ask
		h, err := b.History.Settings(ctx, listPrefix(o.Prefix))
		if err != nil {
			return err
		}
		if !h.ObjectLock {
			return fmt.Errorf("%w (s3://%s)", ErrNoObjectLock, b.Name)
		}
	}
	mode := o.Lock.Mode
	if mode == "" {
		mode = RetentionGovernance
	}
	o.retention = &Retention{Mode: mode, Until: now.Add(time.Duration(o.Lock.Days) * 24 * time.Hour).Truncate(time.Second)}
	o.PutOptions.Retention = o.retention
	o.extendBefore = now.Add(o.Lock.Margin)
	return nil
}

// extendRetention gives every version the catalog points to that has no
// retention, or one ending within the margin, this run's retention, so that
// a file that never changes stays protected however old its version is.
// Only those versions cost a request. A version the server refuses to
// extend is a failed file: the run goes on.
func (o *run) extendRetention(ctx context.Context, db *catalog.DB, b Bucket, sum *Summary, r *reporter) error {
	if o.retention == nil || o.DryRun {
		return nil
	}
	var rows []catalog.File
	err := db.RetainedBefore(o.extendBefore.Unix(), func(f catalog.File) error { rows = append(rows, f); return nil })
	if err != nil {
		return fmt.Errorf("read catalog: %w", err)
	}
	batch := db.NewBatch(500)
	for _, f := range rows {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := b.History.Retain(ctx, f.ObjectKey, f.VersionID, *o.retention); err != nil {
			r.report(Event{Kind: EventFail, Path: f.Path, Reason: "retention", Size: f.Size, Err: err})
			continue
		}
		f.RetainUntil = o.retention.Until.Unix()
		if err := batch.Put(f); err != nil {
			return fmt.Errorf("record retention: %w", err)
		}
		sum.Extended++
	}
	if err := batch.Flush(); err != nil {
		return fmt.Errorf("record retention: %w", err)
	}
	return nil
}
