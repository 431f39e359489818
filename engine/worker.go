package engine

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// batchesPerTurn bounds how many batches a worker takes from one shard
// before giving other ready shards a turn.
const batchesPerTurn = 8

// runQueue holds shards that have queued batches and no worker.
type runQueue struct {
	mu     sync.Mutex
	cond   sync.Cond
	items  fifo[*shard]
	closed bool
}

func newRunQueue() *runQueue {
	q := &runQueue{}
	q.cond.L = &q.mu
	return q
}

func (q *runQueue) push(s *shard) {
	q.mu.Lock()
	q.items.push(s)
	q.mu.Unlock()
	q.cond.Signal()
}

// pop waits for a shard; it returns nil once the queue is closed.
func (q *runQueue) pop() *shard {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.items.len() == 0 && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return nil
	}
	s, _ := q.items.pop()
	return s
}

func (q *runQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}

// worker processes shards taken from the run queue. It owns one instance of
// every stage and the scratch buffers between them.
type worker struct {
	p       *Pipeline
	stages  []Stage
	scratch []Results // outputs of every stage but the last
}

func (w *worker) run(ctx context.Context) {
	p := w.p
	for {
		sh := p.runq.pop()
		if sh == nil {
			return
		}
		for range batchesPerTurn {
			if ctx.Err() != nil || p.isFailed() {
				break
			}
			bs := sh.pop()
			if bs == nil {
				break
			}
			w.process(ctx, bs)
		}
		sh.scheduled.Store(false)
		// A batch queued after our last pop saw scheduled == true and left
		// the scheduling to us.
		if sh.queued() > 0 && sh.scheduled.CompareAndSwap(false, true) {
			p.runq.push(sh)
		}
	}
}

// process runs one batch through the stages and hands the results to the
// sinks. When it returns, the batch belongs to the sinks' confirmations.
func (w *worker) process(ctx context.Context, bs *batchState) {
	p := w.p
	in := bs.batch.Records
	fanned := false
	for i, st := range w.stages {
		out := &bs.res
		if i < len(w.stages)-1 {
			out = &w.scratch[i]
		}
		var ok, fan bool
		if in, fan, ok = w.runStage(ctx, i, st, bs, in, out); !ok {
			return
		}
		fanned = fanned || fan
	}
	if fanned {
		numberOutputs(in)
	}
	// What the stages made for this batch (output bytes, the output table)
	// lives until it is done: weigh it too, so the budget bounds memory
	// rather than just the pulled bytes. It is charged without waiting: the
	// batch is already admitted, and the source waits for the excess.
	if extra := int64(bs.arena.size() + cap(bs.res.Records)*recordSize); extra > 0 {
		p.budget.charge(extra)
		p.m.inflightBytes.Add(float64(extra))
		bs.size += extra
	}

	dead := len(bs.dead)
	bs.pending.Store(int64(len(in) + dead + 1)) // +1 until both writes are issued
	if len(in) > 0 {
		p.m.recordsWritten.Add(float64(len(in)))
		bs.written, bs.outputs = time.Now(), len(in)
		if err := p.sink.Write(ctx, in, bs); err != nil {
			p.fail(fmt.Errorf("sink write for shard %s at cursor %q: %w", bs.sh.key, bs.batch.Position.Cursor, err))
			return
		}
	}
	if dead > 0 {
		if err := p.cfg.deadLetter.Write(ctx, bs.dead, (*deadLetterConfirmer)(bs)); err != nil {
			p.fail(fmt.Errorf("dead-letter write for shard %s at cursor %q: %w", bs.sh.key, bs.batch.Position.Cursor, err))
			return
		}
	}
	bs.release(1)
}

// runStage calls stage i on in, applies the error policy to rejected records
// and stamps outputs with their input's identity. It returns the outputs,
// whether an input fanned out, and false if the batch must not go on
// (pipeline failed or stopping).
func (w *worker) runStage(ctx context.Context, i int, st Stage, bs *batchState, in []Record, out *Results) (outs []Record, fanned, ok bool) {
	p := w.p
	sm := &p.stageM[i]
	out.Reset()
	out.arena = &bs.arena
	// Most stages emit one record per input: size the tables once rather
	// than let appends double them, leaving the smaller copies as garbage.
	if cap(out.Records) < len(in) {
		out.Records = make([]Record, 0, len(in))
	}
	if cap(out.Outcomes) < len(in) {
		out.Outcomes = make([]Outcome, 0, len(in))
	}
	start := time.Now()
	err := st.Process(ctx, in, out)
	if len(in) > 0 {
		sm.nsPerRecord.Observe(float64(time.Since(start).Nanoseconds()) / float64(len(in)))
	}
	sm.in.Add(float64(len(in)))
	if err == nil {
		err = checkResults(len(in), out)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, false, false // stopping: leave the batch undone
		}
		sm.callErrors.Inc()
		out.Reset()
		for range in {
			out.Outcomes = append(out.Outcomes, Outcome{Err: err})
		}
	}
	k, dropped := 0, 0
	for j := range out.Outcomes {
		oc := &out.Outcomes[j]
		if oc.Err != nil {
			if !w.reject(i, bs, &in[j], oc.Err) {
				return nil, false, false
			}
			continue
		}
		if oc.Outputs == 0 {
			dropped++
			continue
		}
		fanned = fanned || oc.Outputs > 1
		for o := k; o < k+oc.Outputs; o++ {
			out.Records[o].Identity = in[j].Identity
		}
		k += oc.Outputs
	}
	sm.out.Add(float64(len(out.Records)))
	if dropped > 0 {
		sm.dropped.Add(float64(dropped))
	}
	return out.Records, fanned, true
}

// checkResults verifies that a stage kept its side of the contract.
func checkResults(n int, out *Results) error {
	if len(out.Outcomes) != n {
		return fmt.Errorf("stage returned %d outcomes for %d records", len(out.Outcomes), n)
	}
	total := 0
	for _, oc := range out.Outcomes {
		if oc.Outputs < 0 || (oc.Err != nil && oc.Outputs != 0) {
			return fmt.Errorf("stage returned an invalid outcome (outputs %d, error %v)", oc.Outputs, oc.Err)
		}
		total += oc.Outputs
	}
	if total != len(out.Records) {
		return fmt.Errorf("stage announced %d outputs and returned %d", total, len(out.Records))
	}
	return nil
}

// reject applies the error policy to a record that stage i rejected. It
// returns false when the pipeline fails.
func (w *worker) reject(i int, bs *batchState, rec *Record, err error) bool {
	p := w.p
	name := p.stages[i].Name()
	switch p.cfg.errorPolicy {
	case OnErrorSkip:
		p.stageM[i].skipped.Inc()
		p.log.Debug("record skipped", "stage", name, "record", rec.ID(), "err", err)
		return true
	case OnErrorDeadLetter:
		p.stageM[i].deadLettered.Inc()
		bs.dead = append(bs.dead, deadLetterRecord(name, rec, err))
		return true
	default:
		p.fail(fmt.Errorf("stage %q rejected record %s: %w", name, rec.ID(), err))
		return false
	}
}

// numberOutputs gives every output of one source record its own output
// index. Stages keep input order, so the outputs of one source record are
// adjacent.
func numberOutputs(recs []Record) {
	for j := range recs {
		id := &recs[j].Identity
		id.Output = 0
		if j > 0 {
			prev := &recs[j-1].Identity
			if prev.Index == id.Index && prev.Shard == id.Shard && prev.Cursor == id.Cursor && prev.Logstore == id.Logstore {
				id.Output = prev.Output + 1
			}
		}
	}
}
