// Package memstore is an in-memory bucket for tests of the engine. A Store
// implements sync.Objects, sync.Multipart, sync.Copier and
// sync.UploadLister, is safe for concurrent use, and keeps S3's rules where
// the engine relies on them: a single object's ETag is the hex MD5 of its
// body and a completed multipart object's is sync.MultipartETag of its
// parts; List goes in key order and ListParts in part order;
// CompleteMultipart refuses parts whose ETags are not the uploaded ones and
// parts other than the last smaller than MinPartSize; and errors match the
// engine's sentinels (sync.ErrNotFound, sync.ErrNoSuchUpload,
// sync.ErrNoSuchBucket).
//
// Every operation first calls Store.Hook, which lets a test count requests,
// fail one, block one, or cancel the run at a chosen part, synchronised on
// the operation itself rather than on time. The hook runs before the
// operation checks its context, so a hook that cancels the context fails
// the operation it was called for.
//
// It is no substitute for a real server: the suite also runs the engine
// against versitygw (see sync/s3store/s3test).
package memstore
