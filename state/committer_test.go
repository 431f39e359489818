package state_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/state"
)

func TestCommitterRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := state.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := st.Committer()
	want := []engine.Checkpoint{
		{Logstore: "nginx", Shard: 0, Cursor: "MTAw", CursorTime: when},
		{Logstore: "nginx", Shard: 3, Cursor: "MjAw"},
	}
	if err := c.SaveCheckpoints(ctx, "p1", want); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st, err = state.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got, err := st.Committer().LoadCheckpoints(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("loaded %d checkpoints, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i].Logstore != want[i].Logstore || got[i].Shard != want[i].Shard || got[i].Cursor != want[i].Cursor || !got[i].CursorTime.Equal(want[i].CursorTime) {
			t.Errorf("checkpoint %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	other, err := st.Committer().LoadCheckpoints(ctx, "p2")
	if err != nil || len(other) != 0 {
		t.Errorf("another pipeline sees %v, %v; want nothing", other, err)
	}
}
