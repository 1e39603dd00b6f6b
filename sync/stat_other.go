//go:build !linux

package sync

import "io/fs"

// sysStat is a no-op where ctime and inode are not read: change detection
// then rests on size and mtime, and on the content hash.
func sysStat(fi fs.FileInfo, e *Entry) {}
