package engine

import (
	"cmp"
	runtimemetrics "runtime/metrics"
	"slices"
	"time"
)

// Status is a snapshot of a pipeline, as /api/status serves it and the
// status page shows it. docs/operations.md documents every field.
type Status struct {
	Pipeline string `json:"pipeline"`
	// State is not_started, starting, running, stopping, stopped or failed.
	State string `json:"state"`
	// Error is why the pipeline failed, when it did.
	Error     string    `json:"error,omitempty"`
	Now       time.Time `json:"now"`
	StartedAt time.Time `json:"started_at,omitzero"`
	StoppedAt time.Time `json:"stopped_at,omitzero"`
	// SampleIntervalSeconds is the spacing of Samples.
	SampleIntervalSeconds float64 `json:"sample_interval_seconds"`
	Totals                Totals  `json:"totals"`
	// Samples are the rates of the last minutes, oldest first.
	Samples     []Sample         `json:"samples"`
	Sink        SinkStatus       `json:"sink"`
	Memory      MemoryStatus     `json:"memory"`
	Shards      []ShardStatus    `json:"shards"`
	Steps       []StepStatus     `json:"steps"`
	DeadLetters DeadLetterStatus `json:"dead_letters"`
	// Errors are the pipeline's latest warnings and errors, newest last.
	Errors []LogEntry `json:"errors"`
}

// Totals are counts since the pipeline was created.
type Totals struct {
	RecordsIn          int64 `json:"records_in"`
	RecordsWritten     int64 `json:"records_written"`
	RecordsOut         int64 `json:"records_out"`
	Dropped            int64 `json:"dropped"`
	Skipped            int64 `json:"skipped"`
	DeadLettered       int64 `json:"dead_lettered"`
	StageCallErrors    int64 `json:"stage_call_errors"`
	CheckpointFailures int64 `json:"checkpoint_failures"`
	SourceBlocked      int64 `json:"source_blocked"`
}

// Sample is one interval of the pipeline's history.
type Sample struct {
	// T is the end of the interval, in Unix milliseconds.
	T int64 `json:"t"`
	// In and Out are records per second: emitted by the source, confirmed by
	// the sink.
	In  float64 `json:"in"`
	Out float64 `json:"out"`
	// Rejected is records per second that stages rejected (skipped or
	// dead-lettered).
	Rejected float64 `json:"rejected"`
	// ConfirmMs is the mean sink confirmation latency of the writes
	// confirmed in the interval; zero when none was.
	ConfirmMs float64 `json:"confirm_ms"`
	// InflightBytes is the memory budget in use at T.
	InflightBytes int64 `json:"inflight_bytes"`
}

// SinkStatus is the sink's confirmation latency over the last minute.
type SinkStatus struct {
	// ConfirmP50Ms and ConfirmP99Ms are interpolated within the latency
	// histogram's buckets; zero when nothing was confirmed in the window.
	ConfirmP50Ms float64 `json:"confirm_p50_ms"`
	ConfirmP99Ms float64 `json:"confirm_p99_ms"`
	// WindowSeconds is the window actually covered (shorter right after the
	// start).
	WindowSeconds float64 `json:"window_seconds"`
}

// MemoryStatus is the in-flight byte budget and the Go heap.
type MemoryStatus struct {
	BudgetBytes int64 `json:"budget_bytes"`
	InUseBytes  int64 `json:"in_use_bytes"`
	PeakBytes   int64 `json:"peak_bytes"`
	// HeapBytes is the Go heap's live and not yet collected objects.
	HeapBytes uint64 `json:"heap_bytes"`
}

// Shard states in [ShardStatus].
const (
	ShardReading  = "reading"
	ShardFinished = "finished"
	// ShardElsewhere is a shard of the consumer group that another consumer
	// reads; only a [ShardReporter] reports such shards.
	ShardElsewhere = "elsewhere"
)

// ShardStatus is one shard in a [Status]. The engine fills the fields up
// to PendingBatches for the shards open in this process; a source that
// implements [ShardReporter] fills in the rest.
type ShardStatus struct {
	Logstore string `json:"logstore"`
	Shard    int    `json:"shard"`
	// State is ShardReading, ShardFinished or ShardElsewhere.
	State string `json:"state"`
	// CommittedCursor is the next cursor to read: everything before it is
	// confirmed. CommittedTime is its data's receive time.
	CommittedCursor string    `json:"committed_cursor,omitempty"`
	CommittedTime   time.Time `json:"committed_time,omitzero"`
	// LagSeconds is now minus CommittedTime, absent when unknown. A finished
	// shard has none, and a source may set 0 when it saw the head at the
	// committed cursor (an idle shard's committed time ages, but nothing
	// waits behind it).
	LagSeconds *float64 `json:"lag_seconds,omitempty"`
	// PendingBatches are emitted and not yet done.
	PendingBatches int `json:"pending_batches"`

	// Owner is the consumer of the consumer group that holds the shard;
	// empty without a consumer group. For a ShardElsewhere shard it is the
	// consumer that last committed the shard's checkpoint.
	Owner string `json:"owner,omitempty"`
	// BehindGroups is how many log groups the shard's head was past the
	// committed cursor at HeadCheckedAt; BehindLogs estimates the logs they
	// hold. Absent while unknown.
	BehindGroups *int64 `json:"behind_groups,omitempty"`
	BehindLogs   *int64 `json:"behind_logs,omitempty"`
	// HeadCheckedAt is when the source last read the shard's head.
	HeadCheckedAt time.Time `json:"head_checked_at,omitzero"`
}

// ShardReporter is implemented by sources that know more about their shards
// than the engine sees: who holds them in a consumer group, and how far the
// head is past the committed cursor. The pipeline's status calls it.
//
// # Notes
//
//   - ReportShards gets the engine's view of the shards open in this
//     process, sorted, and returns it completed; it may append shards that
//     are not open here (ShardElsewhere).
//   - It is called only while someone asks for the status, at most a few
//     times a second, and must return at once: what needs the network is
//     fetched in the background, rate-limited, and reported on a later
//     call. A source should fetch nothing while nobody asks.
//   - It may be called from any goroutine, before, during and after Run.
type ShardReporter interface {
	ReportShards(shards []ShardStatus) []ShardStatus
}

// StepStatus is one stage in a [Status].
type StepStatus struct {
	Name string `json:"name"`
	// Kind, Module and ModuleSHA256 come from a [StageDescriber]; they are
	// empty for a stage that does not describe itself.
	Kind   string `json:"kind,omitempty"`
	Module string `json:"module,omitempty"`
	// ModuleSHA256 is the hex SHA-256 of the module file, as loaded.
	ModuleSHA256 string `json:"module_sha256,omitempty"`
	// NsPerRecord is the mean processing time per input record over the
	// last minute (or since the start, when nothing ran in the last
	// minute); zero before the first call.
	NsPerRecord  float64 `json:"ns_per_record"`
	RecordsIn    int64   `json:"records_in"`
	RecordsOut   int64   `json:"records_out"`
	Dropped      int64   `json:"dropped"`
	Skipped      int64   `json:"skipped"`
	DeadLettered int64   `json:"dead_lettered"`
	CallErrors   int64   `json:"call_errors"`
}

// StageInfo describes a stage for the status page.
type StageInfo struct {
	// Kind is "module" or "builtin", or another word the stage chooses.
	Kind string
	// Module is the module file or the built-in's name.
	Module string
	// ModuleSHA256 is the hex SHA-256 of the module file.
	ModuleSHA256 string
}

// StageDescriber is implemented by [StageFactory] values that can say what
// they run; the pipeline's status shows it next to the stage's name.
type StageDescriber interface {
	StageInfo() StageInfo
}

// DeadLetterStatus counts dead letters and keeps the latest ones.
type DeadLetterStatus struct {
	Total int64 `json:"total"`
	// Recent are the latest dead letters, newest last, at most
	// maxRecentDeadLetters of them.
	Recent []DeadLetterEntry `json:"recent"`
}

// DeadLetterEntry is one dead-lettered record: where it came from and why
// it was rejected. The record's contents are not kept.
type DeadLetterEntry struct {
	Time     time.Time `json:"time"`
	Stage    string    `json:"stage"`
	Logstore string    `json:"logstore"`
	Shard    int       `json:"shard"`
	Cursor   string    `json:"cursor"`
	Index    int       `json:"index"`
	// Reason is the stage's error, cut to maxReasonBytes.
	Reason string `json:"reason"`
}

// LogEntry is one warning or error the pipeline logged.
type LogEntry struct {
	Time    time.Time `json:"time"`
	Level   string    `json:"level"`
	Message string    `json:"message"`
}

// Status returns a snapshot of the pipeline. Samples holds the samples
// taken after sinceMs (Unix milliseconds; 0 for all of them), so that a
// poller receives only what is new. It is cheap (no lock is held while
// another is taken, nothing is fetched) and safe for concurrent use, before,
// during and after Run.
func (p *Pipeline) Status(sinceMs int64) Status {
	st := p.status
	now := time.Now()
	s := Status{
		Pipeline:              p.name,
		Now:                   now,
		SampleIntervalSeconds: st.every.Seconds(),
	}
	st.fill(&s, sinceMs)
	s.Memory.BudgetBytes = p.cfg.maxInflightBytes
	s.Memory.InUseBytes, s.Memory.PeakBytes = p.budget.stats()
	s.Memory.HeapBytes = heapBytes()
	s.Shards = p.shardStatus(now)
	if r, ok := p.src.(ShardReporter); ok {
		s.Shards = r.ReportShards(s.Shards)
	}
	return s
}

// shardStatus returns the engine's view of its open shards, sorted.
func (p *Pipeline) shardStatus(now time.Time) []ShardStatus {
	p.mu.Lock()
	shards := make([]*shard, 0, len(p.shards))
	for _, sh := range p.shards {
		shards = append(shards, sh)
	}
	p.mu.Unlock()
	out := make([]ShardStatus, 0, len(shards))
	for _, sh := range shards {
		sh.mu.Lock()
		cursor, t := sh.wm.committed()
		pending := sh.wm.pending()
		finished := sh.finished
		sh.mu.Unlock()
		ss := ShardStatus{Logstore: sh.key.Logstore, Shard: sh.key.Shard, State: ShardReading,
			CommittedCursor: cursor, CommittedTime: t, PendingBatches: pending}
		switch {
		case finished && pending == 0:
			ss.State = ShardFinished
			zero := 0.0 // read to its end and confirmed: nothing left
			ss.LagSeconds = &zero
		case !t.IsZero():
			lag := max(now.Sub(t).Seconds(), 0)
			ss.LagSeconds = &lag
		}
		if finished {
			ss.State = ShardFinished
		}
		out = append(out, ss)
	}
	slices.SortFunc(out, func(a, b ShardStatus) int {
		return cmp.Or(cmp.Compare(a.Logstore, b.Logstore), cmp.Compare(a.Shard, b.Shard))
	})
	return out
}

// heapBytes reads the Go heap's object bytes without stopping the world
// (runtime.ReadMemStats would).
func heapBytes() uint64 {
	s := []runtimemetrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	runtimemetrics.Read(s)
	if s[0].Value.Kind() == runtimemetrics.KindUint64 {
		return s[0].Value.Uint64()
	}
	return 0
}
