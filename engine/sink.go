package engine

import "context"

// Confirmer receives a sink's confirmations for one [Sink.Write] call.
type Confirmer interface {
	// Confirm reports that n more records of the write are final: stored
	// when err is nil, failed for good when it is not. The n of all calls
	// for one write add up to the number of records written. A confirmation
	// is final and may come from any goroutine.
	Confirm(n int, err error)
}

// Sink writes records and confirms them asynchronously.
//
// # Notes
//
//   - Write may return before the records are stored; it may block to apply
//     backpressure. It must later confirm every record through c, in any
//     grouping and order. A sink must never confirm what it did not store.
//   - A failed confirmation means the sink's own retries are exhausted: the
//     pipeline fails and commits nothing past the failed batch. A Write
//     error means the same for all of recs.
//   - Buffers: recs and the bytes they point to stay valid until every one
//     of them is confirmed; the sink must not retain them afterwards.
//   - Write is called from several goroutines at once; batches of one shard
//     are written in order.
//   - The engine does not close the sink: whoever created it does, after
//     [Pipeline.Run] returns.
//   - The dead-letter sink has the same contract.
type Sink interface {
	Write(ctx context.Context, recs []Record, c Confirmer) error
}

// ReadinessChecker is implemented by sinks that can tell whether they are
// connected; the pipeline's /readyz reports it.
type ReadinessChecker interface {
	Ready(ctx context.Context) error
}
