package engine

import (
	"context"
	"time"
)

// Source reads shards and emits their batches to a [Host].
//
// # Notes
//
//   - The source owns its shards' lifecycles. Before emitting a shard's
//     batches it calls [Host.OpenShard], which returns the position to resume
//     from: a stored checkpoint wins over the source's configured start.
//   - Batches of one shard must be emitted in order, from one goroutine at a
//     time. Different shards may be emitted concurrently.
//   - Run returns nil when the source is exhausted (a bounded backfill, a
//     generator's count), after which the pipeline drains and ends. It
//     returns ctx.Err() or nil when ctx is cancelled. Any other error fails
//     the pipeline.
type Source interface {
	Run(ctx context.Context, host Host) error
}

// Origins is implemented by a [Source] whose cursors are positions in
// something that can change under the same name: an SLS logstore is the
// logstore of one project at one endpoint, a JetStream stream deleted and
// created again restarts its sequences. Origin returns, for a logstore the
// source reads (the Logstore of its [ShardKey]s), the identity of what its
// cursors are positions in, or "" when there is nothing to check.
//
// # Notes
//
//   - The pipeline binds every checkpoint it saves to its origin
//     ([Checkpoint.Origin]) and does not start when a stored checkpoint is
//     bound to another origin ([OriginMismatchError]).
//   - A stored checkpoint with no origin (saved before positions were
//     bound) is taken as a position in the current origin, with one
//     warning, and bound on the next save.
//   - Origin is called from any goroutine; it must be cheap and must not
//     change while the pipeline runs.
type Origins interface {
	Origin(logstore string) string
}

// BatchRecycler is implemented by sources that reuse batch memory. The engine
// calls RecycleBatch once a batch is done; the source may then reuse the
// batch and every buffer its records point to. It may be called from any
// goroutine, concurrently.
type BatchRecycler interface {
	RecycleBatch(b *Batch)
}

// MemoryReserver is implemented by the [Host] a pipeline gives its source.
// A source that must hold memory before it can emit it (a pull answer being
// read and decoded) reserves that memory first, so that the pipeline's
// in-flight byte budget also bounds data waiting to be emitted: without it,
// every shard reader would hold one batch beyond the budget.
//
// # Notes
//
//   - Reserve takes n bytes of the budget, waiting while it is full, and
//     returns ctx.Err() if ctx ends first. A request larger than the whole
//     budget is granted when nothing else is held.
//   - A reservation is handed to the next [Host.Emit] in [Batch.Reserved],
//     which consumes it whether or not Emit succeeds, or given back with
//     Unreserve when no batch will carry it.
//   - Safe for concurrent use.
type MemoryReserver interface {
	Reserve(ctx context.Context, n int64) error
	Unreserve(n int64)
}

// Resume is where a shard should be read from.
type Resume struct {
	// Found reports whether a checkpoint exists; when false the source uses
	// its configured start position and Cursor is empty.
	Found bool
	// Cursor is the committed next cursor to read from.
	Cursor string
	// CursorTime is the cursor's time when known.
	CursorTime time.Time
}

// Host is the engine side that a [Source] talks to. The engine implements
// it; connector tests may implement it to drive a source alone.
type Host interface {
	// OpenShard registers a shard and returns its resume position. Opening a
	// shard that is already open returns its current committed position.
	OpenShard(ctx context.Context, key ShardKey) (Resume, error)
	// Emit hands a batch of an open shard to the pipeline. It blocks while
	// the memory budget or the shard's queue is full, and returns ctx.Err()
	// if ctx ends first, or an error if the pipeline has failed or the shard
	// is not open.
	Emit(ctx context.Context, b *Batch) error
	// FinishShard says the shard will emit nothing more (a readonly shard
	// read to its end). Its batches still complete and commit.
	FinishShard(key ShardKey)
	// DrainShard waits until every batch emitted for the shard is done and
	// its committed cursor is saved to the committers, then forgets the
	// shard and returns the saved checkpoint. A source calls it before
	// releasing a shard to another consumer (group rebalance); it must not
	// emit for the shard meanwhile.
	DrainShard(ctx context.Context, key ShardKey) (Checkpoint, error)
}
