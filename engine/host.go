package engine

import (
	"context"
	"fmt"
	"time"
)

// host is the [Host] a pipeline gives its source; keeping it apart keeps the
// source-facing calls off the Pipeline's own API.
type host struct{ p *Pipeline }

var (
	_ Host           = host{}
	_ MemoryReserver = host{}
)

// Reserve implements [MemoryReserver].
func (h host) Reserve(ctx context.Context, n int64) error {
	if n <= 0 {
		return nil
	}
	return h.p.budget.acquire(ctx, n)
}

// Unreserve implements [MemoryReserver].
func (h host) Unreserve(n int64) {
	if n > 0 {
		h.p.budget.release(n)
	}
}

// OpenShard implements [Host].
func (h host) OpenShard(ctx context.Context, key ShardKey) (Resume, error) {
	return h.p.openShard(ctx, key)
}

// Emit implements [Host].
func (h host) Emit(ctx context.Context, b *Batch) error { return h.p.emit(ctx, b) }

// FinishShard implements [Host].
func (h host) FinishShard(key ShardKey) { h.p.finishShard(key) }

// DrainShard implements [Host].
func (h host) DrainShard(ctx context.Context, key ShardKey) (Checkpoint, error) {
	return h.p.drainShard(ctx, key)
}

func (p *Pipeline) openShard(ctx context.Context, key ShardKey) (Resume, error) {
	if p.isFailed() {
		return Resume{}, ErrPipelineFailed
	}
	if !p.running.Load() {
		return Resume{}, ErrNotRunning
	}
	p.mu.Lock()
	sh, open := p.shards[key]
	_, known := p.checkpoints[key]
	stale := time.Since(p.loadedAt) > p.cfg.checkpointInterval
	p.mu.Unlock()
	if open {
		sh.mu.Lock()
		c, t := sh.wm.committed()
		sh.mu.Unlock()
		return Resume{Found: c != "", Cursor: c, CursorTime: t}, nil
	}
	if (!known && stale) || p.wasReleased(key) {
		// Another consumer of the group may have moved this shard since
		// the checkpoints were loaded; ask the committers again.
		if err := p.reloadCheckpoint(ctx, key); err != nil {
			return Resume{}, fmt.Errorf("open shard %s: %w", key, err)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if sh, ok := p.shards[key]; ok { // opened concurrently
		sh.mu.Lock()
		c, t := sh.wm.committed()
		sh.mu.Unlock()
		return Resume{Found: c != "", Cursor: c, CursorTime: t}, nil
	}
	cp, found := p.checkpoints[key]
	found = found && cp.Cursor != ""
	sh = &shard{
		key:     key,
		slots:   make(chan struct{}, p.cfg.shardQueueDepth),
		drained: make(chan struct{}, 1),
		wm:      newCommitWatermark(cp.Cursor, cp.CursorTime),
		// A position loaded without its origin is saved again, bound.
		dirty: found && p.unbound[key],
	}
	sh.lagGauge, sh.commitTimeGauge = p.m.shardGauges(key)
	if found {
		sh.commitTimeGauge.Set(float64(cp.CursorTime.Unix()))
	}
	p.shards[key] = sh
	p.log.Debug("shard opened", "logstore", key.Logstore, "shard", key.Shard, "resume", found)
	return Resume{Found: found, Cursor: cp.Cursor, CursorTime: cp.CursorTime}, nil
}

func (p *Pipeline) shard(key ShardKey) *shard {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.shards[key]
}

func (p *Pipeline) emit(ctx context.Context, b *Batch) error {
	// The batch's reservation is consumed here, whatever happens.
	reserved := max(b.Reserved, 0)
	b.Reserved = 0
	giveBack := func() {
		if reserved > 0 {
			p.budget.release(reserved)
		}
	}
	if p.isFailed() {
		giveBack()
		return ErrPipelineFailed
	}
	if !p.running.Load() {
		giveBack()
		return ErrNotRunning
	}
	key := b.Position.Key()
	sh := p.shard(key)
	if sh == nil {
		giveBack()
		return fmt.Errorf("emit to shard %s: shard is not open", key)
	}
	size := int64(b.Size)
	if size <= 0 {
		for i := range b.Records {
			size += int64(b.Records[i].Size())
		}
	}
	switch {
	case reserved == 0:
		if err := p.budget.acquire(ctx, size); err != nil {
			return err
		}
	case size > reserved:
		// Admitted by its reservation: waiting here for the rest could
		// deadlock readers that all hold reservations.
		p.budget.charge(size - reserved)
	case size < reserved:
		p.budget.release(reserved - size)
	}
	select {
	case sh.slots <- struct{}{}:
	case <-ctx.Done():
		p.budget.release(size)
		return ctx.Err()
	case <-p.failed:
		p.budget.release(size)
		return ErrPipelineFailed
	}
	p.m.inflightBytes.Add(float64(size))
	p.m.sourceRecords.Add(float64(len(b.Records)))
	p.m.sourceBytes.Add(float64(size))
	bs := p.newBatchState()
	bs.sh, bs.batch, bs.size, bs.emitted = sh, b, size, time.Now()
	p.inflight.Add(1)
	sh.push(bs)
	if sh.scheduled.CompareAndSwap(false, true) {
		p.runq.push(sh)
	}
	return nil
}

func (p *Pipeline) finishShard(key ShardKey) {
	if sh := p.shard(key); sh != nil {
		sh.mu.Lock()
		sh.finished = true
		sh.mu.Unlock()
		p.log.Info("shard finished", "logstore", key.Logstore, "shard", key.Shard)
	}
}

func (p *Pipeline) drainShard(ctx context.Context, key ShardKey) (Checkpoint, error) {
	sh := p.shard(key)
	if sh == nil {
		return Checkpoint{}, fmt.Errorf("drain shard %s: shard is not open", key)
	}
	for sh.pending() > 0 {
		select {
		case <-sh.drained:
		case <-ctx.Done():
			return Checkpoint{}, fmt.Errorf("drain shard %s: %w", key, ctx.Err())
		case <-p.failed:
			return Checkpoint{}, fmt.Errorf("drain shard %s: %w", key, ErrPipelineFailed)
		}
	}
	p.saveMu.Lock()
	defer p.saveMu.Unlock()
	sh.mu.Lock()
	cursor, t := sh.wm.committed()
	dirty := sh.dirty
	sh.dirty = false
	sh.mu.Unlock()
	cp := Checkpoint{Logstore: key.Logstore, Shard: key.Shard, Cursor: cursor, CursorTime: t, Origin: p.origin(key.Logstore)}
	if dirty && cursor != "" {
		if err := p.saveAll(ctx, []Checkpoint{cp}); err != nil {
			sh.mu.Lock()
			sh.dirty = true
			sh.mu.Unlock()
			return Checkpoint{}, fmt.Errorf("drain shard %s: %w", key, err)
		}
		sh.commitTimeGauge.Set(float64(t.Unix()))
	}
	p.mu.Lock()
	delete(p.shards, key)
	p.released[key] = true
	if cursor != "" {
		p.checkpoints[key] = cp
	}
	if dirty {
		delete(p.unbound, key)
	}
	p.mu.Unlock()
	p.m.forgetShard(key)
	p.log.Info("shard drained", "logstore", key.Logstore, "shard", key.Shard, "cursor", cursor)
	return cp, nil
}

func (p *Pipeline) wasReleased(key ShardKey) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.released[key]
}

// reloadCheckpoint refreshes the stored position of one shard from the
// committers; the first committer that has one wins.
func (p *Pipeline) reloadCheckpoint(ctx context.Context, key ShardKey) error {
	for i, c := range p.cfg.committers {
		cps, err := c.LoadCheckpoints(ctx, p.name)
		if err != nil {
			return fmt.Errorf("load checkpoints from committer %d: %w", i, err)
		}
		for _, cp := range cps {
			if cp.Key() == key && cp.Cursor != "" {
				unbound, err := p.bindLoaded(map[ShardKey]Checkpoint{key: cp})
				if err != nil {
					return err
				}
				if len(unbound) > 0 {
					cp.Origin = p.origin(key.Logstore)
				}
				p.mu.Lock()
				p.checkpoints[key] = cp
				if len(unbound) > 0 {
					p.unbound[key] = true
				}
				p.mu.Unlock()
				return nil
			}
		}
	}
	return nil
}
