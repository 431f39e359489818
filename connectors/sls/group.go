package sls

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/connectors/sls/internal/slsapi"
	"github.com/slspipe/slspipe/engine"
)

// groupShard is a shard this replica holds in distributed mode.
type groupShard struct {
	st        *shardState
	cancel    context.CancelFunc
	done      chan struct{} // closed when the reader has returned
	releasing bool          // taken away or finished: being stopped and drained
}

// runGroup reads the shards the consumer group assigns to this replica.
//
// Every heartbeat_interval it heartbeats with the shards it holds and gets
// back the shards it should hold. A new shard is opened (its start comes
// from the group's checkpoint, through the engine's committers); a shard
// taken away is stopped, drained (its checkpoint committed to the group)
// and only then left out of the next heartbeat, so the next owner resumes
// exactly where this one stopped. A readonly shard read to its end is
// finished, drained and released the same way; the group then assigns its
// children, after it when the group is ordered.
func (s *Source) runGroup(ctx context.Context, host engine.Host, logstore string) error {
	if err := s.commit.ensureGroup(ctx, logstore); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	if err := s.claimName(ctx, logstore); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()

	events := make(chan shardEvent)
	held := map[int]*groupShard{}
	known := map[int]*shardState{}
	first := true
	ticker := time.NewTicker(s.cfg.HeartbeatInterval.D())
	defer ticker.Stop()
	// Listing shards marks readonly ones, so that their readers finish at
	// their end and release them.
	discovery := time.NewTicker(s.cfg.ShardDiscoveryInterval.D())
	defer discovery.Stop()
	beat := true
	for {
		if beat {
			beat = false
			ids := make([]int, 0, len(held))
			for id := range held {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			assigned, err := s.heartbeat(ctx, logstore, ids)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			if err := s.applyAssignment(ctx, host, logstore, assigned, held, known, &first, &wg, events); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			if err := s.watchName(ctx, logstore, held); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
			beat = true
		case <-discovery.C:
			if err := s.refreshShards(ctx, logstore, known, &first); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		case ev := <-events:
			if ev.err != nil {
				return ev.err
			}
			gs := held[ev.id]
			if gs == nil {
				continue
			}
			if ev.released {
				delete(held, ev.id)
				beat = true // tell the group at once
				continue
			}
			if ev.end == endFinished || ev.end == endStopTime {
				host.FinishShard(engine.ShardKey{Logstore: logstore, Shard: ev.id})
				gs.st.phase = phaseDone
			}
			if !gs.releasing {
				gs.releasing = true
				s.release(ctx, host, logstore, ev.id, gs, &wg, events)
			}
		}
	}
}

// watchName keeps this replica's checkpoints fresh (the beacon) and checks
// that nobody else writes under its name; see identity.go.
func (s *Source) watchName(ctx context.Context, logstore string, held map[int]*groupShard) error {
	var ids []int
	for id, gs := range held {
		if !gs.releasing {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	if err := s.checkTwin(ctx, logstore, ids); err != nil {
		return err
	}
	return s.commit.beacon(ctx, logstore, ids)
}

// heartbeat sends one heartbeat. A replica the group has timed out must
// join again holding nothing: the caller then releases what it held.
func (s *Source) heartbeat(ctx context.Context, logstore string, held []int) ([]int, error) {
	var assigned []int
	err := s.call(ctx, logstore, "heartbeat to consumer group "+s.cfg.ConsumerGroup, func() error {
		var err error
		assigned, err = s.c.sdk.HeartBeat(s.cfg.Project, logstore, s.cfg.ConsumerGroup, s.cfg.ConsumerName, held)
		if ae, ok := slsapi.AsAPIError(err); ok && ae.Code == "NotExistConsumerWithBody" {
			assigned, err = nil, nil
		}
		return err
	})
	return assigned, err
}

// applyAssignment starts newly assigned shards and releases the ones taken
// away.
func (s *Source) applyAssignment(ctx context.Context, host engine.Host, logstore string, assigned []int,
	held map[int]*groupShard, known map[int]*shardState, first *bool, wg *sync.WaitGroup, events chan<- shardEvent) error {
	want := map[int]bool{}
	for _, id := range assigned {
		want[id] = true
	}
	for id, gs := range held {
		if !want[id] && !gs.releasing {
			gs.releasing = true
			s.log.Info("shard taken away by the consumer group", "logstore", logstore, "shard", id, "consumer", s.cfg.ConsumerName)
			s.release(ctx, host, logstore, id, gs, wg, events)
		}
	}
	var fresh []int
	for _, id := range assigned {
		if held[id] == nil {
			fresh = append(fresh, id)
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	// Hash ranges tell children from shards of the first listing.
	if err := s.refreshShards(ctx, logstore, known, first); err != nil {
		return err
	}
	slices.Sort(fresh)
	for _, id := range fresh {
		st := known[id]
		if st == nil {
			continue // gone since the assignment
		}
		st.phase = phaseWaiting
		if err := s.startGroupShard(ctx, host, logstore, st, ancestors(known, st), held, wg, events); err != nil {
			return err
		}
	}
	return nil
}

// startGroupShard opens and starts an assigned shard.
func (s *Source) startGroupShard(ctx context.Context, host engine.Host, logstore string, st *shardState, anc []*shardState,
	held map[int]*groupShard, wg *sync.WaitGroup, events chan<- shardEvent) error {
	key := engine.ShardKey{Logstore: logstore, Shard: st.id}
	res, err := host.OpenShard(ctx, key)
	if err != nil {
		return fmt.Errorf("%s: open shard %d: %w", s.where(logstore), st.id, err)
	}
	cursor := res.Cursor
	if !res.Found {
		var ok bool
		cursor, ok, err = s.commit.groupCheckpoint(ctx, logstore, st.id)
		if err == nil && !ok {
			if !st.initial || len(anc) > 0 && !s.firstListingChild(st, anc) {
				cursor, err = s.getCursor(ctx, logstore, st.id, "begin")
			} else {
				cursor, err = s.positionCursor(ctx, logstore, st.id, s.startPositionForGroup())
			}
		}
		if err != nil {
			return err
		}
	}
	rctx, rcancel := context.WithCancel(ctx)
	gs := &groupShard{st: st, cancel: rcancel, done: make(chan struct{})}
	held[st.id] = gs
	st.phase = phaseRunning
	if err := s.commit.opened(ctx, key, cursor); err != nil {
		return err
	}
	r := &shardReader{src: s, host: host, key: key, cursor: cursor, readonly: &st.readonly}
	s.log.Info("shard assigned", "logstore", logstore, "shard", st.id, "consumer", s.cfg.ConsumerName, "resumed", res.Found)
	goRead(ctx, rctx, rcancel, wg, r, st.id, events, func() { close(gs.done) })
	return nil
}

// firstListingChild reports whether every ancestor was also in the first
// listing: then the configured start applies to the child as well.
func (s *Source) firstListingChild(st *shardState, anc []*shardState) bool {
	for _, a := range anc {
		if !a.initial {
			return false
		}
	}
	return st.initial
}

// startPositionForGroup is the configured position for a shard with no
// checkpoint in the group.
func (s *Source) startPositionForGroup() (p config.Position) {
	if s.cfg.StartPosition.Mode == config.PositionCheckpoint {
		return s.cfg.DefaultPosition
	}
	return s.cfg.StartPosition
}

// release stops a shard's reader, waits for
// it, drains the shard so its checkpoint reaches the group, and then
// reports the shard released.
func (s *Source) release(ctx context.Context, host engine.Host, logstore string, id int, gs *groupShard, wg *sync.WaitGroup, events chan<- shardEvent) {
	gs.cancel()
	key := engine.ShardKey{Logstore: logstore, Shard: id}
	wg.Go(func() {
		// No emit may overlap the drain: wait for the reader to return.
		select {
		case <-gs.done:
		case <-ctx.Done():
			return
		}
		_, err := host.DrainShard(ctx, key)
		if err != nil && ctx.Err() == nil {
			err = fmt.Errorf("%s: release shard %d: %w", s.where(logstore), id, err)
		} else {
			err = nil
		}
		select {
		case events <- shardEvent{id: id, released: err == nil, err: err}:
		case <-ctx.Done():
		}
	})
}
