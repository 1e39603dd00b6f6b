// Package catalog is s3seal's local record of what it has uploaded: a SQLite
// database (the pure-Go modernc.org/sqlite driver) that maps each source
// file's relative path to the MD5 and SHA-256 of its plaintext (the MD5 for
// change detection, the SHA-256 for restore to verify; rows of older catalogs
// have none until the file is read again), the stat it was hashed at, and the
// key, ETag and size of the age ciphertext object stored for it. It
// also keeps per-target settings and the state of in-flight multipart uploads.
//
// Open takes an exclusive flock(2) on a sibling ".lock" file before touching
// the database, so two s3seal processes never share a catalog; the kernel
// drops that lock when its holder dies, so a killed run never blocks the next.
// An existing file is checked with PRAGMA quick_check and its user_version and
// application_id before anything is written to it, and a file that fails is
// reported as ErrCorrupt and left exactly as it was. Migrations are numbered
// by user_version and run in one transaction each. The tables are STRICT and
// carry CHECK constraints, so a row that would not scan back cleanly cannot
// be stored, not even by ReplaceFrom copying rows from a foreign file.
//
// All access goes through one SQLite connection in WAL mode with
// synchronous=FULL and locking_mode=EXCLUSIVE (the flock already keeps
// other processes out): a committed row survives a crash of the process or
// of the machine, and the hot paths (Lookup for every scanned file, Put through a Batch that
// commits every n rows) are statements prepared once in Open. Paths are
// stored as BLOBs, so any byte string a file system allows round-trips
// exactly and sorts bytewise. secure_delete is on, so a finished upload's
// file key is overwritten rather than left in a free page.
//
// Snapshot builds a copy for the encrypted mirror without ever writing the
// in-flight table into it: it creates a fresh database with the same schema,
// attaches it, and copies the files and settings tables in one read
// transaction. ReplaceFrom does the reverse: it attaches a snapshot read-only and immutable,
// validates it, and swaps the contents in one write transaction, so on any
// error the catalog is unchanged.
package catalog
