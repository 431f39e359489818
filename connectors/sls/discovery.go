package sls

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	sdk "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/slspipe/slspipe/engine"
)

// shardPhase is where a shard is in its life in this process.
type shardPhase int

const (
	phaseWaiting shardPhase = iota // known, not started (ordered: parents unfinished)
	phaseRunning
	phaseDone // read to its end, or to stop_time
)

// shardState is what the logstore loop knows of one shard.
type shardState struct {
	id         int
	begin, end string // hash range [begin, end)
	readonly   atomic.Bool
	initial    bool // in the first listing of this run
	phase      shardPhase
	resumed    bool // started from a stored checkpoint
	cancel     context.CancelFunc
}

// overlaps reports whether the hash ranges of a and b intersect.
func (a *shardState) overlaps(b *shardState) bool {
	return a.begin < b.end && b.begin < a.end
}

// ancestors returns the shards that st descends from: readonly shards
// created before it (lower id) whose hash ranges overlap its own. ListShards
// does not name parents, but a split child's range lies inside its parent's
// and a merge child's range covers its parents'.
func ancestors(shards map[int]*shardState, st *shardState) []*shardState {
	var out []*shardState
	for _, o := range shards {
		if o.id < st.id && o.readonly.Load() && o.overlaps(st) {
			out = append(out, o)
		}
	}
	return out
}

// listShards lists a logstore's shards with the retry policy.
// refreshShards lists the shards of logstore and merges the listing into
// known; *first says whether it is the first listing, and is then cleared.
func (s *Source) refreshShards(ctx context.Context, logstore string, known map[int]*shardState, first *bool) error {
	list, err := s.listShards(ctx, logstore)
	if err != nil {
		return err
	}
	mergeListing(known, list, *first)
	*first = false
	return nil
}

func (s *Source) listShards(ctx context.Context, logstore string) ([]*sdk.Shard, error) {
	var list []*sdk.Shard
	err := s.call(ctx, logstore, "list shards", func() error {
		var err error
		list, err = s.c.sdk.ListShards(s.cfg.Project, logstore)
		return err
	})
	return list, err
}

// mergeListing records a listing in shards. New shards are marked initial on
// the first listing.
func mergeListing(shards map[int]*shardState, list []*sdk.Shard, first bool) {
	for _, sh := range list {
		st := shards[sh.ShardID]
		if st == nil {
			st = &shardState{id: sh.ShardID, begin: sh.InclusiveBeginKey, end: sh.ExclusiveBeginKey, initial: first}
			shards[sh.ShardID] = st
		}
		st.readonly.Store(sh.Status == "readonly")
	}
}

// shardEvent is a reader's report to its logstore loop: how it ended, or, in
// a consumer group, that a shard was released.
type shardEvent struct {
	id       int
	end      readEnd
	err      error
	released bool
}

// goRead runs r on a goroutine of wg until it ends or rctx is cancelled (which
// rcancel does), and reports how it ended on events unless ctx ended first.
// done, if set, runs last.
func goRead(ctx, rctx context.Context, rcancel context.CancelFunc, wg *sync.WaitGroup, r *shardReader, id int, events chan<- shardEvent, done func()) {
	wg.Go(func() {
		if done != nil {
			defer done()
		}
		defer rcancel()
		end, err := r.run(rctx)
		select {
		case events <- shardEvent{id: id, end: end, err: err}:
		case <-ctx.Done():
		}
	})
}

// runStandalone reads every shard of logstore: it lists shards at start and
// every shard_discovery_interval, starts each shard (children once their
// parents are done when ordered), and finishes readonly shards read to
// their end.
func (s *Source) runStandalone(ctx context.Context, host engine.Host, logstore string) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()

	events := make(chan shardEvent)
	shards := map[int]*shardState{}
	first := true
	ticker := time.NewTicker(s.cfg.ShardDiscoveryInterval.D())
	defer ticker.Stop()
	relist := true
	for {
		if relist {
			if err := s.refreshShards(ctx, logstore, shards, &first); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			relist = false
		}
		if err := s.startReady(ctx, host, logstore, shards, &wg, events); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if !s.cfg.StopTime.IsZero() && allDone(shards) {
			s.log.Info("every shard reached stop_time", "logstore", logstore, "stop_time", s.cfg.StopTime.Time)
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
			relist = true
		case ev := <-events:
			if ev.err != nil {
				return ev.err
			}
			st := shards[ev.id]
			if ev.end == endCancelled {
				// Cancelled reader of a live loop: should not happen;
				// restart it from its committed position.
				st.phase = phaseWaiting
				continue
			}
			if err := s.shardEnded(ctx, host, logstore, st, ev.end); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			if ev.end == endFinished {
				relist = true // children may have appeared
			}
		}
	}
}

// allDone reports whether every known shard is done.
func allDone(shards map[int]*shardState) bool {
	for _, st := range shards {
		if st.phase != phaseDone {
			return false
		}
	}
	return true
}

// shardEnded handles a reader that ended: a finished readonly shard is
// reported to the engine and, when ordered, drained so that its children
// only start once everything it held is confirmed.
func (s *Source) shardEnded(ctx context.Context, host engine.Host, logstore string, st *shardState, end readEnd) error {
	key := engine.ShardKey{Logstore: logstore, Shard: st.id}
	host.FinishShard(key)
	if end == endFinished && s.cfg.Ordered {
		if _, err := host.DrainShard(ctx, key); err != nil {
			return fmt.Errorf("%s: drain finished shard %d: %w", s.where(logstore), st.id, err)
		}
	}
	st.phase = phaseDone
	s.log.Info("shard done", "logstore", logstore, "shard", st.id, "finished", end == endFinished)
	return nil
}

// startReady starts every waiting shard whose ancestors are done (or every
// waiting shard when not ordered), lowest id first so that parents open
// before their children.
func (s *Source) startReady(ctx context.Context, host engine.Host, logstore string, shards map[int]*shardState, wg *sync.WaitGroup, events chan<- shardEvent) error {
	ids := make([]int, 0, len(shards))
	for id, st := range shards {
		if st.phase == phaseWaiting {
			ids = append(ids, id)
		}
	}
	sort.Ints(ids)
	for _, id := range ids {
		st := shards[id]
		anc := ancestors(shards, st)
		if s.cfg.Ordered {
			ready := true
			for _, a := range anc {
				if a.phase != phaseDone {
					ready = false
				}
			}
			if !ready {
				continue
			}
		}
		if err := s.startShard(ctx, host, logstore, st, anc, wg, events); err != nil {
			return err
		}
	}
	return nil
}

// startShard opens the shard in the engine, picks its start cursor and
// starts its reader.
func (s *Source) startShard(ctx context.Context, host engine.Host, logstore string, st *shardState, anc []*shardState, wg *sync.WaitGroup, events chan<- shardEvent) error {
	key := engine.ShardKey{Logstore: logstore, Shard: st.id}
	res, err := host.OpenShard(ctx, key)
	if err != nil {
		return fmt.Errorf("%s: open shard %d: %w", s.where(logstore), st.id, err)
	}
	cursor := res.Cursor
	if !res.Found {
		// A child that appeared while running, or whose parents were
		// already being read from a checkpoint, starts at its beginning:
		// the configured position would skip data its parents never had.
		fromBegin := !st.initial
		for _, a := range anc {
			fromBegin = fromBegin || a.resumed || !a.initial
		}
		if fromBegin {
			cursor, err = s.getCursor(ctx, logstore, st.id, "begin")
		} else {
			cursor, err = s.startCursor(ctx, logstore, st.id)
		}
		if err != nil {
			return err
		}
	}
	st.resumed = res.Found
	st.phase = phaseRunning
	rctx, rcancel := context.WithCancel(ctx)
	st.cancel = rcancel
	r := &shardReader{src: s, host: host, key: key, cursor: cursor, readonly: &st.readonly}
	s.log.Debug("shard started", "logstore", logstore, "shard", st.id, "cursor", cursor, "resumed", res.Found)
	goRead(ctx, rctx, rcancel, wg, r, st.id, events, nil)
	return nil
}
