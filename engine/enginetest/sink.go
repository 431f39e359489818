package enginetest

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"

	"github.com/slspipe/slspipe/engine"
)

// SinkConfig sets how an in-memory [Sink] behaves.
type SinkConfig struct {
	// Async confirms writes from the sink's own goroutine, in random order
	// and in random groups, instead of inside Write.
	Async bool
	// Seed seeds the random confirmation order of an Async sink.
	Seed uint64
	// Fail, when set, is asked about every record; a write holding a record
	// it returns an error for is confirmed with that error and not stored.
	Fail func(r *engine.Record) error
	// Stalled makes the sink start stalled (see [Sink.Stall]).
	Stalled bool
	// StallAfter, when positive, stalls the sink once it has accepted that
	// many records: later writes are held, as if the destination hung.
	StallAfter int
}

// Sink is an in-memory [engine.Sink] that stores deep copies of the records
// it confirms, keyed by [engine.Record.ID].
type Sink struct {
	cfg SinkConfig

	mu       sync.Mutex // guards the fields below
	cond     sync.Cond  // signalled when pending grows or the sink stops or resumes
	stalled  bool
	closed   bool
	pending  []pendingWrite
	count    map[string]int
	records  map[string]engine.Record
	accepted int // records accepted by Write
	rnd      *rand.Rand

	wg sync.WaitGroup
}

type pendingWrite struct {
	recs []engine.Record
	c    engine.Confirmer
}

// NewSink returns a sink; call Close when done with an Async sink.
func NewSink(cfg SinkConfig) *Sink {
	s := &Sink{
		cfg:     cfg,
		stalled: cfg.Stalled,
		count:   map[string]int{},
		records: map[string]engine.Record{},
		rnd:     rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
	}
	s.cond.L = &s.mu
	if cfg.Async {
		s.wg.Go(s.confirmLoop)
	}
	return s
}

// Write implements [engine.Sink].
func (s *Sink) Write(_ context.Context, recs []engine.Record, c engine.Confirmer) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("sink closed")
	}
	if s.cfg.StallAfter > 0 && s.accepted >= s.cfg.StallAfter {
		s.stalled = true
	}
	s.accepted += len(recs)
	if s.cfg.Async || s.stalled {
		s.pending = append(s.pending, pendingWrite{recs: recs, c: c})
		s.mu.Unlock()
		s.cond.Broadcast()
		return nil
	}
	s.mu.Unlock()
	s.confirm(recs, c)
	return nil
}

// confirm stores recs (unless one fails) and confirms them.
func (s *Sink) confirm(recs []engine.Record, c engine.Confirmer) {
	if s.cfg.Fail != nil {
		for i := range recs {
			if err := s.cfg.Fail(&recs[i]); err != nil {
				c.Confirm(len(recs), err)
				return
			}
		}
	}
	s.mu.Lock()
	for i := range recs {
		id := recs[i].ID()
		s.count[id]++
		if _, ok := s.records[id]; !ok {
			s.records[id] = recs[i].Clone()
		}
	}
	s.mu.Unlock()
	c.Confirm(len(recs), nil)
}

func (s *Sink) confirmLoop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		for !s.closed && (s.stalled || len(s.pending) == 0) {
			s.cond.Wait()
		}
		if s.closed {
			return
		}
		// Confirm a random pending write, possibly in two groups.
		i := s.rnd.IntN(len(s.pending))
		w := s.pending[i]
		s.pending[i] = s.pending[len(s.pending)-1]
		s.pending = s.pending[:len(s.pending)-1]
		split := 0
		if len(w.recs) > 1 {
			split = s.rnd.IntN(len(w.recs))
		}
		s.mu.Unlock()
		if split > 0 {
			s.confirm(w.recs[:split], w.c)
			s.confirm(w.recs[split:], w.c)
		} else {
			s.confirm(w.recs, w.c)
		}
		s.mu.Lock()
	}
}

// Stall stops confirming: writes are accepted and held.
func (s *Sink) Stall() {
	s.mu.Lock()
	s.stalled = true
	s.mu.Unlock()
}

// Resume confirms held writes and goes back to normal.
func (s *Sink) Resume() {
	s.mu.Lock()
	s.stalled = false
	var held []pendingWrite
	if !s.cfg.Async {
		held, s.pending = s.pending, nil
	}
	s.mu.Unlock()
	s.cond.Broadcast()
	for _, w := range held {
		s.confirm(w.recs, w.c)
	}
}

// Close stops an Async sink's goroutine; held writes stay unconfirmed.
func (s *Sink) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cond.Broadcast()
	s.wg.Wait()
}

// Accepted returns how many records Write accepted, confirmed or not.
func (s *Sink) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// Counts returns a copy of how many times each record id was stored.
func (s *Sink) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.count))
	for k, v := range s.count {
		out[k] = v
	}
	return out
}

// Record returns the stored copy of the record with the given id.
func (s *Sink) Record(id string) (engine.Record, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.records[id]
	return r, ok
}

// Stored returns the number of distinct record ids stored.
func (s *Sink) Stored() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.count)
}
