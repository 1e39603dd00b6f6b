package sync

import (
	gosync "sync"
)

// EventKind says what an Event reports.
type EventKind string

// The kinds of Event. Their string values are part of the --json schema.
const (
	EventScan     EventKind = "scan"     // the work ahead: Count files of Size bytes in all
	EventPlan     EventKind = "plan"     // an action decided before execution (Reason says which)
	EventStart    EventKind = "start"    // a file transfer started
	EventProgress EventKind = "progress" // Bytes more bytes of Path were sent or received
	EventDone     EventKind = "done"     // a file was uploaded, copied or restored
	EventSkip     EventKind = "skip"     // a file needed no work
	EventDelete   EventKind = "delete"   // an object was deleted
	EventFail     EventKind = "fail"     // a file failed; the run goes on
	EventWarn     EventKind = "warn"     // something was passed over (symlink, special file)
	EventInfo     EventKind = "info"     // a run-level note (resumed upload, mirror written)
)

// Event is one thing the engine reports. Path is relative to the source (or
// the destination for a restore) and slash-separated.
type Event struct {
	Kind EventKind
	// Path is the file; for run-level events, what the event is about (an
	// object key, the bucket's address, a new signing key's fingerprint).
	Path string
	// Action is, for plan events, what will be done: upload, resume, copy,
	// delete, create-bucket (and push-mirror for the info event of a push).
	Action string
	// From is, for a copy, the path whose object is copied.
	From   string
	Reason string // a short code: "new", "changed", "remote-missing", "resumed", ...
	Size   int64  // the file's plaintext size, when known
	Bytes  int64  // bytes moved, for progress and done events
	Count  int    // files, for scan events
	Err    error  // for fail and warn events
}

// Reporter receives events. The engine serializes calls, so a Reporter needs
// no locking of its own; it must not block for long.
type Reporter func(Event)

// reporter wraps a Reporter with a mutex and a nil check.
type reporter struct {
	mu gosync.Mutex
	fn Reporter
}

func (r *reporter) report(e Event) {
	if r == nil || r.fn == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fn(e)
}
