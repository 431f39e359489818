package engine

import (
	"context"
	"log/slog"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// How much history the status keeps. A sample every 2s is far below
// anything measurable (a few dozen atomic reads), and 10 minutes of them
// is what a glance at the page needs.
const (
	statusSampleEvery    = 2 * time.Second
	statusHistory        = 10 * time.Minute
	statusLatencyWindow  = time.Minute
	maxRecentDeadLetters = 50
	maxRecentErrors      = 30
	maxReasonBytes       = 300
)

// statusTracker keeps what a status snapshot needs beyond the pipeline's
// live state: the sampled history, the latest dead letters and warnings,
// and the run's lifecycle. The sampler reads the pipeline's own metrics, so
// the record path does no extra work for it.
type statusTracker struct {
	p     *Pipeline
	every time.Duration

	mu        sync.Mutex // guards the fields below
	ring      []rawSample
	next      int // ring index the next sample goes to
	filled    int
	startedAt time.Time
	stoppedAt time.Time
	stopping  bool
	ended     bool
	endErr    string
	deadTotal int64
	dead      []DeadLetterEntry // ring of maxRecentDeadLetters
	deadNext  int
	errs      []LogEntry // ring of maxRecentErrors
	errsNext  int
	// sinkBounds are the sink latency histogram's bucket upper bounds, in
	// seconds, read with the first sample.
	sinkBounds []float64
}

// rawSample holds the pipeline's cumulative counters at one moment; rates
// are the differences of neighbours.
type rawSample struct {
	at                                   time.Time
	in, out, written, rejected           float64
	sinkCount, sinkSum                   float64
	sinkBuckets                          []uint64 // cumulative, per sinkLatency bucket
	inflight                             int64
	steps                                []stepSample
	dropped, skipped, dead, callErrors   float64
	checkpointFails, sourceBlockedEvents float64
}

type stepSample struct {
	in, out, dropped, skipped, dead, callErrors float64
	nsSum, nsCount                              float64
}

func newStatusTracker(p *Pipeline) *statusTracker {
	n := int(statusHistory/statusSampleEvery) + 1
	return &statusTracker{p: p, every: statusSampleEvery, ring: make([]rawSample, n)}
}

// run samples every interval until runCtx ends, and notes when ctx (the
// caller's) ends first: the pipeline is then stopping.
func (st *statusTracker) run(ctx, runCtx context.Context) {
	st.mu.Lock()
	st.startedAt = time.Now()
	st.mu.Unlock()
	st.sample()
	t := time.NewTicker(st.every)
	defer t.Stop()
	stopping := ctx.Done()
	for {
		select {
		case <-runCtx.Done():
			return
		case <-stopping:
			stopping = nil
			st.mu.Lock()
			st.stopping = true
			st.mu.Unlock()
		case <-t.C:
			st.sample()
		}
	}
}

// end records that Run returned with err.
func (st *statusTracker) end(err error) {
	st.sample() // the final totals
	st.mu.Lock()
	defer st.mu.Unlock()
	st.ended, st.stoppedAt = true, time.Now()
	if err != nil {
		st.endErr = cut(redact(err.Error()), 4*maxReasonBytes)
	}
}

// sample reads the pipeline's counters into the next ring slot.
func (st *statusTracker) sample() {
	p := st.p
	var m dto.Metric
	s := rawSample{at: time.Now()}
	s.in = counterValue(p.m.sourceRecords, &m)
	s.out = counterValue(p.m.recordsConfirm, &m)
	s.written = counterValue(p.m.recordsWritten, &m)
	s.checkpointFails = counterValue(p.m.checkpointFails, &m)
	s.sourceBlockedEvents = counterValue(p.m.sourceBlocked, &m)
	s.inflight, _ = p.budget.stats()
	m.Reset()
	if p.m.sinkLatency.Write(&m) == nil {
		h := m.GetHistogram()
		s.sinkCount, s.sinkSum = float64(h.GetSampleCount()), h.GetSampleSum()
		for _, b := range h.GetBucket() {
			s.sinkBuckets = append(s.sinkBuckets, b.GetCumulativeCount())
		}
	}
	var bounds []float64
	if len(s.sinkBuckets) > 0 && st.sinkBounds == nil {
		for _, b := range m.GetHistogram().GetBucket() {
			bounds = append(bounds, b.GetUpperBound())
		}
	}
	s.steps = make([]stepSample, len(p.stageM))
	for i := range p.stageM {
		sm, ss := &p.stageM[i], &s.steps[i]
		ss.in = counterValue(sm.in, &m)
		ss.out = counterValue(sm.out, &m)
		ss.dropped = counterValue(sm.dropped, &m)
		ss.skipped = counterValue(sm.skipped, &m)
		ss.dead = counterValue(sm.deadLettered, &m)
		ss.callErrors = counterValue(sm.callErrors, &m)
		if h, ok := sm.nsPerRecord.(prometheus.Metric); ok {
			m.Reset()
			if h.Write(&m) == nil {
				ss.nsSum, ss.nsCount = m.GetHistogram().GetSampleSum(), float64(m.GetHistogram().GetSampleCount())
			}
		}
		s.dropped += ss.dropped
		s.skipped += ss.skipped
		s.dead += ss.dead
		s.callErrors += ss.callErrors
	}
	s.rejected = s.skipped + s.dead
	st.mu.Lock()
	if bounds != nil {
		st.sinkBounds = bounds
	}
	st.ring[st.next] = s
	st.next = (st.next + 1) % len(st.ring)
	st.filled = min(st.filled+1, len(st.ring))
	st.mu.Unlock()
}

func counterValue(c prometheus.Metric, m *dto.Metric) float64 {
	m.Reset()
	if c.Write(m) != nil {
		return 0
	}
	return m.GetCounter().GetValue()
}

// at returns the i-th oldest sample; mu must be held.
func (st *statusTracker) at(i int) *rawSample {
	return &st.ring[(st.next-st.filled+i+len(st.ring))%len(st.ring)]
}

// fill sets the parts of s that the tracker keeps.
func (st *statusTracker) fill(s *Status, sinceMs int64) {
	p := st.p
	st.mu.Lock()
	defer st.mu.Unlock()
	s.StartedAt, s.StoppedAt = st.startedAt, st.stoppedAt
	s.State = st.state()
	if st.endErr != "" {
		s.Error = st.endErr
	} else if p.isFailed() {
		s.Error = cut(redact(p.failErr.Error()), 4*maxReasonBytes)
	}
	s.Samples = make([]Sample, 0, st.filled)
	for i := 1; i < st.filled; i++ {
		prev, cur := st.at(i-1), st.at(i)
		t := cur.at.UnixMilli()
		if t <= sinceMs {
			continue
		}
		secs := cur.at.Sub(prev.at).Seconds()
		if secs <= 0 {
			continue
		}
		smp := Sample{T: t, In: (cur.in - prev.in) / secs, Out: (cur.out - prev.out) / secs,
			Rejected: (cur.rejected - prev.rejected) / secs, InflightBytes: cur.inflight}
		if n := cur.sinkCount - prev.sinkCount; n > 0 {
			smp.ConfirmMs = (cur.sinkSum - prev.sinkSum) / n * 1000
		}
		s.Samples = append(s.Samples, smp)
	}
	steps := make([]StepStatus, len(p.stages))
	for i, f := range p.stages {
		steps[i].Name = f.Name()
		if d, ok := f.(StageDescriber); ok {
			info := d.StageInfo()
			steps[i].Kind, steps[i].Module, steps[i].ModuleSHA256 = info.Kind, info.Module, info.ModuleSHA256
		}
	}
	if st.filled > 0 {
		last := st.at(st.filled - 1)
		s.Totals = Totals{RecordsIn: int64(last.in), RecordsWritten: int64(last.written), RecordsOut: int64(last.out),
			Dropped: int64(last.dropped), Skipped: int64(last.skipped), DeadLettered: int64(last.dead),
			StageCallErrors: int64(last.callErrors), CheckpointFailures: int64(last.checkpointFails),
			SourceBlocked: int64(last.sourceBlockedEvents)}
		// The window's start: the oldest sample at most a minute older.
		first := last
		for i := st.filled - 2; i >= 0; i-- {
			o := st.at(i)
			if last.at.Sub(o.at) > statusLatencyWindow {
				break
			}
			first = o
		}
		s.Sink.WindowSeconds = last.at.Sub(first.at).Seconds()
		s.Sink.ConfirmP50Ms = quantileMs(st.sinkBounds, first.sinkBuckets, last.sinkBuckets, 0.5)
		s.Sink.ConfirmP99Ms = quantileMs(st.sinkBounds, first.sinkBuckets, last.sinkBuckets, 0.99)
		for i := range steps {
			ls := &last.steps[i]
			ss := &steps[i]
			ss.RecordsIn, ss.RecordsOut, ss.Dropped = int64(ls.in), int64(ls.out), int64(ls.dropped)
			ss.Skipped, ss.DeadLettered, ss.CallErrors = int64(ls.skipped), int64(ls.dead), int64(ls.callErrors)
			if n := ls.nsCount - first.steps[i].nsCount; n > 0 {
				ss.NsPerRecord = (ls.nsSum - first.steps[i].nsSum) / n
			} else if ls.nsCount > 0 {
				ss.NsPerRecord = ls.nsSum / ls.nsCount
			}
		}
	}
	s.Steps = steps
	s.DeadLetters.Total = st.deadTotal
	s.DeadLetters.Recent = ringCopy(st.dead, st.deadNext)
	s.Errors = ringCopy(st.errs, st.errsNext)
}

// state names the pipeline's lifecycle stage; mu must be held.
func (st *statusTracker) state() string {
	p := st.p
	switch {
	case st.ended && (st.endErr != "" || p.isFailed()):
		return "failed"
	case st.ended:
		return "stopped"
	case !p.started.Load():
		return "not_started"
	case p.isFailed():
		return "failed"
	case st.stopping:
		return "stopping"
	case p.running.Load():
		return "running"
	default:
		return "starting"
	}
}

// ringCopy returns a ring's entries oldest first; next is where the next
// entry goes once the ring is full.
func ringCopy[T any](ring []T, next int) []T {
	out := make([]T, 0, len(ring))
	out = append(out, ring[next:]...)
	return append(out, ring[:next]...)
}

func pushRing[T any](ring *[]T, next *int, capacity int, v T) {
	if len(*ring) < capacity {
		*ring = append(*ring, v)
		return
	}
	(*ring)[*next] = v
	*next = (*next + 1) % capacity
}

// quantileMs interpolates the q-quantile of the observations between two
// cumulative bucket snapshots, in milliseconds.
func quantileMs(bounds []float64, from, to []uint64, q float64) float64 {
	if len(to) == 0 || len(to) != len(bounds) {
		return 0
	}
	delta := func(i int) float64 {
		d := float64(to[i])
		if i < len(from) {
			d -= float64(from[i])
		}
		return d
	}
	total := delta(len(to) - 1)
	if total <= 0 {
		return 0
	}
	rank := q * total
	lower, below := 0.0, 0.0
	for i := range bounds {
		c := delta(i)
		if c >= rank {
			in := c - below
			if in <= 0 {
				return bounds[i] * 1000
			}
			return (lower + (bounds[i]-lower)*(rank-below)/in) * 1000
		}
		lower, below = bounds[i], c
	}
	// Past the last bound (observations in the +Inf bucket): report the
	// last bound, the histogram knows no more.
	return bounds[len(bounds)-1] * 1000
}

// deadLetterRecorder wraps the dead-letter sink to keep where the latest
// dead letters came from and why, read from the tags the engine adds to
// them (see deadLetterRecord).
type deadLetterRecorder struct {
	Sink
	st *statusTracker
}

// Write implements [Sink].
func (d deadLetterRecorder) Write(ctx context.Context, recs []Record, c Confirmer) error {
	d.st.recordDeadLetters(recs)
	return d.Sink.Write(ctx, recs, c)
}

func (st *statusTracker) recordDeadLetters(recs []Record) {
	now := time.Now()
	st.mu.Lock()
	defer st.mu.Unlock()
	for i := range recs {
		r := &recs[i]
		e := DeadLetterEntry{Time: now, Logstore: r.Identity.Logstore, Shard: r.Identity.Shard, Cursor: r.Identity.Cursor, Index: r.Identity.Index}
		for _, tag := range r.Tags {
			switch string(tag.Key) {
			case DeadLetterErrorTag:
				e.Reason = cut(redact(string(tag.Value)), maxReasonBytes)
			case DeadLetterStageTag:
				e.Stage = cut(string(tag.Value), 100)
			}
		}
		st.deadTotal++
		pushRing(&st.dead, &st.deadNext, maxRecentDeadLetters, e)
	}
}

// recordLog keeps a warning or error the pipeline logged.
func (st *statusTracker) recordLog(r slog.Record, attrs []slog.Attr) {
	msg := r.Message
	add := func(a slog.Attr) bool {
		if a.Key == "pipeline" {
			return true // the page names the pipeline already
		}
		msg += " " + a.Key + "=" + strconv.Quote(a.Value.String())
		return len(msg) < 2*maxReasonBytes
	}
	for _, a := range attrs {
		add(a)
	}
	r.Attrs(add)
	e := LogEntry{Time: r.Time, Level: r.Level.String(), Message: cut(redact(msg), 2*maxReasonBytes)}
	st.mu.Lock()
	pushRing(&st.errs, &st.errsNext, maxRecentErrors, e)
	st.mu.Unlock()
}

// warnCapture is a log handler that passes every entry on and also keeps
// warnings and errors for the status.
type warnCapture struct {
	next  slog.Handler
	st    *statusTracker
	attrs []slog.Attr
}

func (h warnCapture) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn || h.next.Enabled(ctx, l)
}

func (h warnCapture) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		h.st.recordLog(r, h.attrs)
	}
	if h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h warnCapture) WithAttrs(attrs []slog.Attr) slog.Handler {
	h.attrs = append(h.attrs[:len(h.attrs):len(h.attrs)], attrs...)
	h.next = h.next.WithAttrs(attrs)
	return h
}

func (h warnCapture) WithGroup(name string) slog.Handler {
	h.next = h.next.WithGroup(name)
	return h
}

// userinfo matches the credentials part of a URL (scheme://user:pass@).
var userinfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@`)

// redact removes URL credentials from a message: the status is served to
// whoever reaches the listener, and errors may quote a configured URL.
func redact(s string) string {
	return userinfo.ReplaceAllString(s, "${1}REDACTED@")
}

// cut shortens s to at most n bytes, on a rune boundary, marking the cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && s[i]&0xC0 == 0x80 {
		i--
	}
	return s[:i] + "…"
}
