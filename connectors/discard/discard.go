// Package discard provides a sink that confirms every record without
// storing it, for benchmarks and dry runs.
package discard

import (
	"context"
	"sync/atomic"

	"github.com/slspipe/slspipe/engine"
)

// Sink confirms every record as soon as it is written and counts them.
// It is safe for concurrent use.
type Sink struct {
	records atomic.Int64
}

// New returns a discarding sink.
func New() *Sink { return &Sink{} }

// Write implements engine.Sink: it confirms recs at once.
func (s *Sink) Write(_ context.Context, recs []engine.Record, c engine.Confirmer) error {
	s.records.Add(int64(len(recs)))
	c.Confirm(len(recs), nil)
	return nil
}

// Records returns how many records the sink has discarded.
func (s *Sink) Records() int64 { return s.records.Load() }
