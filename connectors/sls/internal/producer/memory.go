package producer

import (
	"context"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// memoryBudget bounds the bytes of encoded logs accepted and not yet
// confirmed. Acquire blocks while the budget is spent.
type memoryBudget struct {
	limit int64
	gauge prometheus.Gauge // follows used

	mu      sync.Mutex // guards the fields below
	used    int64
	peak    int64
	waiting int
	changed chan struct{} // closed and replaced on every change
}

func newMemoryBudget(limit int64, gauge prometheus.Gauge) *memoryBudget {
	return &memoryBudget{limit: limit, gauge: gauge, changed: make(chan struct{})}
}

// acquire takes n bytes (n <= limit), waiting until they are free, ctx is
// done or stop is closed. full is called, without the lock, each time it
// has to wait; the producer uses it to seal batches that linger.
func (m *memoryBudget) acquire(ctx context.Context, n int64, stop <-chan struct{}, full func()) error {
	counted := false
	defer func() {
		if counted {
			m.mu.Lock()
			m.waiting--
			m.notifyLocked()
			m.mu.Unlock()
		}
	}()
	for {
		m.mu.Lock()
		if m.used+n <= m.limit {
			m.used += n
			m.peak = max(m.peak, m.used)
			m.gauge.Add(float64(n))
			m.notifyLocked()
			m.mu.Unlock()
			return nil
		}
		if !counted {
			counted = true
			m.waiting++
			m.notifyLocked()
		}
		ch := m.changed
		m.mu.Unlock()
		full()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-stop:
			return ErrClosed
		}
	}
}

// release returns n bytes.
func (m *memoryBudget) release(n int64) {
	if n == 0 {
		return
	}
	m.mu.Lock()
	m.used -= n
	m.gauge.Sub(float64(n))
	m.notifyLocked()
	m.mu.Unlock()
}

// memoryState is a snapshot of the budget.
type memoryState struct {
	used, peak int64
	waiting    int
}

// state returns the current state and a channel closed at the next change.
func (m *memoryBudget) state() (memoryState, <-chan struct{}) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return memoryState{used: m.used, peak: m.peak, waiting: m.waiting}, m.changed
}

// notifyLocked wakes waiters. m.mu must be held.
func (m *memoryBudget) notifyLocked() {
	close(m.changed)
	m.changed = make(chan struct{})
}
