// Package s3store is s3seal's only door to S3: it puts, lists, reads, copies
// and deletes objects in one bucket, drives multipart uploads, and turns the
// SDK's errors into a few sentinels that callers branch on.
//
// It does no cryptography and knows nothing of the catalog: bodies are opaque
// bytes. Every upload is signed with the SHA-256 of its body (SigV4's
// x-amz-content-sha256), which the server checks, so a part or object that
// arrived damaged is refused at once; for a part it is the hash the engine
// records before sending it, so no byte is hashed twice. ETags are opaque
// tokens here: they are returned, never predicted or checked.
//
// Store implements the engine's contract (sync.Objects, sync.Multipart,
// sync.Copier, sync.UploadLister) with the SDK's S3 client and nothing else:
// every request goes through the SDK's middleware, retryer and signer.
//
// With a custom endpoint (MinIO, Ceph, R2, B2, Versity gateway, ...) the
// client uses path-style addressing and computes or validates the SDK's
// flexible checksums only when an operation requires them, because several
// servers reject the CRC32 headers the SDK sends by default. The SDK's
// "Expect: 100-continue" handshake is disabled for every endpoint: some
// servers only answer a lower-case header and the handshake then costs a
// one-second stall per upload. Retries use the SDK's standard retryer with
// more attempts and no client-side retry quota, so a long outage of a slow
// link does not exhaust a shared token bucket and fail every later request.
//
// Errors name the operation and the object ("put s3://bucket/key: ...") and
// match the engine's sentinels with errors.Is: sync.ErrNotFound,
// sync.ErrNoSuchBucket, sync.ErrNoSuchUpload, sync.ErrAccessDenied,
// sync.ErrBadCredentials, sync.ErrUnreachable, sync.ErrInvalidObjectState and
// sync.ErrBadDigest, plus this package's ErrInsecureEndpoint. Context
// cancellation stays visible through errors.Is(err, context.Canceled).
package s3store
