package state

import (
	"context"

	"github.com/slspipe/slspipe/engine"
)

// Committer returns the store as an [engine.Committer], so a pipeline
// commits its positions into this file.
func (s *Store) Committer() engine.Committer { return committer{s} }

type committer struct{ s *Store }

func (c committer) LoadCheckpoints(_ context.Context, pipeline string) ([]engine.Checkpoint, error) {
	cps, err := c.s.Load(pipeline)
	if err != nil {
		return nil, err
	}
	out := make([]engine.Checkpoint, len(cps))
	for i, cp := range cps {
		out[i] = engine.Checkpoint{Logstore: cp.Logstore, Shard: cp.Shard, Cursor: cp.Cursor, CursorTime: cp.CursorTime, Origin: cp.Origin}
	}
	return out, nil
}

func (c committer) SaveCheckpoints(_ context.Context, pipeline string, cps []engine.Checkpoint) error {
	in := make([]Checkpoint, len(cps))
	for i, cp := range cps {
		in[i] = Checkpoint{Pipeline: pipeline, Logstore: cp.Logstore, Shard: cp.Shard, Cursor: cp.Cursor, CursorTime: cp.CursorTime, Origin: cp.Origin}
	}
	return c.s.Save(in)
}
