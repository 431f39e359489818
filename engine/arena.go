package engine

// batchArena is memory that stage outputs of one batch may point to: it
// lives until the batch is done, is counted against the pipeline's memory
// budget, and is reused by a later batch afterwards, so serializers need not
// allocate (and leave to the garbage collector) a payload buffer per batch.
//
// Chunks are only ever appended to, never moved: a slice handed out stays
// valid until reset. Owned by the worker processing the batch; after that,
// read-only until the batch is done.
type batchArena struct {
	cur   []byte   // chunk being carved; len is what was handed out
	spare [][]byte // full chunks still referenced by this batch's outputs
}

// minArenaChunk keeps small requests from creating many tiny chunks.
const minArenaChunk = 64 << 10

// alloc returns an empty slice with capacity n (at least) that stays valid
// until reset.
func (a *batchArena) alloc(n int) []byte {
	if cap(a.cur)-len(a.cur) < n {
		if a.cur != nil {
			a.spare = append(a.spare, a.cur)
		}
		a.cur = make([]byte, 0, max(n, 2*cap(a.cur), minArenaChunk))
	}
	start := len(a.cur)
	a.cur = a.cur[:start+n]
	return a.cur[start : start : start+n]
}

// size returns the bytes the arena holds.
func (a *batchArena) size() int {
	n := cap(a.cur)
	for _, c := range a.spare {
		n += cap(c)
	}
	return n
}

// reset makes the arena's memory reusable; outputs of the previous batch
// must no longer be referenced. It keeps only the largest chunk, which after
// a few batches fits a whole batch.
func (a *batchArena) reset() {
	for i, c := range a.spare {
		if cap(c) > cap(a.cur) {
			a.cur = c
		}
		a.spare[i] = nil
	}
	a.spare = a.spare[:0]
	a.cur = a.cur[:0]
}
