package engine

import "time"

// commitWatermark tracks the batches of one shard between emission and
// completion and yields the cursor that is safe to commit: the next cursor
// of the longest prefix of done batches.
//
// Batches are numbered in emission order by add; done may be called in any
// order. The zero value is not usable; see newCommitWatermark. It is not safe
// for concurrent use: the owning shard's mutex guards it.
type commitWatermark struct {
	cursor     string // committed next cursor
	cursorTime time.Time

	// ring holds the pending batches, oldest at head; seq head is the
	// sequence number of ring[head].
	ring    []watermarkEntry
	head    int
	n       int
	headSeq uint64
}

type watermarkEntry struct {
	next     string
	nextTime time.Time
	done     bool
}

func newCommitWatermark(cursor string, cursorTime time.Time) commitWatermark {
	return commitWatermark{cursor: cursor, cursorTime: cursorTime, ring: make([]watermarkEntry, 8)}
}

// add registers the next batch in emission order and returns its sequence
// number.
func (w *commitWatermark) add(next string, nextTime time.Time) uint64 {
	if w.n == len(w.ring) {
		w.grow()
	}
	w.ring[(w.head+w.n)%len(w.ring)] = watermarkEntry{next: next, nextTime: nextTime}
	seq := w.headSeq + uint64(w.n)
	w.n++
	return seq
}

func (w *commitWatermark) grow() {
	ring := make([]watermarkEntry, 2*len(w.ring))
	for i := 0; i < w.n; i++ {
		ring[i] = w.ring[(w.head+i)%len(w.ring)]
	}
	w.ring, w.head = ring, 0
}

// done marks batch seq as done and reports whether the committed cursor
// moved. Unknown or already completed sequence numbers are ignored.
func (w *commitWatermark) done(seq uint64) bool {
	if seq < w.headSeq || seq >= w.headSeq+uint64(w.n) {
		return false
	}
	w.ring[(w.head+int(seq-w.headSeq))%len(w.ring)].done = true
	moved := false
	for w.n > 0 && w.ring[w.head].done {
		e := &w.ring[w.head]
		w.cursor, w.cursorTime = e.next, e.nextTime
		*e = watermarkEntry{}
		w.head = (w.head + 1) % len(w.ring)
		w.headSeq++
		w.n--
		moved = true
	}
	return moved
}

// dropLast forgets the most recently added batch, which must not be done;
// Emit uses it when a batch could not be queued after all.
func (w *commitWatermark) dropLast() {
	if w.n == 0 {
		return
	}
	w.n--
	w.ring[(w.head+w.n)%len(w.ring)] = watermarkEntry{}
}

// pending returns the number of batches added and not yet committed.
func (w *commitWatermark) pending() int { return w.n }

// committed returns the cursor that is safe to commit and its time.
func (w *commitWatermark) committed() (string, time.Time) { return w.cursor, w.cursorTime }
