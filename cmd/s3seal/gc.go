package main

import (
	"os"
	"runtime/debug"
)

// A run's long-lived memory is its buffer pools, of a size known before it
// starts; nearly everything else it allocates (per request, per file, per
// batch) is garbage at once. With the default GOGC of 100 the collector
// runs each time that garbage equals the small live heap, which measured
// as 15-25% of the CPU of a sync or restore of small files. tuneGC lets the
// heap grow to five times its live size between collections, and sets a
// soft memory limit of the pools and gcHeadroom, so a run with full pools
// collects as often as before instead of growing. GOGC and GOMEMLIMIT in
// the environment, when set, win.
const (
	gcPercent  = 400
	gcHeadroom = 96 << 20
)

// tuneGC sets the collector for a run whose pools hold at most pooled
// bytes.
func tuneGC(pooled int64) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(pooled + gcHeadroom)
	}
}
