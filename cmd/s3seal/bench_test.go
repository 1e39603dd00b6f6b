package main

import (
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkSmallFiles syncs 2,000 files of 1-16 KiB into a fresh bucket and
// catalog per iteration, in recipient mode and in passphrase mode (the real
// scrypt work factor). Passphrase mode must cost one scrypt per run, not
// one per file: see docs/PERFORMANCE.md for the figures.
func BenchmarkSmallFiles(b *testing.B) {
	for _, mode := range []string{"recipient", "passphrase"} {
		b.Run(mode, func(b *testing.B) {
			src := filepath.Join(b.TempDir(), "src")
			for i := range 2000 {
				writeRandom(b, filepath.Join(src, fmt.Sprintf("d%02d", i%40), fmt.Sprintf("f%04d", i)), int64(1024+(i*7919)%(15*1024)))
			}
			passFile := filepath.Join(b.TempDir(), "pass")
			writeFile(b, passFile, []byte("benchmark passphrase\n"))
			for b.Loop() {
				e := newEnv(b)
				args := []string{"sync", src, e.target, "--endpoint", e.srv.Endpoint, "--catalog", filepath.Join(b.TempDir(), "c.db"), "-q"}
				if mode == "passphrase" {
					args = append(args, "-S", "--passphrase-file", passFile)
				} else {
					args = append(args, "-r", e.recipient)
				}
				if res := e.run(args...); res.code != 0 {
					b.Fatalf("sync: exit %d\n%s", res.code, res.stderr)
				}
			}
		})
	}
}
