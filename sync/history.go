package sync

import (
	"context"
	"errors"
	"fmt"
	"time"

	"filippo.io/age"

	"github.com/s3seal/s3seal/catalog"
	"github.com/s3seal/s3seal/cipher"
)

// ErrNoHistory means a past state was asked for that the target cannot
// give: the bucket keeps no versions, or the sync asked for left none.
var ErrNoHistory = errors.New("no history")

// At names a past state of a target: the run ID when not 0, else the
// newest run finished at or before Time.
type At struct {
	ID   int64
	Time time.Time
}

// PickRun returns the run at names among runs (oldest first, as
// catalog.DB.Runs gives them), and whether it is the newest one.
func PickRun(runs []catalog.Run, at At) (catalog.Run, bool, error) {
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		if at.ID != 0 && r.ID == at.ID || at.ID == 0 && r.FinishedAt <= at.Time.UnixNano() {
			return r, i == len(runs)-1, nil
		}
	}
	switch {
	case len(runs) == 0:
		return catalog.Run{}, false, fmt.Errorf("%w: the catalog records no sync", ErrNoHistory)
	case at.ID != 0:
		return catalog.Run{}, false, fmt.Errorf("%w: there is no sync %d; the syncs are 1 to %d", ErrNoHistory, at.ID, runs[len(runs)-1].ID)
	}
	first := time.Unix(0, runs[0].FinishedAt)
	return catalog.Run{}, false, fmt.Errorf("%w: no sync had finished by %s; the first finished at %s",
		ErrNoHistory, at.Time.Format(time.RFC3339), first.Format(time.RFC3339))
}

// PullPast replaces db, a new catalog, with the catalog the target's mirror
// held after run: the mirror version that first held it, which the bucket
// keeps among the mirror's versions. It is judged under trust as
// PullCatalog judges the current one, except that being older than what
// this machine knows is expected (trust.Past is set here); trust should name
// its signer, in trust.Known (the catalog the run was found in) or
// trust.Fingerprint.
func PullPast(ctx context.Context, db *catalog.DB, b Bucket, prefix string, run catalog.Run, identities []age.Identity, trust Trust) (Accepted, error) {
	if b.History == nil {
		return Accepted{}, fmt.Errorf("%w: s3://%s keeps no versions", ErrNoHistory, b.Name)
	}
	if run.MirrorVersion == "" {
		return Accepted{}, fmt.Errorf("%w: the catalog of sync %d was not kept (the bucket was not versioned then, or its push failed)",
			ErrNoHistory, run.ID)
	}
	rc, _, err := b.History.GetVersion(ctx, cipher.MetaKey(prefix, mirrorName), run.MirrorVersion)
	if errors.Is(err, ErrNotFound) {
		return Accepted{}, fmt.Errorf("%w: the catalog of sync %d (mirror version %s) is gone: expired by the bucket's lifecycle rule, or deleted",
			ErrNoHistory, run.ID, run.MirrorVersion)
	}
	if err != nil {
		return Accepted{}, fmt.Errorf("pull catalog of sync %d: %w", run.ID, err)
	}
	defer rc.Close()
	trust.Past = true
	acc, err := ImportCatalog(db, rc, identities, trust)
	if err != nil {
		return Accepted{}, fmt.Errorf("pull catalog of sync %d: %w", run.ID, err)
	}
	return acc, nil
}
