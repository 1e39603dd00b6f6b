package sync

import (
	"errors"
	"strconv"
	gosync "sync"
	"time"

	"github.com/s3seal/s3seal/catalog"
)

// settingUnstableETags records, in unix seconds, when the target's server
// was first seen to list another ETag than it answered for an object (see
// etagNotice).
const settingUnstableETags = "unstable_etags"

// ReasonUnstableETags is the reason of the info event that says, once per
// target, that the server lists other ETags than it answered.
const ReasonUnstableETags = "unstable-etags"

// errUnstableETags is the sentence of that event.
var errUnstableETags = errors.New("the server lists other ETags than it answered when the objects were uploaded; s3seal records the listed ones, and compares size and modification time where they moved")

// etagNotice says once that the server's ETags do not stay put: its
// listing (or HEAD) reports another ETag for an object than the one it
// answered when the object was written, though nothing wrote it since.
// ETags are tokens the engine only compares, so it copes (it records what
// the listing reports), but the user is told once per target, the first
// time: the catalog remembers it in a setting, and later runs, which see
// the same thing again, stay quiet. A nil etagNotice says nothing.
type etagNotice struct {
	db       *catalog.DB
	report   *reporter
	readOnly bool // tell, but write no setting (a dry run, an audit)
	known    bool // the catalog already knew it when the run began

	once gosync.Once
}

// newETagNotice returns the notice of a run on db's target.
func newETagNotice(db *catalog.DB, r *reporter, readOnly bool) (*etagNotice, error) {
	_, known, err := db.Setting(settingUnstableETags)
	if err != nil {
		return nil, err
	}
	return &etagNotice{db: db, report: r, readOnly: readOnly, known: known}, nil
}

// seen tells, unless the target's catalog already knows it or this run
// told it before, that the server listed another ETag for path's object
// than it had answered.
func (n *etagNotice) seen(path string) {
	if n == nil || n.known {
		return
	}
	n.once.Do(func() {
		e := Event{Kind: EventInfo, Path: path, Reason: ReasonUnstableETags, Err: errUnstableETags}
		if !n.readOnly {
			// Not remembering it only means that the next run tells again.
			if err := n.db.SetSetting(settingUnstableETags, []byte(strconv.FormatInt(time.Now().Unix(), 10))); err != nil {
				e.Err = errors.Join(errUnstableETags, err)
			}
		}
		n.report.report(e)
	})
}
