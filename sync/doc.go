// Package sync is the s3seal engine: it backs a local folder up, one way, to
// an S3 prefix with every file encrypted by age, and brings it back.
//
// A sync runs in five steps. Scan walks the source (no symlink following,
// special files skipped and reported) and hands each regular file's stat on
// in batches of 500, at most a few batches ahead of the decisions.
// List reads the remote state with ListObjectsV2 over the prefix: key, ETag,
// size and LastModified, nothing else. One delimited listing gives the
// folders below the prefix (hidden names have 1,024), which are listed by
// their first character, 8 groups at a time (see listEach). Decide is a pure
// function of the local stat, the catalog row and the listed object: a file
// whose size, mtime, ctime and inode match the row is taken to still have
// the row's plaintext MD5; any other known file is hashed, and a file whose
// hash is unchanged is never uploaded again. An object that is missing, or
// whose ETag or size is not the one recorded, is uploaded again, unless it
// has the recorded size and was last written no later than the recorded
// upload: then the server lists another ETag than it answered, and the row
// takes the listed one. ETags are opaque tokens, compared and never read:
// what the catalog records is what the listing reports (after a multipart
// upload whose answer is not the ETag its parts predict, a HEAD tells it). Execute runs a fixed number of
// workers; each encrypts a file as a stream (a deterministic view of the age
// file, see cipher.Ciphertext) and uploads it in one PutObject or, above the
// part size, as a multipart upload whose crypto state is kept in the catalog
// so that an interrupted upload resumes with the parts the server lacks.
// Record writes the catalog row only after the server confirmed the upload,
// so a crash costs at most a re-upload, never a row that points at nothing.
//
// Options.Skip (a Filter, say) is asked about every path before it is
// opened, and an excluded folder is not entered. With Options.Delete, once
// the uploads are done and none failed, Deletions (a pure function of the
// catalog, the scan and the filter) names the files deleted from the source;
// their objects, then their rows, are removed. Excluded paths and paths the
// scan could not read are never among them.
//
// The catalog is read in batches of 500 paths per query, and so is the
// listing, which is kept in a SQLite file next to the catalog for the length
// of the run, so a no-change run costs a stat per file and a few hundred
// queries, and its memory does not grow with the tree (with Delete, 8 bytes
// a file: the scanned paths are kept as hashes). A new file of 1 MiB or
// more whose size some row has is hashed first; if a row has the same
// plaintext MD5 and the bucket lists its object with the recorded ETag, the
// file becomes a server-side CopyObject of that ciphertext (a rename or a
// duplicate costs no upload). Other new files are read once, hashed while
// they are encrypted.
//
// The read that hashes a file computes its MD5 and its SHA-256 together, and
// both are recorded. Restore and a deep audit verify every object by the ETag
// and size of the GetObject response and the plaintext's size and SHA-256
// (MD5 alone for rows that have no SHA-256, and they say so); restore writes
// regular files only, with their permission bits, and the setuid, setgid and
// sticky bits only when asked. Both download many objects at once, and read
// an object over 8 MiB as ranges fetched in parallel, each pinned to the
// expected ETag (and version), decrypted in order; the ranges held are
// bounded over the run (fetch.go).
//
// Memory is bounded by the number of jobs times the part size: every upload
// body of more than 1 MiB comes from a fixed pool of part buffers. Smaller
// objects, four files in flight per job, get buffers of their own size, so
// many small files overlap their round trips without adding part buffers.
//
// After a sync the catalog is mirrored under PREFIX/.s3seal/, encrypted to
// the recipients and signed with the target's signing key (see
// cipher.SigningRecipient). A pulled or imported catalog is decrypted to a
// temporary file and judged before any of its settings is used: judge is a
// function of the signature, the snapshot's settings, what this machine's
// catalogs know of the target (the signer and newest generation they pinned,
// their naming) and the user's Trust, and it refuses a catalog that is
// unsigned, signed by another key, older, or that changes a known naming.
//
// The engine never prints. It reports progress and per-file outcomes as
// Events to a callback, and one failed file does not stop the run.
package sync
