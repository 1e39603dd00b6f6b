package catalog

import (
	"fmt"
	"testing"
)

// BenchmarkLookup measures the per-file cost of the no-change sync, which
// looks up every scanned path in a catalog of 200,000 rows.
func BenchmarkLookup(b *testing.B) {
	const rows = 200_000
	db := openTest(b)
	paths := make([]string, rows)
	chunk := make([]File, 0, 10_000)
	for i := range paths {
		paths[i] = fmt.Sprintf("photos/%04d/%02d/IMG_%06d.jpg", 2000+i%25, i%12, i)
		chunk = append(chunk, sampleFile(i, paths[i]))
		if len(chunk) == cap(chunk) {
			if err := db.Put(chunk...); err != nil {
				b.Fatal(err)
			}
			chunk = chunk[:0]
		}
	}
	i := 0
	for b.Loop() {
		// A stride through the rows so consecutive lookups hit different pages.
		path := paths[(i*7919)%rows]
		if _, ok, err := db.Lookup(path); !ok || err != nil {
			b.Fatalf("Lookup(%q) = %v, %v", path, ok, err)
		}
		i++
	}
}

// BenchmarkBatchPut measures recording one confirmed upload through a Batch
// of the size the sync engine uses.
func BenchmarkBatchPut(b *testing.B) {
	db := openTest(b)
	batch := db.NewBatch(DefaultBatchSize)
	i := 0
	for b.Loop() {
		if err := batch.Put(sampleFile(i, fmt.Sprintf("dir/%07d", i))); err != nil {
			b.Fatal(err)
		}
		i++
	}
	if err := batch.Flush(); err != nil {
		b.Fatal(err)
	}
}
