package wasmhost

import (
	"context"
	"sync"
)

// slot is one place in the fixed pool. Its instance is nil after a trap and is re-created
// by the next user, so a trap costs the re-instantiation only when the slot is needed.
type slot struct {
	inst *instance
}

// pool hands out a fixed number of slots. Exactly n slots exist, so release never blocks.
type pool struct {
	slots    chan *slot
	done     chan struct{}
	shutOnce sync.Once
}

func (p *pool) init(n int) {
	p.slots = make(chan *slot, n)
	p.done = make(chan struct{})
}

// acquire waits for a free slot.
func (p *pool) acquire(ctx context.Context) (*slot, error) {
	select {
	case <-p.done:
		return nil, ErrClosed
	default:
	}
	select {
	case s := <-p.slots:
		return s, nil
	case <-p.done:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *pool) release(s *slot) { p.slots <- s }

// shut stops new acquisitions; it reports whether this call did it.
func (p *pool) shut() bool {
	first := false
	p.shutOnce.Do(func() { close(p.done); first = true })
	return first
}

// drain waits until every slot is back, i.e. no batch is running.
func (p *pool) drain(ctx context.Context) error {
	for i := 0; i < cap(p.slots); i++ {
		select {
		case <-p.slots:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
