package catalog

import (
	"fmt"
	"sync"
)

// DefaultBatchSize is the number of rows a Batch commits at once when
// NewBatch is given a size below 1.
const DefaultBatchSize = 1000

// Batch buffers file rows and writes them with Put, n at a time, so that
// recording many small uploads costs few transactions. It is safe for
// concurrent use by several goroutines. Rows put later win over rows put
// earlier for the same path.
type Batch struct {
	db   *DB
	size int

	mu      sync.Mutex
	pending []File
}

// NewBatch returns a Batch that commits every n rows (DefaultBatchSize if
// n < 1). Rows still buffered are committed by Flush, by Batch.Close and by
// db.Close.
func (db *DB) NewBatch(n int) *Batch {
	if n < 1 {
		n = DefaultBatchSize
	}
	b := &Batch{db: db, size: n, pending: make([]File, 0, n)}
	db.mu.Lock()
	if db.batches != nil {
		db.batches[b] = struct{}{}
	}
	db.mu.Unlock()
	return b
}

// Put buffers f, and commits the buffer if it now holds n rows. An error
// from that commit is returned and the rows stay buffered, so a later Put or
// Flush retries them. A row with an invalid path is rejected at once.
func (b *Batch) Put(f File) error {
	if err := checkPath(f.Path); err != nil {
		return fmt.Errorf("record %q in catalog %s: %w", f.Path, b.db.path, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending = append(b.pending, f)
	if len(b.pending) < b.size {
		return nil
	}
	return b.flushLocked()
}

// Flush commits every buffered row in one transaction. On error the rows
// stay buffered.
func (b *Batch) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked()
}

// Pending returns the number of rows buffered and not yet committed.
func (b *Batch) Pending() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.pending)
}

// Close flushes b and detaches it from its DB, so db.Close no longer
// flushes it. b stays usable; Close only ends the DB's interest in it.
func (b *Batch) Close() error {
	err := b.Flush()
	b.db.mu.Lock()
	delete(b.db.batches, b)
	b.db.mu.Unlock()
	return err
}

// flushLocked commits the buffer while b.mu is held. Holding the mutex
// through the commit keeps the order of Puts for one path: a later row can
// never be committed before an earlier one.
func (b *Batch) flushLocked() error {
	if len(b.pending) == 0 {
		return nil
	}
	if err := b.db.Put(b.pending...); err != nil {
		return err
	}
	clear(b.pending)
	b.pending = b.pending[:0]
	return nil
}
