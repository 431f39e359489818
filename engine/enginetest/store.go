package enginetest

import (
	"context"
	"errors"
	"sync"

	"github.com/slspipe/slspipe/engine"
)

// Store is an in-memory [engine.Committer].
type Store struct {
	mu    sync.Mutex // guards the fields below
	cps   map[string]map[engine.ShardKey]engine.Checkpoint
	saves int
	fail  bool
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{cps: map[string]map[engine.ShardKey]engine.Checkpoint{}}
}

// LoadCheckpoints implements [engine.Committer].
func (s *Store) LoadCheckpoints(_ context.Context, pipeline string) ([]engine.Checkpoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []engine.Checkpoint
	for _, cp := range s.cps[pipeline] {
		out = append(out, cp)
	}
	return out, nil
}

// SaveCheckpoints implements [engine.Committer].
func (s *Store) SaveCheckpoints(_ context.Context, pipeline string, cps []engine.Checkpoint) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return errors.New("store unavailable")
	}
	m := s.cps[pipeline]
	if m == nil {
		m = map[engine.ShardKey]engine.Checkpoint{}
		s.cps[pipeline] = m
	}
	for _, cp := range cps {
		m[cp.Key()] = cp
	}
	s.saves++
	return nil
}

// Checkpoint returns the stored checkpoint of one shard.
func (s *Store) Checkpoint(pipeline string, key engine.ShardKey) (engine.Checkpoint, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp, ok := s.cps[pipeline][key]
	return cp, ok
}

// Saves returns how many successful saves the store received.
func (s *Store) Saves() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.saves
}

// SetFailing makes saves fail (true) or succeed (false).
func (s *Store) SetFailing(fail bool) {
	s.mu.Lock()
	s.fail = fail
	s.mu.Unlock()
}

// Clone returns a store holding a copy of s's checkpoints: what a crashed
// process would find on disk at this instant.
func (s *Store) Clone() *Store {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := NewStore()
	for p, m := range s.cps {
		cm := make(map[engine.ShardKey]engine.Checkpoint, len(m))
		for k, v := range m {
			cm[k] = v
		}
		c.cps[p] = cm
	}
	return c
}
