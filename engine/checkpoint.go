package engine

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Checkpoint is a shard's committed position.
type Checkpoint struct {
	Logstore string
	Shard    int
	// Cursor is the next cursor to read: everything before it is done.
	Cursor     string
	CursorTime time.Time
	// Origin is what Cursor is a position in, as the source named it when
	// the checkpoint was saved ([Origins]); empty when the source names
	// none, or for a checkpoint saved before positions were bound.
	Origin string
}

// ErrPositionMismatch marks an error refusing a stored position because it
// is not a position in what the source reads now. [*OriginMismatchError]
// matches it, and sources wrap it for what only they can see (a JetStream
// position past the end of its stream), so that callers can tell the user
// how to reset positions whatever found the mismatch.
var ErrPositionMismatch = errors.New("a stored position belongs to other data")

// OriginMismatchError is returned (wrapped) by [Pipeline.Run] when a stored
// checkpoint is a position in another origin than the one its source reads
// now: another project or endpoint under the same logstore name, a stream
// deleted and created again under the same name. The pipeline does not
// start, since the cursor would be read in data it does not belong to.
type OriginMismatchError struct {
	Pipeline string
	// Shard is the first shard, in order, whose checkpoint does not match.
	Shard ShardKey
	// Stored is the origin the checkpoint was saved for, Current the one
	// the source reads.
	Stored, Current string
	// More counts the other shards whose checkpoints do not match.
	More int
}

// Unwrap returns ErrPositionMismatch.
func (e *OriginMismatchError) Unwrap() error { return ErrPositionMismatch }

func (e *OriginMismatchError) Error() string {
	more := ""
	if e.More > 0 {
		more = fmt.Sprintf(" (and %d more shards)", e.More)
	}
	return fmt.Sprintf("the stored position of shard %s%s was saved reading %s, but the source now reads %s; the pipeline does not start from a position in other data",
		e.Shard, more, e.Stored, e.Current)
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
