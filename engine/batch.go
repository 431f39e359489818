package engine

import (
	"strconv"
	"time"
)

// ShardKey names one shard of one logstore.
type ShardKey struct {
	Logstore string
	Shard    int
}

// String returns "logstore/shard".
func (k ShardKey) String() string { return k.Logstore + "/" + strconv.Itoa(k.Shard) }

// Position says where a batch was read: the cursor it was read from and the
// cursor to read next. Committing NextCursor means "everything before it is
// done".
type Position struct {
	Logstore   string
	Shard      int
	Cursor     string
	NextCursor string
	// CursorTime is the server receive time of the batch's data; the engine
	// reports shard lag and committed cursor time from it.
	CursorTime time.Time
}

// Key returns the shard the position belongs to.
func (p Position) Key() ShardKey { return ShardKey{Logstore: p.Logstore, Shard: p.Shard} }

// Batch is the unit a source emits: the records read from one shard at one
// position.
//
// # Notes
//
// Once emitted, the batch belongs to the engine until it is done; the source
// must not modify it or the bytes its records point to until then. A source
// that implements [BatchRecycler] gets the batch back at that point and may
// reuse its memory.
type Batch struct {
	Position Position
	Records  []Record
	// Size is the batch's weight in bytes against the pipeline's memory
	// budget. When zero the engine sums [Record.Size] over the records.
	Size int
	// Reserved is the part of the budget the source already took for this
	// batch through [MemoryReserver]. Emit consumes it: it takes only what
	// Size exceeds it by, without waiting (the reservation admitted the
	// batch), and gives back any excess.
	Reserved int64
}
