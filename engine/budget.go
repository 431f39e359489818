package engine

import (
	"context"
	"sync"
)

// byteBudget is a semaphore counted in bytes: a batch acquires its size when
// it is emitted and releases it when it is done.
type byteBudget struct {
	max int64
	// onWait is called each time an acquire starts waiting.
	onWait func()

	mu      sync.Mutex // guards the fields below
	used    int64
	peak    int64
	waiters int
	wake    chan struct{} // closed and replaced on release while waiters > 0
}

func newByteBudget(max int64, onWait func()) *byteBudget {
	return &byteBudget{max: max, onWait: onWait, wake: make(chan struct{})}
}

// acquire takes n bytes, waiting until they are free. A request larger than
// the whole budget is granted when nothing else is held, so that one huge
// batch cannot wedge the pipeline.
func (b *byteBudget) acquire(ctx context.Context, n int64) error {
	b.mu.Lock()
	for b.used > 0 && b.used+n > b.max {
		wake := b.wake
		b.waiters++
		b.mu.Unlock()
		if b.onWait != nil {
			b.onWait()
		}
		select {
		case <-wake:
		case <-ctx.Done():
			b.mu.Lock()
			b.waiters--
			b.mu.Unlock()
			return ctx.Err()
		}
		b.mu.Lock()
		b.waiters--
	}
	b.used += n
	if b.used > b.peak {
		b.peak = b.used
	}
	b.mu.Unlock()
	return nil
}

// charge takes n bytes without waiting, for memory a batch already admitted
// turned out to need; later acquires wait until it is released.
func (b *byteBudget) charge(n int64) {
	b.mu.Lock()
	b.used += n
	if b.used > b.peak {
		b.peak = b.used
	}
	b.mu.Unlock()
}

// release returns n bytes and returns the bytes still held.
func (b *byteBudget) release(n int64) int64 {
	b.mu.Lock()
	b.used -= n
	used := b.used
	if b.waiters > 0 {
		close(b.wake)
		b.wake = make(chan struct{})
	}
	b.mu.Unlock()
	return used
}

func (b *byteBudget) stats() (used, peak int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used, b.peak
}
