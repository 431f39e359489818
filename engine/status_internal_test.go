package engine

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"
)

func TestQuantileInterpolatesWithinBuckets(t *testing.T) {
	bounds := []float64{0.001, 0.002, 0.004, 0.008}
	from := []uint64{5, 5, 5, 5}
	// 100 new observations: 50 in (1,2] ms, 40 in (2,4] ms, 10 in (4,8] ms.
	to := []uint64{5, 55, 95, 105}
	for _, c := range []struct{ q, want float64 }{{0.5, 2}, {0.25, 1.5}, {0.9, 4}, {0.95, 6}, {0.99, 7.6}} {
		if got := quantileMs(bounds, from, to, c.q); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("q%.2f = %v ms, want %v", c.q, got, c.want)
		}
	}
	if got := quantileMs(bounds, to, to, 0.5); got != 0 {
		t.Errorf("no observation in the window: %v, want 0", got)
	}
}

func TestCutAndRedact(t *testing.T) {
	if got := cut("héllo", 2); got != "h…" {
		t.Errorf("cut on a rune boundary = %q", got)
	}
	if got := redact("dial nats://u:p@h:4222 and https://tok@x/y, not a@b"); got != "dial nats://REDACTED@h:4222 and https://REDACTED@x/y, not a@b" {
		t.Errorf("redact = %q", got)
	}
}

// statusBenchSource opens shards and emits nothing, so that a benchmark
// sees a pipeline with many open shards and idle counters.
type statusBenchSource struct{ shards int }

func (s statusBenchSource) Run(ctx context.Context, h Host) error {
	for i := range s.shards {
		if _, err := h.OpenShard(ctx, ShardKey{Logstore: "nginx", Shard: i}); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return nil
}

type nopSink struct{}

func (nopSink) Write(_ context.Context, recs []Record, c Confirmer) error {
	c.Confirm(len(recs), nil)
	return nil
}

// BenchmarkStatus measures what one poll of the status page costs the
// pipeline: a snapshot of 64 shards, 3 steps and a full 10-minute history,
// encoded as JSON (full, and only what is new since the last poll), and one
// 2-second sample.
func BenchmarkStatus(b *testing.B) {
	stages := []StageFactory{
		StageFunc("decode", func(context.Context, []Record, *Results) error { return nil }),
		StageFunc("mask", func(context.Context, []Record, *Results) error { return nil }),
		StageFunc("encode", func(context.Context, []Record, *Results) error { return nil }),
	}
	cfg := NewConfig().WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	p, err := New("bench", statusBenchSource{shards: 64}, stages, nopSink{}, cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for deadline := time.Now().Add(10 * time.Second); len(p.Status(0).Shards) < 64; {
		if time.Now().After(deadline) {
			b.Fatal("shards did not open")
		}
		time.Sleep(time.Millisecond)
	}
	for range len(p.status.ring) {
		p.status.sample()
	}
	full, _ := json.Marshal(p.Status(0))
	lastT := p.Status(0).Samples[len(p.Status(0).Samples)-1].T
	b.Run("snapshot+json/full", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := json.NewEncoder(io.Discard).Encode(p.Status(0)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(full)), "json-bytes")
	})
	b.Run("snapshot+json/since", func(b *testing.B) {
		b.ReportAllocs()
		var n int
		for b.Loop() {
			var sb strings.Builder
			if err := json.NewEncoder(&sb).Encode(p.Status(lastT - 1)); err != nil {
				b.Fatal(err)
			}
			n = sb.Len()
		}
		b.ReportMetric(float64(n), "json-bytes")
	})
	b.Run("sample", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p.status.sample()
		}
	})
}
