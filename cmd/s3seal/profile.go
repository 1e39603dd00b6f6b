package main

import (
	"os"
	"runtime/pprof"
)

// startProfile writes a CPU profile of the whole run to the file named by
// S3SEAL_CPUPROFILE, when that variable is set, for `go tool pprof`. It is a
// developer aid (see docs/PERFORMANCE.md), deliberately not a flag: it
// changes nothing a user relies on. The returned func ends the profile.
func startProfile() (stop func()) {
	path := os.Getenv("S3SEAL_CPUPROFILE")
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
