package discard_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/slspipe/slspipe/connectors/discard"
	"github.com/slspipe/slspipe/connectors/generate"
	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/engine/enginetest"
)

func TestDiscardConfirmsEverything(t *testing.T) {
	src, err := generate.New(generate.Config{Shards: 2, Count: 500, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	sink := discard.New()
	store := enginetest.NewStore()
	cfg := engine.NewConfig().WithCommitters(store).WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	p, err := engine.New("discard", src, nil, sink, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if sink.Records() != 500 {
		t.Fatalf("discarded %d records, want 500", sink.Records())
	}
	for s := range 2 {
		cp, _ := store.Checkpoint("discard", engine.ShardKey{Logstore: "generated", Shard: s})
		if cp.Cursor != generate.Cursor(250) {
			t.Fatalf("shard %d committed %q, want %q", s, cp.Cursor, generate.Cursor(250))
		}
	}
}
