package engine_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/engine/enginetest"
)

const pipelineName = "test"

var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

func testConfig(store *enginetest.Store) engine.Config {
	cfg := engine.NewConfig().
		WithWorkers(2).
		WithCheckpointInterval(2 * time.Millisecond).
		WithLogger(quietLogger)
	if store != nil {
		cfg = cfg.WithCommitters(store)
	}
	return cfg
}

// start runs p in the background and returns a channel with Run's result.
func start(t *testing.T, ctx context.Context, p *engine.Pipeline) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		done <- p.Run(ctx)
	}()
	t.Cleanup(func() {
		select {
		case <-finished:
		case <-time.After(30 * time.Second):
			t.Error("pipeline did not stop")
		}
	})
	return done
}

func mustNew(t *testing.T, src engine.Source, stages []engine.StageFactory, sink engine.Sink, cfg engine.Config) *engine.Pipeline {
	t.Helper()
	p, err := engine.New(pipelineName, src, stages, sink, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// waitFor polls cond until it holds or the test deadline nears.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func recordID(logstore string, shard, batch, index, output int) string {
	return fmt.Sprintf("%s:%d:%d:%d:%d", logstore, shard, batch, index, output)
}

// committedBatches returns how many batches of shard the store has committed.
func committedBatches(t *testing.T, store *enginetest.Store, logstore string, shard int) int {
	t.Helper()
	cp, ok := store.Checkpoint(pipelineName, engine.ShardKey{Logstore: logstore, Shard: shard})
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(cp.Cursor)
	if err != nil {
		t.Fatalf("stored cursor %q: %v", cp.Cursor, err)
	}
	return n
}

func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for k, v := range labels {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == k && lp.GetValue() == v {
						found = true
					}
				}
				if !found {
					continue metric
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

func TestPipelineDeliversAllAndCommitsLastCursor(t *testing.T) {
	src := enginetest.NewSource(enginetest.SourceConfig{Shards: 4, Batches: 30, Records: 10, Finish: true})
	sink := enginetest.NewSink(enginetest.SinkConfig{Async: true, Seed: 1})
	defer sink.Close()
	store := enginetest.NewStore()
	p := mustNew(t, src, nil, sink, testConfig(store))
	if err := <-start(t, context.Background(), p); err != nil {
		t.Fatalf("Run: %v", err)
	}
	counts := sink.Counts()
	for s := range 4 {
		for b := range 30 {
			for i := range 10 {
				if id := recordID("mem", s, b, i, 0); counts[id] != 1 {
					t.Fatalf("record %s delivered %d times, want 1", id, counts[id])
				}
			}
		}
		if got := committedBatches(t, store, "mem", s); got != 30 {
			t.Errorf("shard %d committed %d batches, want 30", s, got)
		}
	}
	if len(counts) != src.Total() {
		t.Errorf("sink holds %d records, want %d", len(counts), src.Total())
	}
	for s := range 4 {
		labels := map[string]string{"logstore": "mem", "shard": strconv.Itoa(s)}
		if lag := metricValue(t, p.Registry(), "slspipe_shard_lag_seconds", labels); lag != 0 {
			t.Errorf("finished shard %d reports %v s of lag, want 0", s, lag)
		}
		if ct := metricValue(t, p.Registry(), "slspipe_shard_committed_cursor_time_seconds", labels); ct != 1_700_000_029 {
			t.Errorf("shard %d committed cursor time %v, want 1700000029", s, ct)
		}
	}
}

func TestPipelineCrashAndRestartLosesNothing(t *testing.T) {
	srcCfg := enginetest.SourceConfig{Shards: 4, Batches: 200, Records: 5}
	total := srcCfg.Shards * srcCfg.Batches * srcCfg.Records
	store := enginetest.NewStore()
	// The destination hangs a third of the way through, so the crash comes
	// with batches in flight.
	sink1 := enginetest.NewSink(enginetest.SinkConfig{Async: true, Seed: 2, StallAfter: total / 3})
	defer sink1.Close()
	ctx1, crash := context.WithCancel(context.Background())
	p1 := mustNew(t, enginetest.NewSource(srcCfg), nil, sink1, testConfig(store).WithShutdownTimeout(0))
	done1 := start(t, ctx1, p1)

	waitFor(t, "progress before the crash", func() bool {
		return store.Saves() > 0 && sink1.Accepted() >= total/3
	})
	// The crash: what is on disk and in the sink at this instant is all that
	// survives. The store is read first, so every committed record is in
	// the sink's copy.
	onDisk := store.Clone()
	delivered1 := sink1.Counts()
	crash()
	<-done1

	if len(delivered1) == total {
		t.Fatal("the first run finished before the crash; the test proves nothing")
	}
	checkpoints := make([]int, srcCfg.Shards)
	for s := range checkpoints {
		checkpoints[s] = committedBatches(t, onDisk, "mem", s)
	}
	sink2 := enginetest.NewSink(enginetest.SinkConfig{Async: true, Seed: 3})
	defer sink2.Close()
	src2 := enginetest.NewSource(srcCfg)
	p2 := mustNew(t, src2, nil, sink2, testConfig(onDisk))
	if err := <-start(t, context.Background(), p2); err != nil {
		t.Fatalf("restart: %v", err)
	}
	delivered2 := sink2.Counts()

	for s := range srcCfg.Shards {
		checkpoint := checkpoints[s]
		res, _ := src2.Resumed(s)
		if got := res.Cursor; checkpoint > 0 && got != strconv.Itoa(checkpoint) {
			t.Errorf("shard %d resumed from %q, want the checkpoint %d", s, got, checkpoint)
		}
		for b := range srcCfg.Batches {
			for i := range srcCfg.Records {
				id := recordID("mem", s, b, i, 0)
				n := delivered1[id] + delivered2[id]
				if n == 0 {
					t.Fatalf("record %s lost (shard checkpoint %d)", id, checkpoint)
				}
				if n > 1 && b < checkpoint {
					t.Fatalf("record %s delivered %d times although batch %d is before the checkpoint %d", id, n, b, checkpoint)
				}
			}
		}
		if got := committedBatches(t, onDisk, "mem", s); got != srcCfg.Batches {
			t.Errorf("shard %d committed %d batches after restart, want %d", s, got, srcCfg.Batches)
		}
	}
}

func TestPipelineStalledSinkKeepsMemoryUnderBudget(t *testing.T) {
	srcCfg := enginetest.SourceConfig{Shards: 4, Batches: 100, Records: 10, BodySize: 100}
	const batchBytes = 10 * (100 + 16)
	const budget = 8 * batchBytes
	sink := enginetest.NewSink(enginetest.SinkConfig{Stalled: true})
	src := enginetest.NewSource(srcCfg)
	p := mustNew(t, src, nil, sink, testConfig(nil).WithMaxInflightBytes(budget))
	done := start(t, context.Background(), p)

	waitFor(t, "the source to block on the budget", func() bool {
		return metricValue(t, p.Registry(), "slspipe_source_blocked_total", nil) > 0
	})
	emitted := src.Emitted()
	if emitted >= srcCfg.Shards*srcCfg.Batches {
		t.Fatalf("source emitted all %d batches into a stalled sink", emitted)
	}
	if _, peak := p.InflightBytes(); peak > budget {
		t.Fatalf("in-flight bytes peaked at %d, over the budget %d", peak, budget)
	}
	if g := metricValue(t, p.Registry(), "slspipe_inflight_bytes", nil); g > budget || g == 0 {
		t.Fatalf("inflight_bytes gauge = %v, want within (0, %d]", g, budget)
	}
	sink.Resume()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := sink.Stored(); got != src.Total() {
		t.Fatalf("stored %d records, want %d", got, src.Total())
	}
	if cur, peak := p.InflightBytes(); peak > budget || cur != 0 {
		t.Fatalf("in-flight bytes now %d peak %d, want 0 and <= %d", cur, peak, budget)
	}
}

func TestPipelineCancelDrainsAndCommitsConfirmed(t *testing.T) {
	srcCfg := enginetest.SourceConfig{Shards: 3, Batches: 100000, Records: 4}
	store := enginetest.NewStore()
	sink := enginetest.NewSink(enginetest.SinkConfig{Async: true, Seed: 4})
	defer sink.Close()
	ctx, cancel := context.WithCancel(context.Background())
	p := mustNew(t, enginetest.NewSource(srcCfg), nil, sink, testConfig(store).WithCheckpointInterval(time.Hour))
	done := start(t, ctx, p)
	waitFor(t, "records to flow", func() bool { return sink.Stored() > 500 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel = %v, want nil", err)
	}
	counts := sink.Counts()
	committed := 0
	for s := range srcCfg.Shards {
		c := committedBatches(t, store, "mem", s)
		if c == 0 {
			t.Fatalf("shard %d: nothing committed at shutdown", s)
		}
		committed += c * srcCfg.Records
		for i := range srcCfg.Records {
			if id := recordID("mem", s, c-1, i, 0); counts[id] != 1 {
				t.Fatalf("record %s of the last committed batch delivered %d times", id, counts[id])
			}
			if id := recordID("mem", s, c, i, 0); counts[id] != 0 {
				t.Fatalf("record %s after the committed cursor was delivered: shutdown did not commit everything confirmed", id)
			}
		}
	}
	if committed != len(counts) {
		t.Fatalf("committed %d records, sink confirmed %d", committed, len(counts))
	}
}

// rejectSeq returns a stage that rejects records whose seq field is in bad.
func rejectSeq(name string, bad func(seq int) bool) engine.StageFactory {
	return engine.StageFunc(name, func(_ context.Context, in []engine.Record, out *engine.Results) error {
		for i := range in {
			v, _ := in[i].Get("seq")
			seq, _ := strconv.Atoi(string(v))
			if bad(seq) {
				out.Reject(fmt.Errorf("seq %d is bad", seq))
				continue
			}
			out.Emit(in[i])
		}
		return nil
	})
}

func TestPipelineDeadLetter(t *testing.T) {
	srcCfg := enginetest.SourceConfig{Shards: 2, Batches: 20, Records: 10}
	store := enginetest.NewStore()
	sink := enginetest.NewSink(enginetest.SinkConfig{Async: true, Seed: 5})
	defer sink.Close()
	dlq := enginetest.NewSink(enginetest.SinkConfig{Async: true, Seed: 6})
	defer dlq.Close()
	bad := func(seq int) bool { return seq%10 == 3 }
	cfg := testConfig(store).WithErrorPolicy(engine.OnErrorDeadLetter).WithDeadLetter(dlq)
	p := mustNew(t, enginetest.NewSource(srcCfg), []engine.StageFactory{rejectSeq("validate", bad)}, sink, cfg)
	if err := <-start(t, context.Background(), p); err != nil {
		t.Fatalf("Run: %v", err)
	}
	for s := range 2 {
		for b := range 20 {
			for i := range 10 {
				id := recordID("mem", s, b, i, 0)
				inSink, inDLQ := sink.Counts()[id], dlq.Counts()[id]
				if bad(b*10 + i) {
					if inSink != 0 || inDLQ != 1 {
						t.Fatalf("bad record %s: sink %d dead-letter %d, want 0 and 1", id, inSink, inDLQ)
					}
					dl, _ := dlq.Record(id)
					assertTag(t, dl, engine.DeadLetterStageTag, "validate")
					assertTag(t, dl, engine.DeadLetterErrorTag, fmt.Sprintf("seq %d is bad", b*10+i))
					assertTag(t, dl, engine.DeadLetterCursorTag, strconv.Itoa(b))
					assertTag(t, dl, engine.DeadLetterShardTag, strconv.Itoa(s))
					if v, _ := dl.Get("seq"); string(v) != strconv.Itoa(b*10+i) {
						t.Fatalf("dead letter %s lost its input fields: seq=%q", id, v)
					}
				} else if inSink != 1 || inDLQ != 0 {
					t.Fatalf("good record %s: sink %d dead-letter %d, want 1 and 0", id, inSink, inDLQ)
				}
			}
		}
		if got := committedBatches(t, store, "mem", s); got != 20 {
			t.Errorf("shard %d committed %d batches, want 20", s, got)
		}
	}
	if got := metricValue(t, p.Registry(), "slspipe_stage_records_dead_lettered_total", map[string]string{"stage": "validate"}); got != 40 {
		t.Errorf("dead_lettered metric = %v, want 40", got)
	}
}

func TestPipelineDeadLetterHoldsCommitUntilConfirmed(t *testing.T) {
	srcCfg := enginetest.SourceConfig{Shards: 1, Batches: 10, Records: 10}
	store := enginetest.NewStore()
	sink := enginetest.NewSink(enginetest.SinkConfig{})
	dlq := enginetest.NewSink(enginetest.SinkConfig{Stalled: true})
	cfg := testConfig(store).WithErrorPolicy(engine.OnErrorDeadLetter).WithDeadLetter(dlq).WithShutdownTimeout(0)
	ctx, cancel := context.WithCancel(context.Background())
	// Only seq 42 (batch 4) is rejected.
	p := mustNew(t, enginetest.NewSource(srcCfg), []engine.StageFactory{rejectSeq("v", func(s int) bool { return s == 42 })}, sink, cfg)
	done := start(t, ctx, p)
	waitFor(t, "the sink to store every good record", func() bool { return sink.Stored() == 99 })
	waitFor(t, "the commit of the batches before the dead letter", func() bool { return committedBatches(t, store, "mem", 0) == 4 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := committedBatches(t, store, "mem", 0); got != 4 {
		t.Fatalf("committed %d batches while the dead letter of batch 4 is unconfirmed, want 4", got)
	}
}

func assertTag(t *testing.T, r engine.Record, key, want string) {
	t.Helper()
	for _, f := range r.Tags {
		if string(f.Key) == key {
			if string(f.Value) != want {
				t.Fatalf("tag %s = %q, want %q", key, f.Value, want)
			}
			return
		}
	}
	t.Fatalf("tag %s missing from %v", key, r.Tags)
}

func TestPipelineSkip(t *testing.T) {
	srcCfg := enginetest.SourceConfig{Shards: 2, Batches: 10, Records: 10}
	store := enginetest.NewStore()
	sink := enginetest.NewSink(enginetest.SinkConfig{})
	bad := func(seq int) bool { return seq%7 == 0 }
	p := mustNew(t, enginetest.NewSource(srcCfg), []engine.StageFactory{rejectSeq("v", bad)}, sink,
		testConfig(store).WithErrorPolicy(engine.OnErrorSkip))
	if err := <-start(t, context.Background(), p); err != nil {
		t.Fatalf("Run: %v", err)
	}
	skipped := 0
	for s := range 2 {
		for seq := range 100 {
			id := recordID("mem", s, seq/10, seq%10, 0)
			if got, want := sink.Counts()[id], map[bool]int{true: 0, false: 1}[bad(seq)]; got != want {
				t.Fatalf("record %s delivered %d times, want %d", id, got, want)
			}
			if bad(seq) {
				skipped++
			}
		}
		if got := committedBatches(t, store, "mem", s); got != 10 {
			t.Errorf("shard %d committed %d batches, want 10", s, got)
		}
	}
	if got := metricValue(t, p.Registry(), "slspipe_stage_records_skipped_total", map[string]string{"stage": "v"}); int(got) != skipped {
		t.Errorf("skipped metric = %v, want %d", got, skipped)
	}
}

func TestPipelineFailStopsWithoutCommittingPast(t *testing.T) {
	srcCfg := enginetest.SourceConfig{Shards: 3, Batches: 50, Records: 10}
	store := enginetest.NewStore()
	sink := enginetest.NewSink(enginetest.SinkConfig{Async: true, Seed: 7})
	defer sink.Close()
	// seq 253 is in batch 25 of every shard.
	p := mustNew(t, enginetest.NewSource(srcCfg), []engine.StageFactory{rejectSeq("parse", func(s int) bool { return s == 253 })}, sink, testConfig(store))
	err := <-start(t, context.Background(), p)
	if err == nil || !strings.Contains(err.Error(), `stage "parse" rejected record`) || !strings.Contains(err.Error(), "seq 253 is bad") {
		t.Fatalf("Run = %v, want the stage rejection", err)
	}
	for s := range 3 {
		if got := committedBatches(t, store, "mem", s); got > 25 {
			t.Fatalf("shard %d committed %d batches, past the failed batch 25", s, got)
		}
	}
}

func TestPipelineSinkFailureStopsCommits(t *testing.T) {
	srcCfg := enginetest.SourceConfig{Shards: 2, Batches: 50, Records: 10}
	store := enginetest.NewStore()
	failID := recordID("mem", 1, 17, 3, 0)
	sink := enginetest.NewSink(enginetest.SinkConfig{Async: true, Seed: 8, Fail: func(r *engine.Record) error {
		if r.ID() == failID {
			return errors.New("publish rejected")
		}
		return nil
	}})
	defer sink.Close()
	p := mustNew(t, enginetest.NewSource(srcCfg), nil, sink, testConfig(store))
	err := <-start(t, context.Background(), p)
	if err == nil || !strings.Contains(err.Error(), "publish rejected") {
		t.Fatalf("Run = %v, want the sink failure", err)
	}
	if got := committedBatches(t, store, "mem", 1); got > 17 {
		t.Fatalf("shard 1 committed %d batches, past the failed batch 17", got)
	}
}

func TestPipelineFanOutAndFilter(t *testing.T) {
	srcCfg := enginetest.SourceConfig{Shards: 2, Batches: 10, Records: 9}
	store := enginetest.NewStore()
	sink := enginetest.NewSink(enginetest.SinkConfig{Async: true, Seed: 9})
	defer sink.Close()
	// Stage 1: seq%3 == 0 is dropped, 1 passes, 2 fans out to 3 copies.
	fan := engine.StageFunc("fan", func(_ context.Context, in []engine.Record, out *engine.Results) error {
		for i := range in {
			v, _ := in[i].Get("seq")
			seq, _ := strconv.Atoi(string(v))
			switch seq % 3 {
			case 0:
				out.Emit()
			case 1:
				out.Emit(in[i])
			default:
				out.Emit(in[i], in[i], in[i])
			}
		}
		return nil
	})
	// Stage 2 passes everything, checking that stages chain.
	pass := engine.StageFunc("pass", func(_ context.Context, in []engine.Record, out *engine.Results) error {
		for i := range in {
			out.Emit(in[i])
		}
		return nil
	})
	p := mustNew(t, enginetest.NewSource(srcCfg), []engine.StageFactory{fan, pass}, sink, testConfig(store))
	if err := <-start(t, context.Background(), p); err != nil {
		t.Fatalf("Run: %v", err)
	}
	counts := sink.Counts()
	want := 0
	for s := range 2 {
		for seq := range 90 {
			b, i := seq/9, seq%9
			outputs := []int{0, 1, 3}[seq%3]
			want += outputs
			for o := range 3 {
				id := recordID("mem", s, b, i, o)
				if got, exp := counts[id], map[bool]int{true: 1, false: 0}[o < outputs]; got != exp {
					t.Fatalf("record %s delivered %d times, want %d", id, got, exp)
				}
			}
		}
		if got := committedBatches(t, store, "mem", s); got != 10 {
			t.Errorf("shard %d committed %d batches, want 10 (filtered records must acknowledge)", s, got)
		}
	}
	if len(counts) != want {
		t.Fatalf("sink holds %d records, want %d", len(counts), want)
	}
	if got := metricValue(t, p.Registry(), "slspipe_stage_records_dropped_total", map[string]string{"stage": "fan"}); got != 60 {
		t.Errorf("dropped metric = %v, want 60", got)
	}
}

func TestPipelineReleasedShardIsDrained(t *testing.T) {
	srcCfg := enginetest.SourceConfig{Shards: 3, Batches: 40, Records: 5, ReleaseAfter: map[int]int{1: 12}}
	store := enginetest.NewStore()
	sink := enginetest.NewSink(enginetest.SinkConfig{Async: true, Seed: 10})
	defer sink.Close()
	src := enginetest.NewSource(srcCfg)
	p := mustNew(t, src, nil, sink, testConfig(store).WithCheckpointInterval(time.Hour))
	if err := <-start(t, context.Background(), p); err != nil {
		t.Fatalf("Run: %v", err)
	}
	cp, ok := src.Released(1)
	if !ok || cp.Cursor != "12" {
		t.Fatalf("DrainShard returned %+v (released %v), want cursor 12", cp, ok)
	}
	if got := committedBatches(t, store, "mem", 1); got != 12 {
		t.Fatalf("released shard committed %d batches, want 12", got)
	}
	counts := sink.Counts()
	for b := range 12 {
		for i := range 5 {
			if id := recordID("mem", 1, b, i, 0); counts[id] != 1 {
				t.Fatalf("record %s of the released shard delivered %d times, want 1", id, counts[id])
			}
		}
	}
	for _, s := range []int{0, 2} {
		if got := committedBatches(t, store, "mem", s); got != 40 {
			t.Errorf("shard %d committed %d batches, want 40", s, got)
		}
	}
}

func TestPipelineStageCallErrorDeadLettersWholeCall(t *testing.T) {
	srcCfg := enginetest.SourceConfig{Shards: 1, Batches: 5, Records: 4}
	sink := enginetest.NewSink(enginetest.SinkConfig{})
	dlq := enginetest.NewSink(enginetest.SinkConfig{})
	trap := engine.StageFunc("trap", func(_ context.Context, in []engine.Record, out *engine.Results) error {
		if in[0].Identity.Cursor == "2" {
			return errors.New("wasm trap: unreachable")
		}
		for i := range in {
			out.Emit(in[i])
		}
		return nil
	})
	store := enginetest.NewStore()
	p := mustNew(t, enginetest.NewSource(srcCfg), []engine.StageFactory{trap}, sink,
		testConfig(store).WithErrorPolicy(engine.OnErrorDeadLetter).WithDeadLetter(dlq))
	if err := <-start(t, context.Background(), p); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if sink.Stored() != 16 || dlq.Stored() != 4 {
		t.Fatalf("sink %d dead-letter %d, want 16 and 4", sink.Stored(), dlq.Stored())
	}
	dl, _ := dlq.Record(recordID("mem", 0, 2, 1, 0))
	assertTag(t, dl, engine.DeadLetterErrorTag, "wasm trap: unreachable")
	if got := committedBatches(t, store, "mem", 0); got != 5 {
		t.Fatalf("committed %d batches, want 5", got)
	}
}

func TestPipelineResumesFromStoreOverConfiguredStart(t *testing.T) {
	srcCfg := enginetest.SourceConfig{Shards: 2, Batches: 10, Records: 3}
	store := enginetest.NewStore()
	_ = store.SaveCheckpoints(context.Background(), pipelineName, []engine.Checkpoint{{Logstore: "mem", Shard: 0, Cursor: "7"}})
	sink := enginetest.NewSink(enginetest.SinkConfig{})
	p := mustNew(t, enginetest.NewSource(srcCfg), nil, sink, testConfig(store))
	if err := <-start(t, context.Background(), p); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got, want := sink.Stored(), 3*3+10*3; got != want {
		t.Fatalf("stored %d records, want %d (shard 0 resumes at batch 7)", got, want)
	}
	if sink.Counts()[recordID("mem", 0, 6, 0, 0)] != 0 {
		t.Fatal("a record before the stored checkpoint was replayed")
	}
}
