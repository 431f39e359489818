package engine

import (
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"
)

// batchState follows one emitted batch until it is done. It is the
// [Confirmer] of the batch's sink write; (*deadLetterConfirmer)(bs) is the
// confirmer of its dead-letter write. Instances are pooled with their
// output buffers.
type batchState struct {
	p       *Pipeline
	sh      *shard
	seq     uint64
	batch   *Batch
	size    int64
	emitted time.Time
	written time.Time
	outputs int // records written to the sink
	// pending counts records awaiting confirmation, plus one held by the
	// worker until it has issued every write.
	pending atomic.Int64
	res     Results  // outputs of the last stage
	dead    []Record // dead letters
	// arena holds the stages' output bytes; it and res keep their memory
	// when the state is reused and are weighed anew for each batch.
	arena batchArena
}

// recordSize is the memory of one record in a table, for the budget.
const recordSize = int(unsafe.Sizeof(Record{}))

// Confirm implements [Confirmer] for the sink.
func (bs *batchState) Confirm(n int, err error) {
	if err != nil {
		bs.p.fail(fmt.Errorf("sink failed records of shard %s at cursor %q: %w", bs.sh.key, bs.batch.Position.Cursor, err))
		return
	}
	bs.release(int64(n))
}

// deadLetterConfirmer confirms a batch's dead-letter write.
type deadLetterConfirmer batchState

// Confirm implements [Confirmer] for the dead-letter sink.
func (d *deadLetterConfirmer) Confirm(n int, err error) {
	bs := (*batchState)(d)
	if err != nil {
		bs.p.fail(fmt.Errorf("dead-letter sink failed records of shard %s at cursor %q: %w", bs.sh.key, bs.batch.Position.Cursor, err))
		return
	}
	bs.release(int64(n))
}

func (bs *batchState) release(n int64) {
	if bs.pending.Add(-n) == 0 {
		bs.p.finish(bs)
	}
}

func (p *Pipeline) newBatchState() *batchState {
	p.freeMu.Lock()
	defer p.freeMu.Unlock()
	if n := len(p.free); n > 0 {
		bs := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		return bs
	}
	return &batchState{p: p}
}

// finish completes a batch: it advances the shard's watermark, returns the
// batch's bytes to the budget and recycles its memory.
func (p *Pipeline) finish(bs *batchState) {
	now := time.Now()
	p.m.batchLatency.Observe(now.Sub(bs.emitted).Seconds())
	if !bs.written.IsZero() {
		p.m.sinkLatency.Observe(now.Sub(bs.written).Seconds())
		p.m.recordsConfirm.Add(float64(bs.outputs))
	}
	sh := bs.sh
	sh.mu.Lock()
	if sh.wm.done(bs.seq) {
		sh.dirty = true
	}
	empty := sh.wm.pending() == 0
	sh.mu.Unlock()
	if empty {
		poke(sh.drained)
	}
	p.budget.release(bs.size)
	p.m.inflightBytes.Sub(float64(bs.size))

	batch := bs.batch
	clear(bs.res.Records) // drop references into the finished batch
	clear(bs.dead)
	bs.res.Reset()
	bs.arena.reset()
	bs.sh, bs.batch, bs.dead, bs.written, bs.outputs = nil, nil, bs.dead[:0], time.Time{}, 0
	p.freeMu.Lock()
	p.free = append(p.free, bs)
	p.freeMu.Unlock()
	if p.recycler != nil {
		p.recycler.RecycleBatch(batch)
	}
	if p.inflight.Add(-1) == 0 {
		poke(p.idle)
	}
}
