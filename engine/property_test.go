package engine_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/engine/enginetest"
)

// TestPipelineCommitProperty runs whole pipelines with random shapes, random
// confirmation orders and random failures, and checks the promise at the
// heart of the engine: a committed cursor never passes a record that was not
// delivered or filtered, a failed record is never committed past, and every
// shard reaches its last cursor when nothing fails.
func TestPipelineCommitProperty(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, 1))
	iterations := 40
	if testing.Short() {
		iterations = 10
	}
	for it := range iterations {
		srcCfg := enginetest.SourceConfig{
			Shards:  1 + rnd.IntN(6),
			Batches: 1 + rnd.IntN(40),
			Records: 1 + rnd.IntN(8),
		}
		filterMod := 2 + rnd.IntN(5)
		// failure: 0 none, 1 sink rejects a record, 2 a stage rejects it.
		failure := rnd.IntN(3)
		failShard, failBatch, failIndex := rnd.IntN(srcCfg.Shards), rnd.IntN(srcCfg.Batches), rnd.IntN(srcCfg.Records)
		failSeq := failBatch*srcCfg.Records + failIndex
		if failure == 1 && failSeq%filterMod == 0 {
			failure = 0 // the record is filtered before it reaches the sink
		}
		failID := recordID("mem", failShard, failBatch, failIndex, 0)

		sink := enginetest.NewSink(enginetest.SinkConfig{Async: true, Seed: rnd.Uint64(), Fail: func(r *engine.Record) error {
			if failure == 1 && r.ID() == failID {
				return errors.New("injected sink failure")
			}
			return nil
		}})
		stage := engine.StageFunc("prop", func(_ context.Context, in []engine.Record, out *engine.Results) error {
			for i := range in {
				v, _ := in[i].Get("seq")
				seq, _ := strconv.Atoi(string(v))
				switch {
				case failure == 2 && in[i].ID() == failID:
					out.Reject(errors.New("injected stage failure"))
				case seq%filterMod == 0:
					out.Emit()
				default:
					out.Emit(in[i])
				}
			}
			return nil
		})
		store := enginetest.NewStore()
		cfg := testConfig(store).
			WithWorkers(1 + rnd.IntN(3)).
			WithShardQueueDepth(1 + rnd.IntN(4)).
			WithMaxInflightBytes(int64(1 + rnd.IntN(20*srcCfg.Records*32))).
			WithCheckpointInterval(time.Duration(1+rnd.IntN(3)) * time.Millisecond)
		p := mustNew(t, enginetest.NewSource(srcCfg), []engine.StageFactory{stage}, sink, cfg)
		err := p.Run(context.Background())
		sink.Close()

		if failure == 0 && err != nil {
			t.Fatalf("seed %d iteration %d: Run = %v with no failure injected", seed, it, err)
		}
		if failure != 0 && err == nil {
			t.Fatalf("seed %d iteration %d: Run succeeded although record %s failed", seed, it, failID)
		}
		counts := sink.Counts()
		for s := range srcCfg.Shards {
			c := committedBatches(t, store, "mem", s)
			if failure == 0 && c != srcCfg.Batches {
				t.Fatalf("seed %d iteration %d: shard %d committed %d of %d batches", seed, it, s, c, srcCfg.Batches)
			}
			if failure != 0 && s == failShard && c > failBatch {
				t.Fatalf("seed %d iteration %d: shard %d committed %d batches, past failed batch %d", seed, it, s, c, failBatch)
			}
			for b := range c {
				for i := range srcCfg.Records {
					seq := b*srcCfg.Records + i
					if seq%filterMod != 0 && counts[recordID("mem", s, b, i, 0)] == 0 {
						t.Fatalf("seed %d iteration %d: shard %d committed %d batches but record %d of batch %d was never confirmed",
							seed, it, s, c, i, b)
					}
				}
			}
		}
	}
}
