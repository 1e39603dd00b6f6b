package catalog

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

func TestBatchConcurrentPutsCommitEveryN(t *testing.T) {
	const (
		workers   = 8
		perWorker = 2500
		batchSize = 1000
	)
	db := openTest(t)
	batch := db.NewBatch(batchSize)
	before := db.commits.Load()

	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				n := w*perWorker + i
				if err := batch.Put(sampleFile(n, fmt.Sprintf("w%d/f%05d", w, i))); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Batch.Put = %v", err)
	}
	if err := batch.Flush(); err != nil {
		t.Fatalf("Flush() = %v", err)
	}

	total := workers * perWorker
	if n, err := db.Count(); n != total || err != nil {
		t.Fatalf("Count() = %d, %v; want %d", n, err, total)
	}
	if got, want := db.commits.Load()-before, int64(total/batchSize); got != want {
		t.Errorf("%d Puts through NewBatch(%d) took %d transactions; want %d", total, batchSize, got, want)
	}
	want := sampleFile(3*perWorker+42, "w3/f00042")
	if got, ok, err := db.Lookup(want.Path); !ok || err != nil || got != want {
		t.Errorf("Lookup(%q) = %+v, %v, %v; want %+v", want.Path, got, ok, err, want)
	}
}

func TestBatchKeepsOrderForOnePath(t *testing.T) {
	db := openTest(t)
	batch := db.NewBatch(2)
	var last File
	for i := 0; i < 5; i++ { // crosses two automatic commits
		last = sampleFile(i, "same")
		if err := batch.Put(last); err != nil {
			t.Fatal(err)
		}
	}
	if got := batch.Pending(); got != 1 {
		t.Errorf("Pending() = %d; want 1", got)
	}
	if err := batch.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, _, err := db.Lookup("same"); err != nil || got != last {
		t.Fatalf("Lookup(same) = %+v, %v; want the last Put %+v", got, err, last)
	}
}

func TestCloseFlushesBatches(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	batch := db.NewBatch(100)
	for i := 0; i < 5; i++ {
		if err := batch.Put(sampleFile(i, fmt.Sprint("f", i))); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := db.Count(); n != 0 {
		t.Fatalf("Count() before the batch is full = %d; want 0", n)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	db = openAt(t, path)
	if n, err := db.Count(); n != 5 || err != nil {
		t.Fatalf("Count() after Close and reopen = %d, %v; want 5", n, err)
	}
}

func TestBatchRejectsEmptyPath(t *testing.T) {
	db := openTest(t)
	batch := db.NewBatch(1)
	if err := batch.Put(File{}); err == nil {
		t.Fatal("Batch.Put(empty path) = nil; want an error")
	}
	if got := batch.Pending(); got != 0 {
		t.Fatalf("Pending() after a rejected Put = %d; want 0", got)
	}
}
