package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/engine/enginetest"
)

// originSource is an in-memory source whose cursors are positions in origin.
type originSource struct {
	*enginetest.Source
	origin string
}

func (s originSource) Origin(logstore string) string {
	if logstore != s.Logstore() {
		return ""
	}
	return s.origin
}

// TestStoredPositionOfAnotherOrigin: a checkpoint saved reading one origin
// stops the pipeline before anything is read when the source reads
// another, with an error naming both.
func TestStoredPositionOfAnotherOrigin(t *testing.T) {
	store := enginetest.NewStore()
	for shard := range 3 {
		if err := store.SaveCheckpoints(context.Background(), pipelineName, []engine.Checkpoint{
			{Logstore: "mem", Shard: shard, Cursor: "2", Origin: "sls://a/one/mem"},
		}); err != nil {
			t.Fatal(err)
		}
	}
	src := originSource{enginetest.NewSource(enginetest.SourceConfig{Shards: 3, Batches: 4, Records: 2}), "sls://a/two/mem"}
	sink := enginetest.NewSink(enginetest.SinkConfig{})
	defer sink.Close()
	err := mustNew(t, src, nil, sink, testConfig(store)).Run(context.Background())
	var mismatch *engine.OriginMismatchError
	if !errors.As(err, &mismatch) || !errors.Is(err, engine.ErrPositionMismatch) {
		t.Fatalf("Run = %v, want an OriginMismatchError", err)
	}
	if mismatch.Shard != (engine.ShardKey{Logstore: "mem", Shard: 0}) || mismatch.Stored != "sls://a/one/mem" || mismatch.Current != "sls://a/two/mem" || mismatch.More != 2 {
		t.Fatalf("mismatch %+v", mismatch)
	}
	for _, want := range []string{"sls://a/one/mem", "sls://a/two/mem", "mem/0", "2 more shards"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if n := sink.Stored(); n != 0 {
		t.Fatalf("%d records delivered from positions in other data", n)
	}
}

// TestUnboundPositionsAreBound: checkpoints saved without an origin are
// used as positions in the current origin and saved again bound to it,
// even for a shard whose cursor does not move; checkpoints of a source
// naming no origin stay unbound.
func TestUnboundPositionsAreBound(t *testing.T) {
	store := enginetest.NewStore()
	if err := store.SaveCheckpoints(context.Background(), pipelineName, []engine.Checkpoint{
		{Logstore: "mem", Shard: 0, Cursor: "2"},
		{Logstore: "mem", Shard: 1, Cursor: "4"}, // at the end: nothing more to read
	}); err != nil {
		t.Fatal(err)
	}
	const origin = "jetstream://IN?created=2026-01-02T03:04:05Z"
	src := originSource{enginetest.NewSource(enginetest.SourceConfig{Shards: 2, Batches: 4, Records: 2}), origin}
	sink := enginetest.NewSink(enginetest.SinkConfig{})
	defer sink.Close()
	if err := mustNew(t, src, nil, sink, testConfig(store)).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := sink.Stored(); n != 2*2 {
		t.Fatalf("%d records delivered, want the 4 after the stored positions", n)
	}
	for shard := range 2 {
		cp, ok := store.Checkpoint(pipelineName, engine.ShardKey{Logstore: "mem", Shard: shard})
		if !ok || cp.Cursor != "4" || cp.Origin != origin {
			t.Errorf("shard %d checkpoint %+v, want cursor 4 bound to %s", shard, cp, origin)
		}
	}

	// A second run reads nothing again and accepts its own binding.
	sink2 := enginetest.NewSink(enginetest.SinkConfig{})
	defer sink2.Close()
	src2 := originSource{enginetest.NewSource(enginetest.SourceConfig{Shards: 2, Batches: 4, Records: 2}), origin}
	if err := mustNew(t, src2, nil, sink2, testConfig(store)).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := sink2.Stored(); n != 0 {
		t.Fatalf("second run delivered %d records", n)
	}

	// A source without origins leaves checkpoints as they are.
	plain := enginetest.NewStore()
	if err := plain.SaveCheckpoints(context.Background(), pipelineName, []engine.Checkpoint{{Logstore: "mem", Shard: 0, Cursor: "1"}}); err != nil {
		t.Fatal(err)
	}
	sink3 := enginetest.NewSink(enginetest.SinkConfig{})
	defer sink3.Close()
	if err := mustNew(t, enginetest.NewSource(enginetest.SourceConfig{Shards: 1, Batches: 2, Records: 1}), nil, sink3, testConfig(plain)).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if cp, _ := plain.Checkpoint(pipelineName, engine.ShardKey{Logstore: "mem", Shard: 0}); cp.Origin != "" || cp.Cursor != "2" {
		t.Fatalf("checkpoint of a source without origins: %+v", cp)
	}
}
