package bench

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Row is one measured scenario.
type Row struct {
	// Key is the scenario's flag name (raw-decode, library, ...).
	Key string
	// Scenario describes what ran.
	Scenario string
	// Records and Bytes are what the scenario moved: source records, and
	// the raw bytes of their field keys and values.
	Records int64
	Bytes   int64
	// Duration is the measured time; see Report.Notes for each kind.
	Duration time.Duration
	// P50 and P99 are latency percentiles; negative when not measured.
	P50, P99 time.Duration
	// PeakRSS is the peak resident memory of the process under test in
	// bytes; 0 when not measured separately.
	PeakRSS int64
	// CPU is the user+system time of the process under test.
	CPU time.Duration
	// Note qualifies the figures, e.g. a stream count that differs.
	Note string
	// Unavailable, when set, says why the scenario did not run.
	Unavailable string
}

// RecordsPerSecond returns the throughput in records, 0 when not run.
func (r Row) RecordsPerSecond() float64 {
	if r.Unavailable != "" || r.Duration <= 0 {
		return 0
	}
	return float64(r.Records) / r.Duration.Seconds()
}

// MBPerSecond returns the throughput in raw record bytes (10^6 per MB).
func (r Row) MBPerSecond() float64 {
	if r.Unavailable != "" || r.Duration <= 0 {
		return 0
	}
	return float64(r.Bytes) / 1e6 / r.Duration.Seconds()
}

// CPUPerMillion returns CPU seconds per million records.
func (r Row) CPUPerMillion() float64 {
	if r.Records == 0 {
		return 0
	}
	return r.CPU.Seconds() / float64(r.Records) * 1e6
}

// SweepRow is one shard count of the shard sweep.
type SweepRow struct {
	Shards   int
	Records  int64
	Bytes    int64
	Duration time.Duration
	PeakRSS  int64
	CPU      time.Duration
	// Unavailable, when set, says why it did not run.
	Unavailable string
}

// Report is everything one benchmark run measured.
type Report struct {
	Started     time.Time
	Records     int64
	Shards      int
	RecordBytes int // average raw bytes per record
	CPUs        int
	Rows        []Row
	Sweep       []SweepRow
	SweepSink   string
	// Notes explain how each column was measured.
	Notes []string
}

// Row returns the row of scenario key, or false.
func (r *Report) Row(key string) (Row, bool) {
	for _, row := range r.Rows {
		if row.Key == key {
			return row, true
		}
	}
	return Row{}, false
}

// Markdown renders the report: the scenario table, the shard sweep and the
// notes.
func (r *Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "## slspipe benchmark, %s\n\n", r.Started.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "%d records of ~%d B (10 fields) in %d shards; %d CPUs. Ratios are records/s over the baseline's.\n\n",
		r.Records, r.RecordBytes, r.Shards, r.CPUs)
	b.WriteString("| scenario | records/s | MB/s | × raw decode | × library | × JetStream limit | p50 | p99 | peak RSS | CPU s / M records |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	base := func(key string) float64 {
		row, ok := r.Row(key)
		if !ok {
			return 0
		}
		return row.RecordsPerSecond()
	}
	rawRate, jsRate := base(ScenarioRawDecode), base(ScenarioJetStreamLimit)
	for _, row := range r.Rows {
		name := row.Scenario
		if row.Note != "" {
			name += " (" + row.Note + ")"
		}
		if row.Unavailable != "" {
			fmt.Fprintf(&b, "| %s | unavailable: %s | | | | | | | | |\n", name, row.Unavailable)
			continue
		}
		rate := row.RecordsPerSecond()
		// Rows that publish nothing compare with the library doing nothing
		// and have no JetStream limit.
		libRate, rowJSRate := base(ScenarioLibrary), jsRate
		if !publishes(row.Key) {
			libRate, rowJSRate = base(ScenarioLibraryNoop), 0
		}
		fmt.Fprintf(&b, "| %s | %s | %.1f | %s | %s | %s | %s | %s | %s | %.2f |\n",
			name, humanCount(rate), row.MBPerSecond(),
			ratio(rate, rawRate), ratio(rate, libRate), ratio(rate, rowJSRate),
			latency(row.P50), latency(row.P99), mib(row.PeakRSS), row.CPUPerMillion())
	}
	if s, l, ok := r.SourceBenchmark(); ok {
		fmt.Fprintf(&b, "\nsource benchmark: slspipe %s logs/s vs consumer library %s logs/s = %.2f×\n",
			humanCount(s), humanCount(l), s/l)
	}
	if len(r.Sweep) > 0 {
		fmt.Fprintf(&b, "\n### Shard sweep: slspipe, no module → %s\n\n", r.SweepSink)
		b.WriteString("| shards | records | records/s | MB/s | peak RSS | CPU s / M records |\n")
		b.WriteString("|---:|---:|---:|---:|---:|---:|\n")
		for _, s := range r.Sweep {
			if s.Unavailable != "" {
				fmt.Fprintf(&b, "| %d | %d | unavailable: %s | | | |\n", s.Shards, s.Records, s.Unavailable)
				continue
			}
			secs := s.Duration.Seconds()
			fmt.Fprintf(&b, "| %d | %d | %s | %.1f | %s | %.2f |\n", s.Shards, s.Records,
				humanCount(float64(s.Records)/secs), float64(s.Bytes)/1e6/secs, mib(s.PeakRSS),
				s.CPU.Seconds()/float64(s.Records)*1e6)
		}
	}
	if len(r.Notes) > 0 {
		b.WriteString("\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	return b.String()
}

// SourceBenchmark returns the records/s of slspipe into the discard sink
// and of the consumer library with a no-op processor, and whether both
// rows ran.
func (r *Report) SourceBenchmark() (slspipe, library float64, ok bool) {
	s, sok := r.Row(ScenarioDiscard)
	l, lok := r.Row(ScenarioLibraryNoop)
	if !sok || !lok {
		return 0, 0, false
	}
	slspipe, library = s.RecordsPerSecond(), l.RecordsPerSecond()
	return slspipe, library, slspipe > 0 && library > 0
}

// publishes reports whether the row of scenario key is compared with the
// JetStream baselines: all but the source benchmark's two rows.
func publishes(key string) bool { return key != ScenarioLibraryNoop && !discards(key) }

// discards reports whether a scenario's slspipe writes into the discard
// sink: the source benchmark and the rule-based consumption pair.
func discards(key string) bool {
	return key == ScenarioDiscard || key == ScenarioQuery || key == ScenarioFilterModule
}

func ratio(rate, baseline float64) string {
	if baseline <= 0 || rate <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", rate/baseline)
}

func latency(d time.Duration) string {
	if d < 0 {
		return "–"
	}
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	case d < time.Second:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func mib(n int64) string {
	if n <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
}

func humanCount(v float64) string {
	switch {
	case math.IsNaN(v) || v <= 0:
		return "0"
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}
