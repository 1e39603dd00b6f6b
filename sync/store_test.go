package sync

import (
	"crypto/md5"
	"testing"
)

func TestMultipartETag(t *testing.T) {
	one, two := md5.Sum([]byte("one")), md5.Sum([]byte("two"))
	tests := []struct {
		parts [][16]byte
		want  string
	}{
		// Known answers computed with another MD5 implementation; the
		// multipart tests also compare with the server's ETags.
		{nil, "d41d8cd98f00b204e9800998ecf8427e-0"},
		{[][16]byte{one}, "f9b4018028d097c99d5827f9fd8a6557-1"},
		{[][16]byte{one, two}, "1397b7ee3222e3980d0d20f23a871b02-2"},
	}
	for _, test := range tests {
		if got := MultipartETag(test.parts); got != test.want {
			t.Errorf("MultipartETag(%d parts) = %q; want %q", len(test.parts), got, test.want)
		}
	}
}
