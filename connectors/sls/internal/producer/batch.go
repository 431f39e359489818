package producer

import (
	"sync"
	"time"

	"github.com/slspipe/slspipe/engine"
)

// span is a run of records of one Write call inside a batch.
type span struct {
	c     engine.Confirmer
	write uint64 // the Write call's sequence number
	n     int
}

// batch is one future log group: the encoded logs, then, once sealed, the
// group's topic, source and tags.
type batch struct {
	key     string // the open-batch map key
	hashKey string // "" for load-balanced
	head    []byte // encoded topic, source and tags, appended when sealed
	buf     []byte // encoded LogGroup.Logs fields
	count   int
	charged int64 // bytes taken from the memory budget
	spans   []span
	opened  time.Time
}

// add records that one more record of Write call w, confirmed through c,
// is in the batch.
func (b *batch) add(c engine.Confirmer, w uint64) {
	if k := len(b.spans) - 1; k >= 0 && b.spans[k].write == w {
		b.spans[k].n++
		return
	}
	b.spans = append(b.spans, span{c: c, write: w, n: 1})
}

// confirm confirms every record of the batch with err.
func (b *batch) confirm(err error) {
	for _, s := range b.spans {
		s.c.Confirm(s.n, err)
	}
}

// initialBatchBuffer is the first capacity of a batch buffer.
const initialBatchBuffer = 64 << 10

// bufferPool recycles batch buffers. Unlike a sync.Pool it survives garbage
// collections, so that steady writing stops growing buffers by copying; it
// keeps at most limit bytes of capacity.
type bufferPool struct {
	limit int

	mu   sync.Mutex // guards the fields below
	free [][]byte
	held int // capacity of free
}

func (bp *bufferPool) get() []byte {
	bp.mu.Lock()
	defer bp.mu.Unlock()
	if n := len(bp.free); n > 0 {
		b := bp.free[n-1]
		bp.free[n-1] = nil
		bp.free = bp.free[:n-1]
		bp.held -= cap(b)
		return b
	}
	return make([]byte, 0, initialBatchBuffer)
}

func (bp *bufferPool) put(b []byte) {
	bp.mu.Lock()
	defer bp.mu.Unlock()
	if bp.held+cap(b) > bp.limit {
		return
	}
	bp.free = append(bp.free, b[:0])
	bp.held += cap(b)
}

// appendHead encodes a group's topic, source and tags.
func appendHead(dst []byte, topic, source string, cfgTags [][2]string, recTags []engine.Field) []byte {
	if topic != "" {
		dst = appendString(dst, tagGroupTopic, topic)
	}
	if source != "" {
		dst = appendString(dst, tagGroupSource, source)
	}
	for _, t := range cfgTags {
		dst = appendPair(dst, tagGroupTag, t[0], t[1])
	}
	for i := range recTags {
		dst = appendPair(dst, tagGroupTag, recTags[i].Key, recTags[i].Value)
	}
	return dst
}
