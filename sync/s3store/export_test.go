package s3store

// SetCopyLimits lowers the size above which Copy uses UploadPartCopy and the
// size of its parts, so tests can exercise multipart copies with small
// objects.
func SetCopyLimits(s *Store, threshold, partSize int64) {
	s.copyThreshold = threshold
	s.copyPartSize = partSize
}

// UseSDKPut makes Put go through the SDK's PutObject even on a custom
// endpoint, so tests cover the path AWS endpoints take.
func UseSDKPut(s *Store) { s.direct = nil }

// DirectPut reports whether Put bypasses the SDK's middleware.
func DirectPut(s *Store) bool { return s.direct != nil }
