package engine_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/engine/enginetest"
)

// trackingStage counts instances and concurrent calls, and fails a call that
// overlaps another call on the same instance.
type trackingStage struct {
	instances, active, maxActive atomic.Int64
	overlap                      atomic.Bool
}

func (f *trackingStage) Name() string { return "tracking" }

func (f *trackingStage) NewStage(context.Context) (engine.Stage, error) {
	f.instances.Add(1)
	return &trackingInstance{f: f}, nil
}

type trackingInstance struct {
	f     *trackingStage
	inUse atomic.Bool
}

func (s *trackingInstance) Process(_ context.Context, in []engine.Record, out *engine.Results) error {
	if !s.inUse.CompareAndSwap(false, true) {
		s.f.overlap.Store(true)
		return errors.New("instance used by two goroutines")
	}
	defer s.inUse.Store(false)
	n := s.f.active.Add(1)
	defer s.f.active.Add(-1)
	for {
		m := s.f.maxActive.Load()
		if n <= m || s.f.maxActive.CompareAndSwap(m, n) {
			break
		}
	}
	for i := range in {
		out.Emit(in[i])
	}
	return nil
}

func (s *trackingInstance) Close(context.Context) error { return nil }

// orderSink records the order of the batches written per shard.
type orderSink struct {
	*enginetest.Sink
	mu     sync.Mutex
	last   map[int]int
	broken string
}

func (s *orderSink) Write(ctx context.Context, recs []engine.Record, c engine.Confirmer) error {
	s.mu.Lock()
	for i := range recs {
		id := recs[i].Identity
		b, _ := strconv.Atoi(id.Cursor)
		if prev, ok := s.last[id.Shard]; ok && b < prev && s.broken == "" {
			s.broken = "shard " + strconv.Itoa(id.Shard) + ": batch " + id.Cursor + " written after batch " + strconv.Itoa(prev)
		}
		s.last[id.Shard] = b
	}
	s.mu.Unlock()
	return s.Sink.Write(ctx, recs, c)
}

func TestPipelineManyShardsFewWorkersInOrder(t *testing.T) {
	const shards, workers = 256, 3
	srcCfg := enginetest.SourceConfig{Shards: shards, Batches: 8, Records: 4}
	stage := &trackingStage{}
	sink := &orderSink{Sink: enginetest.NewSink(enginetest.SinkConfig{Async: true, Seed: 11}), last: map[int]int{}}
	defer sink.Close()
	store := enginetest.NewStore()
	p := mustNew(t, enginetest.NewSource(srcCfg), []engine.StageFactory{stage}, sink,
		testConfig(store).WithWorkers(workers).WithShardQueueDepth(2))
	if err := <-start(t, context.Background(), p); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := stage.instances.Load(); got != workers {
		t.Errorf("created %d stage instances for %d workers and %d shards, want %d", got, workers, shards, workers)
	}
	if got := stage.maxActive.Load(); got > workers {
		t.Errorf("%d stage calls ran at once, more than the %d workers", got, workers)
	}
	if stage.overlap.Load() {
		t.Error("a stage instance was called by two goroutines at once")
	}
	if sink.broken != "" {
		t.Errorf("batches of a shard reached the sink out of order: %s", sink.broken)
	}
	if sink.Stored() != srcCfg.Shards*srcCfg.Batches*srcCfg.Records {
		t.Errorf("stored %d records, want %d", sink.Stored(), srcCfg.Shards*srcCfg.Batches*srcCfg.Records)
	}
	for s := range shards {
		if got := committedBatches(t, store, "mem", s); got != 8 {
			t.Fatalf("shard %d committed %d batches, want 8", s, got)
		}
	}
}
