package main

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/s3seal/s3seal/sync/s3store/s3test"
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

// BenchmarkHistoryNoChange measures what history costs a nightly run that
// finds nothing to do: a no-change sync of 1,000 files to a plain bucket, a
// versioned one, one with Object Lock and --lock-days (no retention due),
// and one where every version's retention is due (--lock-margin longer
// than the lock period: one PutObjectRetention per file). It reports the
// requests each run sends; see docs/PERFORMANCE.md.
func BenchmarkHistoryNoChange(b *testing.B) {
	cases := []struct {
		name   string
		bucket func(e *env) string
		args   []string
	}{
		{"plain", func(e *env) string { return e.bucket }, nil},
		{"versioned", func(e *env) string { e.versioned(); return e.bucket }, nil},
		{"locked", func(e *env) string { return e.srv.NewLockedBucket(b) }, []string{"--lock-days", "30"}},
		{"locked-all-due", func(e *env) string { return e.srv.NewLockedBucket(b) }, []string{"--lock-days", "1", "--lock-margin", "2d"}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			e := newEnv(b)
			e.bucket = c.bucket(e)
			e.target = "s3://" + e.bucket + "/" + e.prefix
			for i := range 1000 {
				writeRandom(b, filepath.Join(e.src, fmt.Sprintf("d%02d", i%20), fmt.Sprintf("f%04d", i)), int64(1024+i))
			}
			args := append([]string{"sync", e.src, e.target, "-r", e.recipient, "--catalog", e.catalog, "-q"}, c.args...)
			if res := e.run(append(args, "--endpoint", e.srv.Endpoint)...); res.code != 0 {
				b.Fatalf("first sync: exit %d\n%s", res.code, res.stderr)
			}
			proxy := s3test.StartProxy(b, e.srv.Endpoint)
			runs := 0
			for b.Loop() {
				if res := e.run(append(args, "--endpoint", proxy.URL)...); res.code != 0 {
					b.Fatalf("no-change sync: exit %d\n%s", res.code, res.stderr)
				}
				runs++
			}
			b.ReportMetric(float64(proxy.Requests(""))/float64(runs), "requests/op")
		})
	}
}
