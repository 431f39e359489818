package nats

// pendingRing holds the messages awaiting acknowledgement, by token. Tokens are
// handed out in increasing order and mostly settle in order, so a ring indexed by
// token replaces a map: a lookup or a removal is an index and a comparison, and
// walking the ring visits entries in publish order.
//
// It is not safe for concurrent use; jsPublisher.mu guards it.
type pendingRing struct {
	slots []*inflight // a power of two long; token t lives at t&(len-1)
	base  uint64      // every token below base is settled
	next  uint64      // every token is below next
	n     int
}

func newPendingRing(window int) pendingRing {
	size := 1
	for size < 2*window {
		size <<= 1
	}
	return pendingRing{slots: make([]*inflight, size)}
}

func (r *pendingRing) mask() uint64 { return uint64(len(r.slots) - 1) }

// get returns the entry of token t, or nil when it is not pending.
func (r *pendingRing) get(t uint64) *inflight {
	if t < r.base || t >= r.next {
		return nil
	}
	if e := r.slots[t&r.mask()]; e != nil && e.token == t {
		return e
	}
	return nil
}

// add stores e under e.token, which must be at least every token added before.
func (r *pendingRing) add(e *inflight) {
	if r.n == 0 {
		r.base = e.token // nothing older is pending
	}
	if e.token-r.base >= uint64(len(r.slots)) {
		r.grow(e.token - r.base + 1)
	}
	r.slots[e.token&r.mask()] = e
	r.next = e.token + 1
	r.n++
}

// remove takes token t out and returns its entry, or nil when it is not pending.
func (r *pendingRing) remove(t uint64) *inflight {
	e := r.get(t)
	if e == nil {
		return nil
	}
	r.slots[t&r.mask()] = nil
	r.n--
	if r.n == 0 {
		r.base = r.next
	}
	for r.base < r.next && r.slots[r.base&r.mask()] == nil {
		r.base++
	}
	return e
}

// grow makes room for span consecutive tokens from base: an old message still
// unacknowledged while newer ones settle.
func (r *pendingRing) grow(span uint64) {
	size := uint64(len(r.slots))
	for size < 2*span {
		size <<= 1
	}
	slots := make([]*inflight, size)
	for t := r.base; t < r.next; t++ {
		if e := r.slots[t&r.mask()]; e != nil && e.token == t {
			slots[t&(size-1)] = e
		}
	}
	r.slots = slots
}

// each calls fn for every pending entry in token order. fn must not add or remove.
func (r *pendingRing) each(fn func(*inflight)) {
	for t := r.base; t < r.next; t++ {
		if e := r.slots[t&r.mask()]; e != nil && e.token == t {
			fn(e)
		}
	}
}
