package s3store

// SetCopyLimits lowers the size above which Copy uses UploadPartCopy and the
// size of its parts, so tests can exercise multipart copies with small
// objects.
func SetCopyLimits(s *Store, threshold, partSize int64) {
	s.copyThreshold = threshold
	s.copyPartSize = partSize
}

// WithRule is withRule, for the lifecycle merge test.
var WithRule = withRule
