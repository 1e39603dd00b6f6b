package sync

import (
	"bytes"
	"crypto/md5"
	"io"
)

func readerAt(b []byte) io.ReaderAt { return bytes.NewReader(b) }

func md5Sum(b []byte) [16]byte { return md5.Sum(b) }
