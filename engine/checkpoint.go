package engine

import (
	"context"
	"time"
)

// Checkpoint is a shard's committed position.
type Checkpoint struct {
	Logstore string
	Shard    int
	// Cursor is the next cursor to read: everything before it is done.
	Cursor     string
	CursorTime time.Time
}

// Key returns the checkpoint's shard.
func (c Checkpoint) Key() ShardKey { return ShardKey{Logstore: c.Logstore, Shard: c.Shard} }

// Committer stores committed positions: the local checkpoint store, an SLS
// consumer group, or both.
//
// # Notes
//
//   - LoadCheckpoints returns the stored positions of a pipeline. With
//     several committers, the first one (in configuration order) that has a
//     checkpoint for a shard wins.
//   - SaveCheckpoints stores all of cps atomically, or none of them. The
//     engine calls it on its checkpoint interval, when a shard is drained
//     and at shutdown, from one goroutine at a time, and only with cursors
//     that never move backwards. A failed periodic save is retried on the
//     next interval.
type Committer interface {
	LoadCheckpoints(ctx context.Context, pipeline string) ([]Checkpoint, error)
	SaveCheckpoints(ctx context.Context, pipeline string, cps []Checkpoint) error
}
