package engine_test

import (
	"context"
	"testing"

	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/engine/enginetest"
)

// A stage's output buffers live until the batch is confirmed, so the budget
// must weigh them: with a stalled sink, the in-flight bytes include what the
// stage took from Results.Buffer, and everything is returned at the end.
func TestPipelineCountsStageOutputBuffers(t *testing.T) {
	const outBytes = 1 << 20
	srcCfg := enginetest.SourceConfig{Shards: 1, Batches: 3, Records: 10, BodySize: 10}
	src := enginetest.NewSource(srcCfg)
	sink := enginetest.NewSink(enginetest.SinkConfig{Stalled: true})
	stage := engine.StageFunc("payload", func(_ context.Context, in []engine.Record, out *engine.Results) error {
		buf := out.Buffer(outBytes)
		for i := range in {
			start := len(buf)
			buf = append(buf, in[i].Fields[0].Value...)
			rec := in[i]
			rec.Payload = buf[start:len(buf):len(buf)]
			out.Emit(rec)
		}
		return nil
	})
	p := mustNew(t, src, []engine.StageFactory{stage}, sink, testConfig(nil))
	done := start(t, context.Background(), p)

	waitFor(t, "the sink to hold every record", func() bool { return sink.Accepted() == src.Total() })
	if cur, _ := p.InflightBytes(); cur < int64(srcCfg.Batches)*outBytes {
		t.Fatalf("in-flight bytes %d with %d batches of %d output bytes held: output buffers not counted", cur, srcCfg.Batches, outBytes)
	}
	sink.Resume()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := sink.Stored(); got != src.Total() {
		t.Fatalf("stored %d records, want %d", got, src.Total())
	}
	for id, n := range sink.Counts() {
		rec, _ := sink.Record(id)
		if n != 1 || len(rec.Payload) == 0 {
			t.Fatalf("record %s stored %d times with payload %q", id, n, rec.Payload)
		}
	}
	if cur, _ := p.InflightBytes(); cur != 0 {
		t.Fatalf("in-flight bytes %d after the run, want 0", cur)
	}
}

// reservingSource reserves budget before each batch, as a pulling source
// does, with reservations both under and over the batch's real size.
type reservingSource struct {
	batches  int
	size     int
	reserves []int64
}

func (s *reservingSource) Run(ctx context.Context, host engine.Host) error {
	key := engine.ShardKey{Logstore: "r", Shard: 0}
	if _, err := host.OpenShard(ctx, key); err != nil {
		return err
	}
	mr := host.(engine.MemoryReserver)
	for i := range s.batches {
		n := s.reserves[i%len(s.reserves)]
		if err := mr.Reserve(ctx, n); err != nil {
			return err
		}
		b := &engine.Batch{
			Position: engine.Position{Logstore: key.Logstore, Cursor: itoa(i), NextCursor: itoa(i + 1)},
			Records: []engine.Record{{
				Fields:   []engine.Field{{Key: []byte("k"), Value: []byte("v")}},
				Identity: engine.Identity{Logstore: key.Logstore, Cursor: itoa(i)},
			}},
			Size:     s.size,
			Reserved: n,
		}
		if err := host.Emit(ctx, b); err != nil {
			return err
		}
	}
	// A reservation given back unused leaves nothing behind.
	if err := mr.Reserve(ctx, 7); err != nil {
		return err
	}
	mr.Unreserve(7)
	return nil
}

func itoa(i int) string { return string(rune('a'+i/26)) + string(rune('a'+i%26)) }

func TestPipelineEmitSettlesReservations(t *testing.T) {
	src := &reservingSource{batches: 20, size: 1000, reserves: []int64{400, 1000, 5000}}
	sink := enginetest.NewSink(enginetest.SinkConfig{})
	p := mustNew(t, src, nil, sink, testConfig(nil).WithMaxInflightBytes(4000))
	if err := p.Run(context.Background()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := sink.Stored(); got != src.batches {
		t.Fatalf("stored %d records, want %d", got, src.batches)
	}
	cur, peak := p.InflightBytes()
	if cur != 0 {
		t.Fatalf("in-flight bytes %d after the run, want 0: a reservation leaked", cur)
	}
	// A batch admitted by a smaller reservation is charged its real size
	// without waiting; the overshoot is bounded by that difference.
	if peak > 4000+1000 {
		t.Fatalf("in-flight bytes peaked at %d, want at most the budget plus one batch", peak)
	}
}
