package engine

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// shard is the engine's state for one open source shard: its queue of
// batches waiting for a worker and its commit watermark.
type shard struct {
	key ShardKey
	// slots bounds the batches queued for processing; Emit takes a slot and
	// the worker returns it when it dequeues the batch.
	slots chan struct{}
	// scheduled is true while the shard sits in the run queue or a worker
	// processes it, which keeps one shard on one worker at a time.
	scheduled atomic.Bool
	// drained is poked whenever the last pending batch completes.
	drained chan struct{}

	lagGauge, commitTimeGauge prometheus.Gauge

	mu       sync.Mutex // guards the fields below
	queue    fifo[*batchState]
	wm       commitWatermark
	dirty    bool // the committed cursor moved since the last save
	finished bool
}

func (s *shard) push(bs *batchState) {
	s.mu.Lock()
	bs.seq = s.wm.add(bs.batch.Position.NextCursor, bs.batch.Position.CursorTime)
	s.queue.push(bs)
	s.mu.Unlock()
}

func (s *shard) pop() *batchState {
	s.mu.Lock()
	bs, ok := s.queue.pop()
	s.mu.Unlock()
	if ok {
		<-s.slots
	}
	return bs
}

func (s *shard) queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queue.len()
}

func (s *shard) pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wm.pending()
}

// poke does a non-blocking send on a one-slot notification channel.
func poke(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
