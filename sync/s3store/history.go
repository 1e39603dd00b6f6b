package s3store

import (
	"cmp"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/s3seal/s3seal/sync"
)

// Settings returns the bucket's versioning status, whether Object Lock is
// enabled, and the non-current version expiry of the lifecycle rule that
// covers prefix. A server without Object Lock or lifecycle support answers
// as a bucket without them; one that cannot version at all fails with
// sync.ErrNotImplemented. A bucket that was never versioned costs one
// request, any other three.
func (s *Store) Settings(ctx context.Context, prefix string) (sync.HistorySettings, error) {
	var h sync.HistorySettings
	v, err := s.client.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(s.bucket)})
	if err != nil {
		return h, s.wrap("get bucket versioning", "", err, sync.ErrNoSuchBucket)
	}
	h.Versioning = string(v.Status)
	if h.Versioning == "" {
		// Never versioned: such a bucket has no Object Lock (which needs
		// versioning) and no versions for a lifecycle rule to expire, so
		// one request answers all (a sync to it asks on every run).
		return h, nil
	}
	lock, err := s.client.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: aws.String(s.bucket)})
	switch {
	case err == nil:
		h.ObjectLock = lock.ObjectLockConfiguration != nil &&
			lock.ObjectLockConfiguration.ObjectLockEnabled == types.ObjectLockEnabledEnabled
	case !absent(err, "ObjectLockConfigurationNotFoundError"):
		return h, s.wrap("get object lock configuration", "", err, sync.ErrNoSuchBucket)
	}
	rules, err := s.client.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String(s.bucket)})
	switch {
	case err == nil:
		h.KeepDays = keepDays(rules.Rules, prefix)
	case !absent(err, "NoSuchLifecycleConfiguration"):
		return h, s.wrap("get bucket lifecycle", "", err, sync.ErrNoSuchBucket)
	}
	return h, nil
}

// absent reports whether err says the configuration asked for does not
// exist: the given S3 error code, or a server that does not implement it.
func absent(err error, code string) bool {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && (apiErr.ErrorCode() == code || apiErr.ErrorCode() == "NotImplemented") {
		return true
	}
	status := httpStatus(err)
	return status == 501 || status == 405
}

// keepDays returns the NoncurrentDays of the enabled rule that applies to
// every key under prefix, or 0.
func keepDays(rules []types.LifecycleRule, prefix string) int {
	for _, r := range rules {
		if r.Status != types.ExpirationStatusEnabled || r.NoncurrentVersionExpiration == nil {
			continue
		}
		p := aws.ToString(r.Prefix) // the deprecated field, which older servers answer
		if r.Filter != nil && r.Filter.Prefix != nil {
			p = aws.ToString(r.Filter.Prefix)
		}
		if strings.HasPrefix(prefix, p) {
			return int(aws.ToInt32(r.NoncurrentVersionExpiration.NoncurrentDays))
		}
	}
	return 0
}

// EnableVersioning turns versioning on. A server that cannot version
// fails with sync.ErrNotImplemented.
func (s *Store) EnableVersioning(ctx context.Context) error {
	return s.putVersioning(ctx, types.BucketVersioningStatusEnabled)
}

// SuspendVersioning turns versioning off for new writes; the versions the
// bucket holds are kept. The engine never calls it: an owner's tools and
// tests do.
func (s *Store) SuspendVersioning(ctx context.Context) error {
	return s.putVersioning(ctx, types.BucketVersioningStatusSuspended)
}

func (s *Store) putVersioning(ctx context.Context, status types.BucketVersioningStatus) error {
	_, err := s.client.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
		Bucket:                  aws.String(s.bucket),
		VersioningConfiguration: &types.VersioningConfiguration{Status: status},
	})
	if err != nil {
		return s.wrap("put bucket versioning", "", err, sync.ErrNoSuchBucket)
	}
	return nil
}

// SetLifecycle installs the bucket's lifecycle rule for prefix, in place
// of an earlier one of s3seal's for the same prefix; the bucket's other
// rules are kept. Under it, non-current versions expire keepDays after they
// were replaced (0: kept), incomplete multipart uploads are aborted
// abortDays after they began, and delete markers left without versions are
// removed. A server without lifecycle rules fails with
// sync.ErrNotImplemented.
func (s *Store) SetLifecycle(ctx context.Context, prefix string, keepDays, abortDays int) error {
	rule := types.LifecycleRule{
		ID:                             aws.String("s3seal " + prefix),
		Status:                         types.ExpirationStatusEnabled,
		Filter:                         &types.LifecycleRuleFilter{Prefix: aws.String(prefix)},
		AbortIncompleteMultipartUpload: &types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(int32(abortDays))},
		Expiration:                     &types.LifecycleExpiration{ExpiredObjectDeleteMarker: aws.Bool(true)},
	}
	if keepDays > 0 {
		rule.NoncurrentVersionExpiration = &types.NoncurrentVersionExpiration{NoncurrentDays: aws.Int32(int32(keepDays))}
	}
	// PutBucketLifecycleConfiguration replaces the whole configuration:
	// read it first, so that the owner's other rules survive.
	var rules []types.LifecycleRule
	out, err := s.client.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String(s.bucket)})
	switch {
	case err == nil:
		rules = out.Rules
	case !absent(err, "NoSuchLifecycleConfiguration"):
		return s.wrap("get bucket lifecycle", "", err, sync.ErrNoSuchBucket)
	}
	_, err = s.client.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{
		Bucket:                 aws.String(s.bucket),
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: withRule(rules, rule)},
	})
	if err != nil {
		return s.wrap("put bucket lifecycle", "", err, sync.ErrNoSuchBucket)
	}
	return nil
}

// withRule returns rules with rule in place of the one with its ID, or
// added at the end.
func withRule(rules []types.LifecycleRule, rule types.LifecycleRule) []types.LifecycleRule {
	kept := make([]types.LifecycleRule, 0, len(rules)+1)
	for _, r := range rules {
		if aws.ToString(r.ID) != aws.ToString(rule.ID) {
			kept = append(kept, r)
		}
	}
	return append(kept, rule)
}

// Versions lists the versions and delete markers of the keys under prefix
// (ListObjectVersions, paginated), by key and newest first within a key.
func (s *Store) Versions(ctx context.Context, prefix string, fn func(sync.Version) error) error {
	pages := s3.NewListObjectVersionsPaginator(s.client, &s3.ListObjectVersionsInput{
		Bucket:  aws.String(s.bucket),
		Prefix:  aws.String(prefix),
		MaxKeys: aws.Int32(listPageSize),
	})
	var page []sync.Version
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return s.wrap("list versions", prefix, err, sync.ErrNoSuchBucket)
		}
		page = page[:0]
		for _, v := range out.Versions {
			page = append(page, sync.Version{Key: aws.ToString(v.Key), VersionID: aws.ToString(v.VersionId),
				ETag: unquote(aws.ToString(v.ETag)), Size: aws.ToInt64(v.Size),
				LastModified: aws.ToTime(v.LastModified), Latest: aws.ToBool(v.IsLatest)})
		}
		for _, m := range out.DeleteMarkers {
			page = append(page, sync.Version{Key: aws.ToString(m.Key), VersionID: aws.ToString(m.VersionId),
				LastModified: aws.ToTime(m.LastModified), Latest: aws.ToBool(m.IsLatest), DeleteMarker: true})
		}
		// The server sends versions and markers apart, each in key order
		// and newest first; one page holds a contiguous run of both. Times
		// have a second's resolution, so the current one goes first, then
		// the newest.
		slices.SortStableFunc(page, func(a, b sync.Version) int {
			return cmp.Or(strings.Compare(a.Key, b.Key), boolOrder(b.Latest, a.Latest), b.LastModified.Compare(a.LastModified))
		})
		for _, v := range page {
			if err := fn(v); err != nil {
				return err
			}
		}
	}
	return nil
}

// boolOrder compares booleans, false first.
func boolOrder(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// GetVersion returns one version's body and description, as Get does.
func (s *Store) GetVersion(ctx context.Context, key, versionID string) (io.ReadCloser, sync.Object, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket:    aws.String(s.bucket),
		Key:       aws.String(key),
		VersionId: aws.String(versionID),
	})
	if err != nil {
		return nil, sync.Object{}, s.wrap("get version "+versionID+" of", key, err, sync.ErrNotFound)
	}
	obj := sync.Object{Key: key, ETag: unquote(aws.ToString(out.ETag)), Size: aws.ToInt64(out.ContentLength),
		StorageClass: string(out.StorageClass), LastModified: aws.ToTime(out.LastModified)}
	return out.Body, obj, nil
}

// Retain sets the Object Lock retention of one version.
func (s *Store) Retain(ctx context.Context, key, versionID string, r sync.Retention) error {
	_, err := s.client.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{
		Bucket:    aws.String(s.bucket),
		Key:       aws.String(key),
		VersionId: aws.String(versionID),
		Retention: &types.ObjectLockRetention{Mode: types.ObjectLockRetentionMode(r.Mode), RetainUntilDate: aws.Time(r.Until.UTC().Truncate(time.Second))},
	})
	if err != nil {
		return s.wrap("put retention on version "+versionID+" of", key, err, sync.ErrNotFound)
	}
	return nil
}

// DeleteVersion removes one version for good (Object Lock permitting). The
// engine never calls it; it is here for tests and for an owner's tools.
func (s *Store) DeleteVersion(ctx context.Context, key, versionID string) error {
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{
		Bucket:    aws.String(s.bucket),
		Key:       aws.String(key),
		VersionId: aws.String(versionID),
	})
	if err != nil {
		return s.wrap("delete version "+versionID+" of", key, err, sync.ErrNotFound)
	}
	return nil
}

// RetentionOf returns one version's Object Lock retention. The engine never
// reads it back (the catalog records what it set); it is for audits and
// tests.
func (s *Store) RetentionOf(ctx context.Context, key, versionID string) (sync.Retention, error) {
	out, err := s.client.GetObjectRetention(ctx, &s3.GetObjectRetentionInput{
		Bucket:    aws.String(s.bucket),
		Key:       aws.String(key),
		VersionId: aws.String(versionID),
	})
	if err != nil {
		return sync.Retention{}, s.wrap("get retention of version "+versionID+" of", key, err, sync.ErrNotFound)
	}
	if out.Retention == nil {
		return sync.Retention{}, nil
	}
	return sync.Retention{Mode: string(out.Retention.Mode), Until: aws.ToTime(out.Retention.RetainUntilDate)}, nil
}
