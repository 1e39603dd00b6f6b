// Package s3store is s3seal's only door to S3: it puts, lists, reads, copies
// and deletes objects in one bucket, drives multipart uploads, and turns the
// SDK's errors into a few sentinels that callers branch on.
//
// It does no cryptography and knows nothing of the catalog: bodies are opaque
// bytes. Every upload carries an explicit Content-MD5 and its returned ETag is
// compared with the MD5 of the bytes sent whenever the server returns an
// MD5-shaped ETag, so a part or object that arrived damaged is caught at once.
// A multipart object's ETag is predictable from its parts' MD5s
// (MultipartETag), which lets the engine compare remote objects with what it
// recorded without downloading them.
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
// With a custom endpoint, Put (one PutObject, what a sync of small files
// sends most) skips the SDK's middleware stack, whose per-request work cost
// more CPU than the encryption of a small file: it signs the request with
// the SDK's SigV4 signer, sends it on the same HTTP client, retries with the
// same retryer, corrects for a server clock far from ours as the SDK does,
// and returns errors of the SDK's types, so that everything above sees no
// difference. Every other request, and every request to AWS,
// goes through the SDK.
//
// Errors name the operation and the object ("put s3://bucket/key: ...") and
// match the package's sentinels with errors.Is: ErrNotFound, ErrNoSuchBucket,
// ErrNoSuchUpload, ErrAccessDenied, ErrBadCredentials, ErrUnreachable,
// ErrInvalidObjectState and ErrETagMismatch. Context cancellation stays
// visible through errors.Is(err, context.Canceled).
package s3store
