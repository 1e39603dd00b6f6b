package main

import (
	"os"
	"runtime"
	"runtime/pprof"
)

// startProfile writes a CPU profile of the whole run to the file named by
// S3SEAL_CPUPROFILE, and a heap profile (allocations over the whole run,
// and what was still in use at its end) to the file named by
// S3SEAL_MEMPROFILE, when those variables are set, for `go tool pprof`.
// They are developer aids (see docs/PERFORMANCE.md), deliberately not
// flags: they change nothing a user relies on. The returned func ends the
// profiles.
func startProfile() (stop func()) {
	stopCPU := startCPUProfile(os.Getenv("S3SEAL_CPUPROFILE"))
	memPath := os.Getenv("S3SEAL_MEMPROFILE")
	return func() {
		stopCPU()
		if memPath != "" {
			writeHeapProfile(memPath)
		}
	}
}

func startCPUProfile(path string) (stop func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		warnf("cpu profile: %v", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		warnf("cpu profile: %v", err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

func writeHeapProfile(path string) {
	f, err := os.Create(path)
	if err != nil {
		warnf("heap profile: %v", err)
		return
	}
	defer f.Close()
	runtime.GC() // up-to-date in-use figures
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		warnf("heap profile: %v", err)
	}
}
