package generate_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slspipe/slspipe/connectors/generate"
	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/engine/enginetest"
)

// recordingHost is an engine.Host that keeps deep copies of what it gets.
type recordingHost struct {
	resume map[int]engine.Resume

	mu       sync.Mutex
	records  map[int][]engine.Record
	batches  map[int][]engine.Position
	finished map[int]bool
}

func newRecordingHost() *recordingHost {
	return &recordingHost{resume: map[int]engine.Resume{}, records: map[int][]engine.Record{},
		batches: map[int][]engine.Position{}, finished: map[int]bool{}}
}

func (h *recordingHost) OpenShard(_ context.Context, k engine.ShardKey) (engine.Resume, error) {
	return h.resume[k.Shard], nil
}

func (h *recordingHost) Emit(_ context.Context, b *engine.Batch) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range b.Records {
		h.records[b.Position.Shard] = append(h.records[b.Position.Shard], b.Records[i].Clone())
	}
	h.batches[b.Position.Shard] = append(h.batches[b.Position.Shard], b.Position)
	return nil
}

func (h *recordingHost) FinishShard(k engine.ShardKey) {
	h.mu.Lock()
	h.finished[k.Shard] = true
	h.mu.Unlock()
}

func (h *recordingHost) DrainShard(context.Context, engine.ShardKey) (engine.Checkpoint, error) {
	return engine.Checkpoint{}, fmt.Errorf("not supported")
}

func run(t *testing.T, cfg generate.Config, h *recordingHost) {
	t.Helper()
	src, err := generate.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Run(context.Background(), h); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func fieldsOf(r engine.Record) string {
	s := ""
	for _, f := range r.Fields {
		s += string(f.Key) + "=" + string(f.Value) + " "
	}
	return s
}

func TestGeneratorCountShardsAndPositions(t *testing.T) {
	h := newRecordingHost()
	run(t, generate.Config{Shards: 3, Count: 1000, BatchSize: 64, Seed: 1}, h)
	total := 0
	for s := range 3 {
		recs := h.records[s]
		total += len(recs)
		if !h.finished[s] {
			t.Errorf("shard %d not reported finished", s)
		}
		// Positions chain: each batch starts where the previous ended.
		prev := generate.Cursor(0)
		for _, pos := range h.batches[s] {
			if pos.Cursor != prev {
				t.Fatalf("shard %d: batch at %q follows next cursor %q", s, pos.Cursor, prev)
			}
			prev = pos.NextCursor
		}
		if want := generate.Cursor(int64(len(recs))); prev != want {
			t.Fatalf("shard %d: last next cursor %q, want %q", s, prev, want)
		}
	}
	if total != 1000 {
		t.Fatalf("generated %d records, want 1000", total)
	}
}

func TestGeneratorIsDeterministicAndResumes(t *testing.T) {
	cfg := generate.Config{Shards: 2, Count: 400, BatchSize: 30, Seed: 42}
	a, b := newRecordingHost(), newRecordingHost()
	run(t, cfg, a)
	b.resume[1] = engine.Resume{Found: true, Cursor: generate.Cursor(150)}
	run(t, cfg, b)
	if len(a.records[0]) != len(b.records[0]) {
		t.Fatalf("shard 0: %d vs %d records", len(a.records[0]), len(b.records[0]))
	}
	for i := range a.records[0] {
		ra, rb := a.records[0][i], b.records[0][i]
		if fieldsOf(ra) != fieldsOf(rb) || ra.ID() != rb.ID() || ra.Time != rb.Time {
			t.Fatalf("record %d differs between runs:\n%s\n%s", i, fieldsOf(ra), fieldsOf(rb))
		}
	}
	resumed := b.records[1]
	if len(resumed) != 50 {
		t.Fatalf("shard 1 resumed at 150 of 200 produced %d records, want 50", len(resumed))
	}
	for i, r := range resumed {
		want := a.records[1][150+i]
		if fieldsOf(r) != fieldsOf(want) || r.Time != want.Time {
			t.Fatalf("resumed record %d differs from the original record %d", i, 150+i)
		}
	}
	other := newRecordingHost()
	run(t, generate.Config{Shards: 2, Count: 400, BatchSize: 30, Seed: 43}, other)
	if fieldsOf(other.records[0][0]) == fieldsOf(a.records[0][0]) {
		t.Fatal("different seeds produced the same first record")
	}
}

func TestGeneratorRecordsLookLikeNginx(t *testing.T) {
	h := newRecordingHost()
	run(t, generate.Config{Count: 500, Seed: 7}, h)
	statuses := map[string]int{}
	for _, r := range h.records[0] {
		for _, k := range []string{"remote_addr", "method", "host", "request_uri", "status", "body_bytes_sent",
			"request_time", "http_referer", "http_user_agent", "request_id"} {
			if v, ok := r.Get(k); !ok || len(v) == 0 {
				t.Fatalf("record lacks %s: %s", k, fieldsOf(r))
			}
		}
		v, _ := r.Get("status")
		if _, err := strconv.Atoi(string(v)); err != nil {
			t.Fatalf("status %q is not numeric", v)
		}
		statuses[string(v)]++
		if size := r.Size(); size < 120 || size > 500 {
			t.Fatalf("record of %d bytes, want a realistic access-log size: %s", size, fieldsOf(r))
		}
	}
	if statuses["200"] < 200 || len(statuses) < 5 {
		t.Fatalf("status distribution %v does not look like traffic", statuses)
	}
}

func TestGeneratorRateBoundsThroughput(t *testing.T) {
	// 200 records at 2000/s cannot take less than the pacing allows; the
	// first batch goes out once its last record is due.
	h := newRecordingHost()
	began := time.Now()
	run(t, generate.Config{Shards: 2, Count: 200, Rate: 2000, BatchSize: 10, Seed: 1}, h)
	if elapsed, min := time.Since(began), 90*time.Millisecond; elapsed < min {
		t.Fatalf("200 records at 2000/s took %s, less than the %s pacing allows", elapsed, min)
	}
}

func TestGeneratorStopsOnCancel(t *testing.T) {
	src, err := generate.New(generate.Config{Shards: 2, Rate: 1000, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	h := newRecordingHost()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, h) }()
	for {
		h.mu.Lock()
		n := len(h.records[0])
		h.mu.Unlock()
		if n > 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel = %v, want nil", err)
	}
}

func TestGeneratorThroughEngine(t *testing.T) {
	src, err := generate.New(generate.Config{Shards: 4, Count: 2000, BatchSize: 50, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	sink := enginetest.NewSink(enginetest.SinkConfig{Async: true, Seed: 1})
	defer sink.Close()
	store := enginetest.NewStore()
	cfg := engine.NewConfig().WithCommitters(store).WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	p, err := engine.New("gen", src, nil, sink, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := sink.Stored(); got != 2000 {
		t.Fatalf("stored %d distinct records, want 2000", got)
	}
	for s := range 4 {
		cp, _ := store.Checkpoint("gen", engine.ShardKey{Logstore: "generated", Shard: s})
		if want := generate.Cursor(500); cp.Cursor != want {
			t.Errorf("shard %d committed %q, want %q", s, cp.Cursor, want)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []generate.Config{{Shards: -1}, {Count: -1}, {Rate: -5}, {BatchSize: -2}} {
		if _, err := generate.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted a bad config", cfg)
		}
	}
}

func BenchmarkGenerator(b *testing.B) {
	src, err := generate.New(generate.Config{Shards: 1, BatchSize: 512, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	h := &recycleHost{src: src, n: b.N}
	b.ReportAllocs()
	b.ResetTimer()
	_ = src.Run(context.Background(), h)
	b.ReportMetric(float64(h.records)/b.Elapsed().Seconds(), "records/s")
}

// recycleHost recycles every batch at once and stops after n records.
type recycleHost struct {
	src     *generate.Source
	n       int
	records int
}

func (h *recycleHost) OpenShard(context.Context, engine.ShardKey) (engine.Resume, error) {
	return engine.Resume{}, nil
}

func (h *recycleHost) Emit(_ context.Context, b *engine.Batch) error {
	h.records += len(b.Records)
	h.src.RecycleBatch(b)
	if h.records >= h.n {
		return fmt.Errorf("done")
	}
	return nil
}

func (h *recycleHost) FinishShard(engine.ShardKey) {}

func (h *recycleHost) DrainShard(context.Context, engine.ShardKey) (engine.Checkpoint, error) {
	return engine.Checkpoint{}, nil
}

func TestGeneratorRandomTemplate(t *testing.T) {
	cfg := generate.Config{Count: 50, Seed: 5, Template: generate.TemplateRandom, Fields: 8, RecordBytes: 400}
	a, b := newRecordingHost(), newRecordingHost()
	run(t, cfg, a)
	run(t, cfg, b)
	for i, r := range a.records[0] {
		if len(r.Fields) != 8 {
			t.Fatalf("record %d has %d fields, want 8", i, len(r.Fields))
		}
		if string(r.Fields[7].Key) != "f7" {
			t.Fatalf("field 7 is named %q, want f7", r.Fields[7].Key)
		}
		if size := r.Size(); size < 320 || size > 480 {
			t.Fatalf("record %d is %d bytes, want about 400", i, size)
		}
		if fieldsOf(r) != fieldsOf(b.records[0][i]) {
			t.Fatalf("record %d differs between runs with the same seed", i)
		}
	}
	if fieldsOf(a.records[0][0]) == fieldsOf(a.records[0][1]) {
		t.Fatal("consecutive random records are identical")
	}
	if _, err := generate.New(generate.Config{Template: "csv"}); err == nil {
		t.Fatal("New accepted an unknown template")
	}
}

// BenchmarkGeneratedPipeline runs generated nginx records of 16 shards
// through the engine, with no stage, into a sink that confirms at once.
// One op is one record.
func BenchmarkGeneratedPipeline(b *testing.B) {
	src, err := generate.New(generate.Config{Shards: 16, Count: int64(b.N), BatchSize: 512, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	counter := &countingSink{}
	cfg := engine.NewConfig().WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	p, err := engine.New("bench", src, nil, counter, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	if err := p.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if counter.n.Load() != int64(b.N) {
		b.Fatalf("confirmed %d records, want %d", counter.n.Load(), b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// countingSink confirms at once and counts.
type countingSink struct{ n atomic.Int64 }

func (s *countingSink) Write(_ context.Context, recs []engine.Record, c engine.Confirmer) error {
	s.n.Add(int64(len(recs)))
	c.Confirm(len(recs), nil)
	return nil
}
