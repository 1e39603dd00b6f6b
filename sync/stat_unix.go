//go:build linux

package sync

import (
	"io/fs"
	"syscall"
)

// sysStat adds the ctime, inode and device of fi to e.
func sysStat(fi fs.FileInfo, e *Entry) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return
	}
	e.ChangeTime = st.Ctim.Sec*1e9 + st.Ctim.Nsec
	e.Inode = st.Ino
	e.Device = uint64(st.Dev)
}
