package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	gosync "sync"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/s3seal/s3seal/sync"
)

// largeFile is the size from which a file in flight gets its own bar.
const largeFile = 8 << 20

// progressState is what a run has done so far, folded from engine events.
// It is plain data: the renderers read it, the tests drive it.
type progressState struct {
	files, doneFiles int   // files to look at (from the scan event), and finished
	bytes, doneBytes int64 // their plaintext bytes, and those finished or moved
	known            bool  // a scan event gave the totals
	moved            int64 // bytes sent or received in this run: the rate
	inflight         map[string]*fileProgress
}

type fileProgress struct {
	size, done int64
	started    time.Time
}

// apply folds one event into the state. A file is finished when it is
// done, skipped or failed; its bytes count as finished then, or as they move.
func (s *progressState) apply(e sync.Event, now time.Time) {
	if s.inflight == nil {
		s.inflight = make(map[string]*fileProgress)
	}
	f := s.inflight[e.Path]
	switch e.Kind {
	case sync.EventScan:
		// The scan hands files over as it goes, so the totals come when it
		// ends, after some of them are done.
		s.files, s.bytes, s.known = e.Count, e.Size, true
	case sync.EventStart:
		s.inflight[e.Path] = &fileProgress{size: e.Size, started: now}
	case sync.EventProgress:
		s.moved += e.Bytes
		if f != nil {
			add := min(e.Bytes, f.size-f.done) // ciphertext is a little larger
			f.done += add
			s.doneBytes += add
		}
	case sync.EventDone, sync.EventSkip, sync.EventFail:
		if e.Kind == sync.EventFail && e.Reason == "unreadable" {
			return // the scan could not read it: not one of the files it counts
		}
		s.doneFiles++
		if f == nil {
			s.doneBytes += e.Size
			if e.Kind == sync.EventDone {
				s.moved += e.Bytes // no progress events came for it
			}
			return
		}
		s.doneBytes += f.size - f.done
		delete(s.inflight, e.Path)
	}
}

// rate is the average transfer rate in bytes per second.
func (s *progressState) rate(elapsed time.Duration) float64 {
	if elapsed <= 0 {
		return 0
	}
	return float64(s.moved) / elapsed.Seconds()
}

// eta is the time left at the current rate, or -1 when unknown. It assumes
// every remaining file must be transferred, so it is an upper bound for a
// sync, where unchanged files go fast.
func (s *progressState) eta(elapsed time.Duration) time.Duration {
	r := s.rate(elapsed)
	if !s.known || r < 1 {
		return -1
	}
	left := max(s.bytes-s.doneBytes, 0)
	return time.Duration(float64(left) / r * float64(time.Second)).Round(time.Second)
}

// filesText is "12/340 files" (or "12 files" before the totals are known).
func (s *progressState) filesText() string {
	if !s.known {
		return fmt.Sprintf("%d files", s.doneFiles)
	}
	return fmt.Sprintf("%d/%d files", s.doneFiles, s.files)
}

// bytesText is "1.2 GiB/5.0 GiB, 3.4 MiB/s, ETA 20m0s".
func (s *progressState) bytesText(elapsed time.Duration) string {
	text := size(s.doneBytes)
	if s.known {
		text += "/" + size(s.bytes)
	}
	text += fmt.Sprintf(", %s/s", size(int64(s.rate(elapsed))))
	if eta := s.eta(elapsed); eta >= 0 {
		text += ", ETA " + eta.String()
	}
	return text
}

// line is the plain status line written when standard error is not a
// terminal: printable characters only.
func (s *progressState) line(elapsed time.Duration) string {
	return fmt.Sprintf("s3seal: progress: %s, %s", s.filesText(), s.bytesText(elapsed))
}

// largeInFlight returns the paths of the large files in flight, sorted.
func (s *progressState) largeInFlight() []string {
	var paths []string
	for p, f := range s.inflight {
		if f.size >= largeFile {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	return paths
}

// progress shows how a long command advances: bars on standard error when
// it is a terminal, else a status line every interval, nothing with
// --quiet. Events only update the state; a ticker renders it, so a burst
// of events costs no drawing.
type progress struct {
	mu    gosync.Mutex // guards state
	state progressState
	start time.Time

	stop     chan struct{}
	finished chan struct{}
	once     gosync.Once

	// On a terminal: the bars, and the writer for lines printed above them.
	bars      *mpb.Progress
	container atomic.Pointer[mpb.Progress] // nil once stopped
	total     *mpb.Bar
	fileBars  map[string]*mpb.Bar
	filesLine atomic.Pointer[string]
	bytesLine atomic.Pointer[string]
}

// newProgress starts rendering to stderr: bars when isTerminal, else a line
// every interval when interval > 0. It returns nil when there is nothing to
// show; a nil *progress accepts every call.
func newProgress(stderr io.Writer, isTerminal bool, interval time.Duration) *progress {
	p := &progress{start: time.Now(), stop: make(chan struct{}), finished: make(chan struct{})}
	switch {
	case isTerminal:
		p.startBars(stderr)
		go p.loop(150*time.Millisecond, p.draw)
	case interval > 0:
		go p.loop(interval, func() {
			p.mu.Lock()
			line := p.state.line(time.Since(p.start))
			p.mu.Unlock()
			fmt.Fprintln(stderr, line)
		})
	default:
		return nil
	}
	return p
}

// stderrIsTerminal reports whether standard error is a terminal.
func stderrIsTerminal() bool { return term.IsTerminal(int(os.Stderr.Fd())) }

// event folds an engine event into the state.
func (p *progress) event(e sync.Event) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.state.apply(e, time.Now())
	p.mu.Unlock()
}

// loop calls render every interval until stopped.
func (p *progress) loop(interval time.Duration, render func()) {
	defer close(p.finished)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			render()
		case <-p.stop:
			return
		}
	}
}

// close stops rendering; on a terminal it draws the final state and leaves
// the bars on screen. Later calls do nothing.
func (p *progress) close() {
	if p == nil {
		return
	}
	p.once.Do(func() {
		close(p.stop)
		<-p.finished
		if p.bars == nil {
			return
		}
		p.draw()
		p.container.Store(nil)
		for _, b := range p.fileBars {
			b.Abort(true)
		}
		p.total.SetTotal(-1, true)
		p.bars.Wait()
	})
}

func (p *progress) startBars(w io.Writer) {
	p.bars = mpb.New(mpb.WithOutput(w), mpb.WithAutoRefresh())
	p.container.Store(p.bars)
	p.fileBars = make(map[string]*mpb.Bar)
	empty := ""
	p.filesLine.Store(&empty)
	p.bytesLine.Store(&empty)
	p.total = p.bars.AddBar(0, mpb.BarPriority(-1),
		mpb.PrependDecorators(decor.Any(func(decor.Statistics) string { return *p.filesLine.Load() }, decor.WC{W: 16, C: decor.DindentRight})),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return *p.bytesLine.Load() })))
}

// draw copies the state into the bars. It never holds p.mu while calling
// mpb, whose decorators read only the atomic lines.
func (p *progress) draw() {
	p.mu.Lock()
	st := p.state
	elapsed := time.Since(p.start)
	files, bytes := st.filesText(), st.bytesText(elapsed)
	large := st.largeInFlight()
	sizes := make(map[string][2]int64, len(large))
	for _, path := range large {
		f := st.inflight[path]
		sizes[path] = [2]int64{f.size, f.done}
	}
	p.mu.Unlock()

	p.filesLine.Store(&files)
	p.bytesLine.Store(&bytes)
	if st.known {
		p.total.SetTotal(max(st.bytes, 1), false)
	}
	p.total.SetCurrent(min(st.doneBytes, max(st.bytes, 1)))
	for path, b := range p.fileBars {
		if _, ok := sizes[path]; !ok {
			b.Abort(true)
			delete(p.fileBars, path)
		}
	}
	for _, path := range large {
		b, ok := p.fileBars[path]
		if !ok {
			b = p.bars.AddBar(sizes[path][0],
				mpb.PrependDecorators(decor.Name("  "+shortPath(path, 30), decor.WC{W: 32, C: decor.DindentRight})),
				mpb.AppendDecorators(decor.CountersKibiByte("% .1f / % .1f"), decor.Percentage(decor.WC{W: 6})))
			p.fileBars[path] = b
		}
		b.SetCurrent(sizes[path][1])
	}
}

// shortPath keeps the end of a long path, which names the file.
func shortPath(path string, n int) string {
	r := []rune(quote(path))
	if len(r) <= n {
		return string(r)
	}
	return "..." + string(r[len(r)-n+3:])
}

// lineWriter writes whole lines above the bars while they are drawn, and
// straight to out otherwise.
type lineWriter struct {
	p   *progress
	out io.Writer
}

func (w lineWriter) Write(b []byte) (int, error) {
	if w.p != nil {
		if c := w.p.container.Load(); c != nil {
			if n, err := c.Write(b); err == nil {
				return n, nil
			}
		}
	}
	return w.out.Write(b)
}

// stdoutIsTerminal reports whether standard output is a terminal.
func stdoutIsTerminal() bool { return term.IsTerminal(int(os.Stdout.Fd())) }

// progressStore reports the objects it downloads as one file each: a scan
// event with the object's size, then start, progress and done events. It
// gives progress to commands whose engine call reports none (catalog pull).
type progressStore struct {
	sync.Objects
	report sync.Reporter
}

func (s progressStore) Get(ctx context.Context, key string) (io.ReadCloser, sync.Object, error) {
	body, obj, err := s.Objects.Get(ctx, key)
	if err != nil {
		return body, obj, err
	}
	n := obj.Size
	name := path.Base(key)
	s.report(sync.Event{Kind: sync.EventScan, Count: 1, Size: n})
	s.report(sync.Event{Kind: sync.EventStart, Path: name, Size: n})
	return &progressBody{ReadCloser: body, name: name, size: n, report: s.report}, obj, nil
}

// withProgress is b with its downloads reported through report.
func withProgress(b sync.Bucket, report sync.Reporter) sync.Bucket {
	b.Objects = progressStore{b.Objects, report}
	return b
}

// progressBody reports the bytes read through it, and a done event at EOF.
type progressBody struct {
	io.ReadCloser
	name   string
	size   int64
	report sync.Reporter
}

func (b *progressBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.report(sync.Event{Kind: sync.EventProgress, Path: b.name, Bytes: int64(n)})
	if err == io.EOF {
		b.report(sync.Event{Kind: sync.EventDone, Path: b.name, Size: b.size, Bytes: b.size})
	}
	return n, err
}
