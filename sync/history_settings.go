package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/s3seal/s3seal/catalog"
)

// settingHistory records the TargetHistory a sync last saw, as JSON.
const settingHistory = "history"

// Reasons of the info events about a target's history (see docs/json.md).
const (
	// ReasonHistoryOff: the bucket is not versioned, so a sync overwrites
	// what it replaces. Reported once per target.
	ReasonHistoryOff = "history-off"
	// ReasonHistoryUnsupported: the store cannot keep versions at all.
	// Reported once per target.
	ReasonHistoryUnsupported = "history-unsupported"
	// ReasonHistoryOn: the bucket was seen versioned for the first time.
	ReasonHistoryOn = "history-on"
	// ReasonHistoryUnknown: the bucket's settings could not be read (a
	// credential without s3:GetBucketVersioning); the run goes on.
	ReasonHistoryUnknown = "history-unknown"
)

// TargetHistory is what a target's bucket keeps of the past, as s3seal saw
// it.
type TargetHistory struct {
	HistorySettings
	// Unsupported means the store cannot keep versions: it has no
	// History, or answered the versioning request with NotImplemented.
	Unsupported bool
}

// historyJSON is the catalog form of a TargetHistory.
type historyJSON struct {
	Versioning  string `json:"versioning"`
	ObjectLock  bool   `json:"object_lock"`
	KeepDays    int    `json:"keep_days"`
	Unsupported bool   `json:"unsupported,omitempty"`
}

// RecordedHistory returns the history settings a sync last saw of db's
// target, and false when none has looked yet.
func RecordedHistory(db *catalog.DB) (TargetHistory, bool, error) {
	value, ok, err := db.Setting(settingHistory)
	if err != nil || !ok {
		return TargetHistory{}, false, err
	}
	var j historyJSON
	if err := json.Unmarshal(value, &j); err != nil {
		return TargetHistory{}, false, fmt.Errorf("catalog %s: %w: history setting: %v", db.Path(), catalog.ErrCorrupt, err)
	}
	return TargetHistory{HistorySettings{j.Versioning, j.ObjectLock, j.KeepDays}, j.Unsupported}, true, nil
}

func recordHistory(db *catalog.DB, h TargetHistory) error {
	value, err := json.Marshal(historyJSON{h.Versioning, h.ObjectLock, h.KeepDays, h.Unsupported})
	if err != nil {
		return err
	}
	return db.SetSetting(settingHistory, value)
}

// readHistory asks the bucket what it keeps of prefix's past ("p" or "").
// A bucket without History, or whose store answers NotImplemented, is
// Unsupported.
func readHistory(ctx context.Context, b Bucket, prefix string) (TargetHistory, error) {
	if b.History == nil {
		return TargetHistory{Unsupported: true}, nil
	}
	h, err := b.History.Settings(ctx, listPrefix(prefix))
	if errors.Is(err, ErrNotImplemented) {
		return TargetHistory{Unsupported: true}, nil
	}
	if err != nil {
		return TargetHistory{}, fmt.Errorf("read the history settings of %s: %w", b.url(prefix), err)
	}
	return TargetHistory{HistorySettings: h}, nil
}

// checkHistory reads the bucket's history settings, unless the catalog has
// seen the target versioned, records what it saw, and says once per target
// that history is off. A target seen versioned costs no request (audit
// watches it for changes); any other costs one GetBucketVersioning a run,
// so that turning versioning on is noticed by the next sync.
func (o *run) checkHistory(ctx context.Context, db *catalog.DB, b Bucket, r *reporter) error {
	seen, known, err := RecordedHistory(db)
	if err != nil || known && seen.Versioned() {
		return err
	}
	if o.CreateBucket && o.DryRun {
		return nil // no bucket to ask yet
	}
	now, err := readHistory(ctx, b, o.Prefix)
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, ErrUnreachable) || errors.Is(err, ErrBadCredentials) {
			return err
		}
		r.report(Event{Kind: EventInfo, Reason: ReasonHistoryUnknown, Path: o.Target,
			Err: fmt.Errorf("cannot tell whether the bucket keeps history: %w", err)})
		return nil
	}
	switch {
	case now.Versioned():
		r.report(Event{Kind: EventInfo, Reason: ReasonHistoryOn, Path: o.Target, Err: errors.New(describeHistory(now))})
	case known:
		// Warned when first seen; nothing new to say.
	case now.Unsupported:
		r.report(Event{Kind: EventInfo, Reason: ReasonHistoryUnsupported, Path: o.Target,
			Err: errors.New("the store cannot keep versions, so a sync overwrites the previous upload of a changed file, damaged or not, and --delete removes a deleted one for good")})
	default:
		r.report(Event{Kind: EventInfo, Reason: ReasonHistoryOff, Path: o.Target,
			Err: errors.New("the bucket is not versioned, so a sync overwrites the previous upload of a changed file, damaged or not, and --delete removes a deleted one for good")})
	}
	if o.DryRun || known && now == seen {
		return nil
	}
	return recordHistory(db, now)
}

// describeHistory says in words what h keeps.
func describeHistory(h TargetHistory) string {
	switch {
	case h.Unsupported:
		return "the store cannot keep versions"
	case h.Versioning == "":
		return "versioning is off"
	case !h.Versioned():
		return "versioning is " + h.Versioning
	}
	s := "versioning is Enabled"
	if h.ObjectLock {
		s += ", with Object Lock"
	}
	if h.KeepDays > 0 {
		s += fmt.Sprintf(", non-current versions expire after %d days", h.KeepDays)
	}
	return s
}

// historyLost returns the finding that the bucket keeps less history than
// the catalog last saw, or false. Only losses count: a bucket that keeps
// more is recorded by the next sync.
func historyLost(seen, now TargetHistory) (Finding, bool) {
	var lost []string
	if seen.Versioned() && !now.Versioned() {
		lost = append(lost, "versioning was Enabled, "+now.nowWord())
	}
	if seen.ObjectLock && !now.ObjectLock {
		lost = append(lost, "Object Lock was enabled, is now off")
	}
	if len(lost) == 0 {
		return Finding{}, false
	}
	detail := lost[0]
	for _, l := range lost[1:] {
		detail += "; " + l
	}
	if now.Versioning == "" && !now.Unsupported {
		detail += " (was the bucket deleted and created again?)"
	}
	return Finding{Category: HistoryChanged, Detail: detail}, true
}

// nowWord completes "versioning was Enabled, ...".
func (h TargetHistory) nowWord() string {
	switch {
	case h.Unsupported:
		return "the store now cannot keep versions"
	case h.Versioning == "":
		return "is now off"
	}
	return "is now " + h.Versioning
}
