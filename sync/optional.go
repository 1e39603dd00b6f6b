package sync

import (
	"fmt"
	"strconv"
	gosync "sync"
	"time"

	"github.com/s3seal/s3seal/catalog"
)

// Some S3 servers lack parts of S3 that s3seal can do without. A run that
// gets ErrNotImplemented for one of the optional operations below goes on
// without it, warns once what is lost (an info event with reason
// ReasonUnsupported), and records in the catalog that the target's server
// lacks it, so that later runs do not ask again (they report it with
// ReasonUnsupportedKnown). The record goes with the catalog mirror: it
// describes the target, not this machine.

// The optional operations, named as S3 names them.
const (
	OpListUploads = "ListMultipartUploads"
	OpListParts   = "ListParts"
)

// optionalOps are the optional operations in report order, with what a run
// gives up without each.
var optionalOps = []struct{ op, lost string }{
	{OpListUploads, "unfinished multipart uploads that no catalog knows (left by a crash before the upload was recorded, or by another tool) are neither reported nor aborted; abort them with the server's own tools or a bucket lifecycle rule"},
	{OpListParts, "an interrupted multipart upload cannot be checked and resumed: it is aborted and sent again from the start"},
}

// Reasons of the info events about optional operations; Path is the
// operation.
const (
	ReasonUnsupported      = "unsupported"       // the server answered that it lacks the operation; Err says what is lost
	ReasonUnsupportedKnown = "unsupported-known" // the catalog records that it lacks it: not asked
)

// settingLacks is the catalog setting recording that the target's server
// lacks op; its value is the Unix time a run learnt it.
func settingLacks(op string) string { return "server_lacks_" + op }

// Lacking is an optional S3 operation the target's server is recorded to
// lack.
type Lacking struct {
	Op    string    // OpListUploads or OpListParts
	Lost  string    // what runs do without it
	Since time.Time // when a run learnt it
}

// ServerLacks returns the optional operations db records the target's
// server to lack.
func ServerLacks(db *catalog.DB) ([]Lacking, error) {
	var out []Lacking
	for _, o := range optionalOps {
		value, ok, err := db.Setting(settingLacks(o.op))
		if err != nil {
			return nil, err
		}
		if ok {
			unix, _ := strconv.ParseInt(string(value), 10, 64)
			out = append(out, Lacking{Op: o.op, Lost: o.lost, Since: time.Unix(unix, 0)})
		}
	}
	return out, nil
}

// optional is what a run knows of the server's optional operations: what
// the catalog recorded when the run began, and what the run learnt since.
type optional struct {
	db     *catalog.DB
	report *reporter
	record bool // write what is learnt to the catalog (not in a dry run or an audit)

	mu      gosync.Mutex
	lacking map[string]bool
}

// loadOptional reads what db records of the server's optional operations
// and reports each one it lacks, once.
func loadOptional(db *catalog.DB, r *reporter, record bool) (*optional, error) {
	known, err := ServerLacks(db)
	if err != nil {
		return nil, err
	}
	o := &optional{db: db, report: r, record: record, lacking: make(map[string]bool)}
	for _, l := range known {
		o.lacking[l.Op] = true
		r.report(Event{Kind: EventInfo, Reason: ReasonUnsupportedKnown, Path: l.Op,
			Err: fmt.Errorf("the server lacks %s (found %s), so it is not asked: %s", l.Op, l.Since.UTC().Format(time.DateOnly), l.Lost)})
	}
	return o, nil
}

// lacks reports whether the server is known to lack op.
func (o *optional) lacks(op string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.lacking[op]
}

// learn notes that the server answered op with cause, an error matching
// ErrNotImplemented. The first time in a run it warns what is lost and,
// unless the run changes nothing, records it in the catalog.
func (o *optional) learn(op string, cause error) error {
	o.mu.Lock()
	first := !o.lacking[op]
	o.lacking[op] = true
	o.mu.Unlock()
	if !first {
		return nil
	}
	lost := ""
	for _, opt := range optionalOps {
		if opt.op == op {
			lost = opt.lost
		}
	}
	err := fmt.Errorf("the server lacks %s (%w), so %s", op, cause, lost)
	if o.record {
		err = fmt.Errorf("%w; later runs do not ask", err)
	}
	o.report.report(Event{Kind: EventInfo, Reason: ReasonUnsupported, Path: op, Err: err})
	if !o.record {
		return nil
	}
	return o.db.SetSetting(settingLacks(op), []byte(strconv.FormatInt(time.Now().Unix(), 10)))
}
