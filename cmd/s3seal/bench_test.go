package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	gosync "sync"
	"testing"
	"time"

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

// BenchmarkSyncBandwidthLimit uploads 64 MiB with --bwlimit 1M, about a
// minute per iteration, and reports the rate on the wire (wire-MiB/s) and
// the whole run's (run-MiB/s); it fails if the first is not within 10% of
// 1 MiB/s or the second is over it by more than 10%. make bench runs it:
//
//	go test -run '^$' -bench SyncBandwidthLimit -benchtime 1x ./cmd/s3seal
//
// The rate is measured where the bytes arrive, at a proxy in front of the
// gateway, from the first to the last byte of the file's object. The run's
// own "seconds" also count its start (catalog, scan, hashing) and its end
// (completing the upload), which take longer on a slower or busier machine
// and would lower the rate by as much; they bound the rate from above only.
// make test checks the limiter's arithmetic on a virtual clock instead
// (TestLimitedBodiesArePacedAtTheRate in sync/s3store).
func BenchmarkSyncBandwidthLimit(b *testing.B) {
	for b.Loop() {
		wire, run := syncAtBandwidthLimit(b)
		b.ReportMetric(wire, "wire-MiB/s")
		b.ReportMetric(run, "run-MiB/s")
		if wire < 0.9 || wire > 1.1 {
			b.Errorf("--bwlimit 1M: %.3f MiB/s on average on the wire; want 1 MiB/s within 10%%", wire)
		}
		if run > 1.1 {
			b.Errorf("--bwlimit 1M: %.3f MiB/s over the whole run; want at most 1 MiB/s plus 10%%", run)
		}
	}
}

// syncAtBandwidthLimit syncs 64 MiB with --bwlimit 1M through a proxy and
// returns the MiB/s of the object's bytes from the first to the last to
// reach the proxy, and the MiB/s of the whole run.
func syncAtBandwidthLimit(b *testing.B) (wire, run float64) {
	e := newEnv(b)
	writeRandom(b, filepath.Join(e.src, "big"), 64<<20)
	proxy := s3test.StartProxy(b, e.srv.Endpoint)
	type span struct {
		first, last         time.Time
		bytesAtFirst, bytes int64
	}
	var mu gosync.Mutex
	spans := map[string]*span{}
	proxy.OnBody(func(r *s3test.Request, _ int64) {
		if r.Op != s3test.OpUploadPart && r.Op != s3test.OpPutObject {
			return
		}
		now, sent := time.Now(), sentFor(proxy, r.Key)
		mu.Lock()
		defer mu.Unlock()
		s := spans[r.Key]
		if s == nil {
			s = &span{first: now, bytesAtFirst: sent}
			spans[r.Key] = s
		}
		if now.After(s.last) {
			s.last = now
		}
		s.bytes = max(s.bytes, sent)
	})
	res := e.run("sync", e.src, e.target, "-r", e.recipient, "--endpoint", proxy.URL, "--json",
		"--catalog", e.catalog, "--bwlimit", "1M", "--no-mirror")
	if res.code != 0 {
		b.Fatalf("sync --bwlimit 1M: exit %d\n%s", res.code, res.stderr)
	}
	var sum struct {
		BytesSent int64   `json:"bytes_sent"`
		Seconds   float64 `json:"seconds"`
	}
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
		b.Fatal(err)
	}
	row := e.row("big")
	mu.Lock()
	s := spans[row.ObjectKey]
	mu.Unlock()
	if s == nil || s.bytes != row.CipherSize || sum.BytesSent < 64<<20 {
		b.Fatalf("the proxy received %+v for the object %s, the run sent %d bytes; want its %d bytes",
			s, row.ObjectKey, sum.BytesSent, row.CipherSize)
	}
	wire = float64(s.bytes-s.bytesAtFirst) / s.last.Sub(s.first).Seconds() / (1 << 20)
	run = float64(sum.BytesSent) / sum.Seconds / (1 << 20)
	b.Logf("the object's %d bytes arrived in %.1f s: %.3f MiB/s; the run took %.1f s: %.3f MiB/s",
		s.bytes, s.last.Sub(s.first).Seconds(), wire, sum.Seconds, run)
	return wire, run
}
