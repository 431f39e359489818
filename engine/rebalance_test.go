package engine_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/engine/enginetest"
)

// rebalanceSource reads shard 0 up to batch 5, hands it back, lets
// "another replica" move its checkpoint to 8, then gets it back.
type rebalanceSource struct {
	store     *enginetest.Store
	drained   engine.Checkpoint
	reopened  engine.Resume
	otherSave error
}

func (s *rebalanceSource) emit(ctx context.Context, host engine.Host, from, to int) error {
	for b := from; b < to; b++ {
		batch := &engine.Batch{
			Position: engine.Position{Logstore: "mem", Shard: 0, Cursor: strconv.Itoa(b), NextCursor: strconv.Itoa(b + 1)},
			Records: []engine.Record{{
				Fields:   []engine.Field{{Key: []byte("b"), Value: []byte(strconv.Itoa(b))}},
				Identity: engine.Identity{Logstore: "mem", Shard: 0, Cursor: strconv.Itoa(b)},
			}},
		}
		if err := host.Emit(ctx, batch); err != nil {
			return err
		}
	}
	return nil
}

func (s *rebalanceSource) Run(ctx context.Context, host engine.Host) error {
	key := engine.ShardKey{Logstore: "mem", Shard: 0}
	if _, err := host.OpenShard(ctx, key); err != nil {
		return err
	}
	if err := s.emit(ctx, host, 0, 5); err != nil {
		return err
	}
	var err error
	if s.drained, err = host.DrainShard(ctx, key); err != nil {
		return err
	}
	s.otherSave = s.store.SaveCheckpoints(ctx, pipelineName, []engine.Checkpoint{{Logstore: "mem", Shard: 0, Cursor: "8"}})
	if s.reopened, err = host.OpenShard(ctx, key); err != nil {
		return err
	}
	start, err := strconv.Atoi(s.reopened.Cursor)
	if err != nil {
		return fmt.Errorf("resume cursor %q: %w", s.reopened.Cursor, err)
	}
	return s.emit(ctx, host, start, 10)
}

func TestPipelineReopenedShardResumesFromGroupCheckpoint(t *testing.T) {
	store := enginetest.NewStore()
	src := &rebalanceSource{store: store}
	sink := enginetest.NewSink(enginetest.SinkConfig{})
	p := mustNew(t, src, nil, sink, testConfig(store))
	if err := <-start(t, context.Background(), p); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if src.drained.Cursor != "5" {
		t.Fatalf("DrainShard returned cursor %q, want 5", src.drained.Cursor)
	}
	if !src.reopened.Found || src.reopened.Cursor != "8" {
		t.Fatalf("reopened shard resumed at %+v, want the other replica's checkpoint 8", src.reopened)
	}
	if got := committedBatches(t, store, "mem", 0); got != 10 {
		t.Fatalf("committed %d batches, want 10", got)
	}
	if got := sink.Stored(); got != 7 {
		t.Fatalf("stored %d records, want 7 (batches 0-4 and 8-9)", got)
	}
}
