package wasmhost

import (
	"context"

	"github.com/tetratelabs/wazero/experimental"
)

// cappedAllocator backs each instance's linear memory and enforces the memory limit
// itself, rather than through wazero's page limit, so that a refused memory.grow is
// observed: a guest reacts to it in many ways (trap, panic, error), and the host can
// then report the limit instead of a generic trap.
type cappedAllocator struct {
	limit   uint64 // bytes
	refused bool   // a grow beyond limit was refused; owned by the instance's holder
}

func (a *cappedAllocator) Allocate(capacity, _ uint64) experimental.LinearMemory {
	return &cappedMemory{a: a, buf: make([]byte, 0, min(capacity, a.limit))}
}

func (a *cappedAllocator) context(ctx context.Context) context.Context {
	return experimental.WithMemoryAllocator(ctx, a)
}

type cappedMemory struct {
	a   *cappedAllocator
	buf []byte
}

func (m *cappedMemory) Reallocate(size uint64) []byte {
	if size > m.a.limit {
		m.a.refused = true
		return nil
	}
	if size <= uint64(cap(m.buf)) {
		m.buf = m.buf[:size]
		return m.buf
	}
	// Grow geometrically so that page-by-page growth does not copy quadratically.
	nb := make([]byte, size, min(max(size, 2*uint64(cap(m.buf))), m.a.limit))
	copy(nb, m.buf)
	m.buf = nb
	return nb
}

func (m *cappedMemory) Free() { m.buf = nil }
