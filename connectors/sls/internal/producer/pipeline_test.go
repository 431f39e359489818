package producer

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/engine/enginetest"
)

// A pipeline from the in-memory source into the producer stores every
// record, and commits each shard to its end only once they are confirmed.
func TestPipelineIntoSLS(t *testing.T) {
	const project, logstore = "p-pipeline", "out"
	srv := startEmulator(t, project, logstore, 2)
	cfg := sinkConfig(srv, project, logstore)
	cfg.MaxBatchCount = 700
	p := newProducer(t, srv, cfg, nil)

	const shards, batches = 3, 20
	records := 100 * 5 / scale
	src := enginetest.NewSource(enginetest.SourceConfig{Shards: shards, Batches: batches, Records: records, BodySize: 200})
	store := enginetest.NewStore()
	// The source's records carry fixed times long past, which SLS refuses
	// (InvalidTimestamp); a stage restamps them.
	now := engine.TimestampOf(time.Now())
	restamp := engine.StageFunc("restamp", func(_ context.Context, in []engine.Record, out *engine.Results) error {
		for _, r := range in {
			r.Time = now
			out.Emit(r)
		}
		return nil
	})
	pl, err := engine.New("to-sls", src, []engine.StageFactory{restamp}, p, engine.NewConfig().
		WithCommitters(store).WithCheckpointInterval(50*time.Millisecond).WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := pl.Run(ctx); err != nil {
		t.Fatal(err)
	}
	for sh := range shards {
		cp, ok := store.Checkpoint("to-sls", engine.ShardKey{Logstore: src.Logstore(), Shard: sh})
		if !ok || cp.Cursor != strconv.Itoa(batches) {
			t.Errorf("shard %d committed %+v, want cursor %d", sh, cp, batches)
		}
	}
	// Each source shard numbers its records from 0: every seq is stored
	// once per shard.
	seen := map[string]int{}
	total := 0
	for _, s := range readShards(t, srv, project, logstore) {
		for _, l := range s.logs {
			seen[l.get("seq")]++
			total++
		}
	}
	if total != src.Total() {
		t.Errorf("read back %d logs, the source held %d", total, src.Total())
	}
	for i := range batches * records {
		if n := seen[fmt.Sprint(i)]; n != shards {
			t.Fatalf("seq %d stored %d times, want %d", i, n, shards)
		}
	}
}
