package engine_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/slspipe/slspipe/connectors/discard"
	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/engine/enginetest"
)

// identity passes every record through unchanged.
var identity = engine.StageFunc("identity", func(_ context.Context, in []engine.Record, out *engine.Results) error {
	out.Records = append(out.Records, in...)
	for range in {
		out.Outcomes = append(out.Outcomes, engine.Outcome{Outputs: 1})
	}
	return nil
})

// BenchmarkEngine measures the engine alone: an in-memory source of 16
// shards of 200-byte records, an identity stage and a sink that confirms at
// once. One op is one record.
func BenchmarkEngine(b *testing.B) { benchmarkEngine(b, 16) }

// BenchmarkEngineManyShards is BenchmarkEngine with 256 shards sharing the
// same workers.
func BenchmarkEngineManyShards(b *testing.B) { benchmarkEngine(b, 256) }

func benchmarkEngine(b *testing.B, shards int) {
	const perBatch = 512
	batches := (b.N + shards*perBatch - 1) / (shards * perBatch)
	// 190 bytes of body plus the sequence field make a ~200-byte record.
	src := enginetest.NewSource(enginetest.SourceConfig{Shards: shards, Batches: batches, Records: perBatch, BodySize: 190})
	sink := discard.New()
	store := enginetest.NewStore()
	// 64 MiB is the budget a pipeline file gets by default.
	cfg := engine.NewConfig().WithLogger(quietLogger).WithCommitters(store).
		WithCheckpointInterval(100 * time.Millisecond).WithMaxInflightBytes(64 << 20)
	p, err := engine.New("bench", src, []engine.StageFactory{identity}, sink, cfg)
	if err != nil {
		b.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	start := time.Now()
	if err := p.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	runtime.ReadMemStats(&after)
	n := sink.Records()
	if n != int64(src.Total()) {
		b.Fatalf("sink confirmed %d records, want %d", n, src.Total())
	}
	b.ReportMetric(float64(n)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(n), "allocs/record")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(n), "B/record")
}
