package nats

import (
	"context"
	"testing"
	"time"

	"github.com/slspipe/slspipe/connectors/nats/natsserver"
	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/engine/enginetest"
)

// A pipeline replayed from scratch (its checkpoints lost) writes nothing new
// into the stream: the record ids de-duplicate the replay.
func TestPipelineIntoJetStreamReplayAddsNothing(t *testing.T) {
	srv := startServer(t, natsserver.Options{})
	_, js := client(t, srv.URL())
	cfg := sinkConfig(srv.URL())
	cfg.Subject, cfg.Stream, cfg.CreateStream, cfg.MaxInflight = "out.all", "OUT", true, 128
	sink := newSink(t, cfg)

	run := func() int {
		src := enginetest.NewSource(enginetest.SourceConfig{Shards: 3, Batches: 20, Records: 50, BodySize: 200})
		p, err := engine.New("to-nats", src, nil, sink, engine.NewConfig().
			WithCommitters(enginetest.NewStore()).WithCheckpointInterval(50*time.Millisecond).WithLogger(quiet))
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		return src.Total()
	}
	total := run()
	if n := msgCount(t, js, "OUT"); n != uint64(total) {
		t.Fatalf("stream holds %d messages after the first run, want %d", n, total)
	}
	run()
	ids, _ := storedIDs(t, js, "OUT")
	if len(ids) != total {
		t.Fatalf("stream holds %d distinct ids after the replay, want %d", len(ids), total)
	}
	for id, n := range ids {
		if n != 1 {
			t.Fatalf("id %s stored %d times", id, n)
		}
	}
}
