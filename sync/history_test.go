package sync_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/s3seal/s3seal/catalog"
	"github.com/s3seal/s3seal/sync"
)

// fakeHistory is a History whose settings the test sets, and which counts
// the times it was asked for them.
type fakeHistory struct {
	settings sync.HistorySettings
	err      error
	asked    int
}

func (f *fakeHistory) Settings(ctx context.Context, prefix string) (sync.HistorySettings, error) {
	f.asked++
	return f.settings, f.err
}

var errNotHere = errors.New("not used by these tests")

func (f *fakeHistory) Versions(context.Context, string, func(sync.Version) error) error {
	return errNotHere
}

func (f *fakeHistory) GetVersion(context.Context, string, string) (io.ReadCloser, sync.Object, error) {
	return nil, sync.Object{}, errNotHere
}

func (f *fakeHistory) Retain(context.Context, string, string, sync.Retention) error {
	return errNotHere
}

var (
	unversioned = sync.HistorySettings{}
	enabled     = sync.HistorySettings{Versioning: "Enabled", KeepDays: 30}
	locked      = sync.HistorySettings{Versioning: "Enabled", ObjectLock: true}
	suspended   = sync.HistorySettings{Versioning: "Suspended"}
)

// historyStep is one sync of a target whose bucket answers settings (or err).
type historyStep struct {
	settings sync.HistorySettings
	err      error
	dryRun   bool
	want     []string // the reasons of the history events
	asked    int      // Settings calls the run makes
}

// TestHistoryWarnedOnce runs syncs of one target while its bucket's
// settings change, and checks which runs ask the bucket and which say what
// about its history: an unversioned target is warned about once and asked
// on every run, a versioned one is asked until it is first seen versioned.
func TestHistoryWarnedOnce(t *testing.T) {
	denied := fmt.Errorf("get bucket versioning s3://mem: %w", sync.ErrAccessDenied)
	notImplemented := fmt.Errorf("get bucket versioning s3://mem: %w", sync.ErrNotImplemented)
	for _, tc := range []struct {
		name    string
		history bool // the bucket has a History
		steps   []historyStep
	}{
		{"unversioned", true, []historyStep{
			{settings: unversioned, want: []string{sync.ReasonHistoryOff}, asked: 1},
			{settings: unversioned, asked: 1},
			{settings: unversioned, asked: 1},
		}},
		{"versioned", true, []historyStep{
			{settings: enabled, want: []string{sync.ReasonHistoryOn}, asked: 1},
			{settings: enabled, asked: 0},
		}},
		{"turned on later", true, []historyStep{
			{settings: unversioned, want: []string{sync.ReasonHistoryOff}, asked: 1},
			{settings: suspended, asked: 1},
			{settings: locked, want: []string{sync.ReasonHistoryOn}, asked: 1},
			{settings: suspended, asked: 0}, // audit's business now
		}},
		{"dry run first", true, []historyStep{
			{settings: unversioned, dryRun: true, want: []string{sync.ReasonHistoryOff}, asked: 1},
			{settings: unversioned, want: []string{sync.ReasonHistoryOff}, asked: 1},
			{settings: unversioned, asked: 1},
		}},
		{"store cannot version", true, []historyStep{
			{err: notImplemented, want: []string{sync.ReasonHistoryUnsupported}, asked: 1},
			{err: notImplemented, asked: 1},
		}},
		{"no History", false, []historyStep{
			{want: []string{sync.ReasonHistoryUnsupported}},
			{},
		}},
		{"settings denied", true, []historyStep{
			{err: denied, want: []string{sync.ReasonHistoryUnknown}, asked: 1},
			{err: denied, want: []string{sync.ReasonHistoryUnknown}, asked: 1},
			{settings: unversioned, want: []string{sync.ReasonHistoryOff}, asked: 1},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store, _ := newMemBucket()
			fx := newFixture(t, store.Bucket())
			fake := &fakeHistory{}
			if tc.history {
				fx.bucket.History = fake
			}
			pending := 0 // files no run has uploaded yet
			for i, step := range tc.steps {
				fx.write(fmt.Sprintf("file-%d", i), []byte(fmt.Sprint("content ", i)))
				pending++
				fake.settings, fake.err, fake.asked = step.settings, step.err, 0
				sum, events, err := fx.syncDry(step.dryRun)
				if err != nil || sum.Failed > 0 {
					t.Fatalf("sync %d: %v, %d failed; want it to run as ever", i+1, err, sum.Failed)
				}
				if sum.Uploaded != pending {
					t.Errorf("sync %d uploaded %d files; want the %d new ones", i+1, sum.Uploaded, pending)
				}
				if !step.dryRun {
					pending = 0
				}
				if got := historyReasons(events); !slices.Equal(got, step.want) {
					t.Errorf("sync %d (bucket %+v, %v) reported %q; want %q", i+1, step.settings, step.err, got, step.want)
				}
				if fake.asked != step.asked {
					t.Errorf("sync %d asked for the bucket's settings %d times; want %d", i+1, fake.asked, step.asked)
				}
			}
		})
	}
}

// TestHistoryWarningSaysWhat checks the words of the warning: what is at
// stake, about the right target.
func TestHistoryWarningSaysWhat(t *testing.T) {
	store, _ := newMemBucket()
	fx := newFixture(t, store.Bucket())
	fx.bucket.History = &fakeHistory{}
	fx.write("a", []byte("a"))
	_, events, err := fx.sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if e.Reason != sync.ReasonHistoryOff {
			continue
		}
		if e.Kind != sync.EventInfo || e.Path != "s3://mem/"+prefix || e.Err == nil ||
			!strings.Contains(e.Err.Error(), "not versioned") || !strings.Contains(e.Err.Error(), "overwrites") {
			t.Errorf("history-off event %+v; want an info event about s3://mem/%s saying that syncs overwrite", e, prefix)
		}
		return
	}
	t.Errorf("no history-off event in %v", events)
}

// syncDry is fixture.sync, with or without DryRun.
func (fx *fixture) syncDry(dryRun bool) (sync.Summary, []sync.Event, error) {
	fx.t.Helper()
	var events []sync.Event
	sum, err := sync.Sync(context.Background(), fx.db, fx.bucket, sync.Options{
		Source: fx.src, Target: "s3://" + fx.bucket.Name + "/" + prefix, Prefix: prefix,
		Keys: func(context.Context, *catalog.DB, sync.Bucket) ([]age.Recipient, string, error) {
			return []age.Recipient{fx.id.Recipient()}, "test", nil
		},
		DryRun: dryRun, NoMirror: true, Jobs: jobs, PartSize: partSize,
		Report: func(e sync.Event) { events = append(events, e) },
	})
	return sum, events, err
}

func historyReasons(events []sync.Event) []string {
	var reasons []string
	for _, e := range events {
		if strings.HasPrefix(e.Reason, "history-") {
			reasons = append(reasons, e.Reason)
		}
	}
	return reasons
}

// TestAuditHistoryChanged syncs a target while its bucket has seen
// settings, changes them and audits: a loss of versioning or Object Lock is
// a history-changed finding, a gain is none, and settings that cannot be
// read are a failure, not a finding.
func TestAuditHistoryChanged(t *testing.T) {
	for _, tc := range []struct {
		name   string
		seen   sync.HistorySettings
		now    sync.HistorySettings
		err    error
		detail string // of the finding; "" for none
		failed int
		asked  int
	}{
		{name: "unchanged", seen: enabled, now: enabled, asked: 1},
		{name: "suspended", seen: enabled, now: suspended, detail: "versioning was Enabled, is now Suspended", asked: 1},
		{name: "recreated", seen: locked, now: unversioned, asked: 1,
			detail: "versioning was Enabled, is now off; Object Lock was enabled, is now off (was the bucket deleted and created again?)"},
		{name: "lock gone", seen: locked, now: enabled, detail: "Object Lock was enabled, is now off", asked: 1},
		{name: "lock gained", seen: enabled, now: locked, asked: 1},
		{name: "keep days changed", seen: enabled, now: sync.HistorySettings{Versioning: "Enabled", KeepDays: 1}, asked: 1},
		{name: "store cannot version", seen: enabled, err: sync.ErrNotImplemented,
			detail: "versioning was Enabled, the store now cannot keep versions", asked: 1},
		{name: "denied", seen: enabled, err: sync.ErrAccessDenied, failed: 1, asked: 1},
		{name: "never versioned", seen: unversioned, now: enabled, asked: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store, _ := newMemBucket()
			fx := newFixture(t, store.Bucket())
			fake := &fakeHistory{settings: tc.seen}
			fx.bucket.History = fake
			fx.write("a", []byte("a"))
			fx.mustSync()
			fake.settings, fake.err, fake.asked = tc.now, tc.err, 0
			var events []sync.Event
			rep, err := sync.Audit(context.Background(), fx.db, fx.bucket, sync.AuditOptions{
				Source: fx.src, Prefix: prefix, Target: "s3://mem/" + prefix,
				Report: func(e sync.Event) { events = append(events, e) },
			})
			if err != nil {
				t.Fatalf("Audit = %v", err)
			}
			var got []sync.Finding
			for _, f := range rep.Findings {
				if f.Category == sync.HistoryChanged {
					got = append(got, f)
				}
			}
			switch {
			case tc.detail == "" && len(rep.Findings) != 0:
				t.Errorf("Audit found %+v; want nothing", rep.Findings)
			case tc.detail != "" && (len(got) != 1 || got[0].Detail != tc.detail || len(rep.Findings) != 1):
				t.Errorf("Audit found %+v; want one %s finding %q", rep.Findings, sync.HistoryChanged, tc.detail)
			}
			if rep.Failed != tc.failed {
				t.Errorf("Audit failed %d (events %v); want %d", rep.Failed, events, tc.failed)
			}
			if fake.asked != tc.asked {
				t.Errorf("Audit asked for the settings %d times; want %d", fake.asked, tc.asked)
			}
		})
	}
}
