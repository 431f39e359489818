package engine

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// loadCheckpoints reads the stored positions; the first committer that has
// a checkpoint for a shard wins.
func (p *Pipeline) loadCheckpoints(ctx context.Context) error {
	loaded := make(map[ShardKey]Checkpoint)
	for i := len(p.cfg.committers) - 1; i >= 0; i-- {
		cps, err := p.cfg.committers[i].LoadCheckpoints(ctx, p.name)
		if err != nil {
			return fmt.Errorf("pipeline %q: load checkpoints from committer %d: %w", p.name, i, err)
		}
		for _, cp := range cps {
			if cp.Cursor != "" {
				loaded[cp.Key()] = cp
			}
		}
	}
	unbound, err := p.bindLoaded(loaded)
	if err != nil {
		return fmt.Errorf("pipeline %q: %w", p.name, err)
	}
	p.mu.Lock()
	for k, cp := range loaded {
		p.checkpoints[k] = cp
	}
	for _, k := range unbound {
		p.unbound[k] = true
	}
	p.loadedAt = time.Now()
	p.mu.Unlock()
	p.log.Info("checkpoints loaded", "shards", len(loaded))
	if len(unbound) > 0 {
		first := loaded[unbound[0]]
		p.log.Warn("stored positions do not say what they were read from (saved by an earlier slspipe): "+
			"they are taken as positions in what the source reads now and bound to it on their next save; "+
			"if the source's endpoint, project or stream changed since they were saved, stop and reset the pipeline's positions",
			"shards", len(unbound), "origin", first.Origin)
	}
	return nil
}

// checkpointLoop saves moved positions every checkpoint interval until stop
// is closed.
func (p *Pipeline) checkpointLoop(ctx context.Context, stop <-chan struct{}) {
	t := time.NewTicker(p.cfg.checkpointInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if err := p.saveMoved(ctx); err != nil {
				// Retried on the next tick; the final save reports for good.
				p.m.checkpointFails.Inc()
				p.log.Warn("checkpoint save failed, will retry", "err", err)
			}
		}
	}
}

// saveMoved saves the committed cursors of every shard whose cursor moved
// since its last save, in one call per committer, and refreshes the lag
// gauges.
func (p *Pipeline) saveMoved(ctx context.Context) error {
	p.saveMu.Lock()
	defer p.saveMu.Unlock()
	p.mu.Lock()
	shards := make([]*shard, 0, len(p.shards))
	for _, sh := range p.shards {
		shards = append(shards, sh)
	}
	p.mu.Unlock()

	now := time.Now()
	var cps []Checkpoint
	var moved []*shard
	for _, sh := range shards {
		sh.mu.Lock()
		cursor, t := sh.wm.committed()
		dirty := sh.dirty && cursor != ""
		sh.dirty = false
		complete := sh.finished && sh.wm.pending() == 0
		sh.mu.Unlock()
		switch {
		case complete:
			sh.lagGauge.Set(0) // a finished shard has nothing left to read
		case !t.IsZero():
			sh.lagGauge.Set(now.Sub(t).Seconds())
		}
		if dirty {
			cps = append(cps, Checkpoint{Logstore: sh.key.Logstore, Shard: sh.key.Shard, Cursor: cursor, CursorTime: t, Origin: p.origin(sh.key.Logstore)})
			moved = append(moved, sh)
		}
	}
	if len(cps) == 0 {
		return nil
	}
	if err := p.saveAll(ctx, cps); err != nil {
		for _, sh := range moved {
			sh.mu.Lock()
			sh.dirty = true
			sh.mu.Unlock()
		}
		return err
	}
	p.mu.Lock()
	for _, cp := range cps {
		p.checkpoints[cp.Key()] = cp
		delete(p.unbound, cp.Key())
	}
	p.mu.Unlock()
	for i, sh := range moved {
		sh.commitTimeGauge.Set(float64(cps[i].CursorTime.Unix()))
	}
	return nil
}

// saveAll saves cps to every committer. saveMu must be held.
func (p *Pipeline) saveAll(ctx context.Context, cps []Checkpoint) error {
	var errs []error
	for i, c := range p.cfg.committers {
		if err := c.SaveCheckpoints(ctx, p.name, cps); err != nil {
			errs = append(errs, fmt.Errorf("save checkpoints to committer %d: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

// Checkpoints returns the positions last loaded or saved, per shard.
func (p *Pipeline) Checkpoints() []Checkpoint {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Checkpoint, 0, len(p.checkpoints))
	for _, cp := range p.checkpoints {
		out = append(out, cp)
	}
	return out
}
