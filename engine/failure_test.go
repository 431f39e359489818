package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/engine/enginetest"
)

func TestPipelineDeadLetterSinkFailureFails(t *testing.T) {
	srcCfg := enginetest.SourceConfig{Shards: 1, Batches: 10, Records: 10}
	store := enginetest.NewStore()
	sink := enginetest.NewSink(enginetest.SinkConfig{})
	dlq := enginetest.NewSink(enginetest.SinkConfig{Fail: func(*engine.Record) error { return errors.New("dead-letter stream full") }})
	cfg := testConfig(store).WithErrorPolicy(engine.OnErrorDeadLetter).WithDeadLetter(dlq)
	p := mustNew(t, enginetest.NewSource(srcCfg), []engine.StageFactory{rejectSeq("v", func(s int) bool { return s == 55 })}, sink, cfg)
	err := <-start(t, context.Background(), p)
	if err == nil || !strings.Contains(err.Error(), "dead-letter stream full") {
		t.Fatalf("Run = %v, want the dead-letter failure", err)
	}
	if got := committedBatches(t, store, "mem", 0); got > 5 {
		t.Fatalf("committed %d batches, past batch 5 whose dead letter failed", got)
	}
}

func TestPipelineMalformedStageResultsFail(t *testing.T) {
	bad := engine.StageFunc("short", func(_ context.Context, in []engine.Record, out *engine.Results) error {
		out.Emit(in...) // one outcome for many inputs
		return nil
	})
	p := mustNew(t, enginetest.NewSource(enginetest.SourceConfig{Shards: 1, Batches: 2, Records: 3}), []engine.StageFactory{bad},
		enginetest.NewSink(enginetest.SinkConfig{}), testConfig(enginetest.NewStore()))
	err := <-start(t, context.Background(), p)
	if err == nil || !strings.Contains(err.Error(), "returned 1 outcomes for 3 records") {
		t.Fatalf("Run = %v, want the contract violation", err)
	}
}

func TestPipelineEmptyBatchAdvancesCommit(t *testing.T) {
	src := engine.Source(sourceFunc(func(ctx context.Context, host engine.Host) error {
		key := engine.ShardKey{Logstore: "mem", Shard: 0}
		if _, err := host.OpenShard(ctx, key); err != nil {
			return err
		}
		// A pull that returned no logs but moved the cursor still commits.
		return host.Emit(ctx, &engine.Batch{Position: engine.Position{Logstore: "mem", Shard: 0, Cursor: "0", NextCursor: "3"}})
	}))
	store := enginetest.NewStore()
	p := mustNew(t, src, []engine.StageFactory{identity}, enginetest.NewSink(enginetest.SinkConfig{}), testConfig(store))
	if err := <-start(t, context.Background(), p); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := committedBatches(t, store, "mem", 0); got != 3 {
		t.Fatalf("committed cursor %d, want 3", got)
	}
}

type sourceFunc func(ctx context.Context, host engine.Host) error

func (f sourceFunc) Run(ctx context.Context, host engine.Host) error { return f(ctx, host) }

func TestPipelineCheckpointSaveFailures(t *testing.T) {
	t.Run("periodic failures are retried", func(t *testing.T) {
		store := enginetest.NewStore()
		store.SetFailing(true)
		sink := enginetest.NewSink(enginetest.SinkConfig{StallAfter: 50})
		ctx, cancel := context.WithCancel(context.Background())
		p := mustNew(t, enginetest.NewSource(enginetest.SourceConfig{Shards: 1, Batches: 20, Records: 5}), nil, sink,
			testConfig(store).WithShutdownTimeout(0))
		done := start(t, ctx, p)
		waitFor(t, "failed saves", func() bool {
			return metricValue(t, p.Registry(), "slspipe_checkpoint_save_failures_total", nil) >= 2
		})
		store.SetFailing(false)
		waitFor(t, "a save after recovery", func() bool { return committedBatches(t, store, "mem", 0) == 10 })
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
	})
	t.Run("a failed final save is an error", func(t *testing.T) {
		store := enginetest.NewStore()
		store.SetFailing(true)
		p := mustNew(t, enginetest.NewSource(enginetest.SourceConfig{Shards: 1, Batches: 3, Records: 2}), nil,
			enginetest.NewSink(enginetest.SinkConfig{}), testConfig(store).WithCheckpointInterval(time.Hour))
		err := <-start(t, context.Background(), p)
		if err == nil || !strings.Contains(err.Error(), "final checkpoint") || !strings.Contains(err.Error(), "store unavailable") {
			t.Fatalf("Run = %v, want the final checkpoint failure", err)
		}
	})
}

func TestPipelineShutdownTimeoutWithHungSink(t *testing.T) {
	store := enginetest.NewStore()
	sink := enginetest.NewSink(enginetest.SinkConfig{StallAfter: 30})
	ctx, cancel := context.WithCancel(context.Background())
	p := mustNew(t, enginetest.NewSource(enginetest.SourceConfig{Shards: 1, Batches: 100, Records: 5}), nil, sink,
		testConfig(store).WithShutdownTimeout(20*time.Millisecond).WithCheckpointInterval(time.Hour))
	done := start(t, ctx, p)
	waitFor(t, "the sink to hang", func() bool { return sink.Accepted() > 30 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v, want nil after the shutdown timeout", err)
	}
	if got := committedBatches(t, store, "mem", 0); got != 6 {
		t.Fatalf("committed %d batches, want the 6 the sink confirmed before hanging", got)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	src := enginetest.NewSource(enginetest.SourceConfig{})
	sink := enginetest.NewSink(enginetest.SinkConfig{})
	for name, cfg := range map[string]engine.Config{
		"workers":     engine.NewConfig().WithWorkers(0),
		"budget":      engine.NewConfig().WithMaxInflightBytes(0),
		"queue":       engine.NewConfig().WithShardQueueDepth(0),
		"interval":    engine.NewConfig().WithCheckpointInterval(0),
		"dead letter": engine.NewConfig().WithErrorPolicy(engine.OnErrorDeadLetter),
	} {
		if _, err := engine.New("x", src, nil, sink, cfg); err == nil {
			t.Errorf("%s: New accepted an invalid config", name)
		}
	}
	if _, err := engine.ParseErrorPolicy("retry"); err == nil {
		t.Error("ParseErrorPolicy accepted an unknown policy")
	}
	for _, s := range []string{"fail", "skip", "dead_letter"} {
		p, err := engine.ParseErrorPolicy(s)
		if err != nil || p.String() != s {
			t.Errorf("ParseErrorPolicy(%q) = %v, %v", s, p, err)
		}
	}
}
