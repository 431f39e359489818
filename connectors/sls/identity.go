package sls

import (
	"context"
	"fmt"
	"slices"
	"time"

	sdk "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/slspipe/slspipe/connectors/sls/internal/slsapi"
	"github.com/slspipe/slspipe/engine"
)

// A consumer group knows its members only by name: two replicas that share
// one consumer_name are one consumer to SLS, are both assigned every shard
// of it, and read them twice. SLS does not say who heartbeats under a
// name, but GetCheckPoint says, per shard, which consumer last wrote the
// checkpoint and when. So in distributed mode a replica
//
//   - writes the checkpoint of every shard it holds when it is assigned and
//     then at least once per heartbeat interval, unchanged when nothing was
//     committed: a live consumer's checkpoints are never older than that
//     (the beacon);
//   - before it joins, looks for checkpoints written under its name
//     recently; if there are, it waits two heartbeat intervals and looks
//     again: a checkpoint written meanwhile can only come from another live
//     replica with its name, and it refuses to start. A crashed replica
//     that restarts under its old name (a pod's container restart) sees no
//     new write, and joins after that wait;
//   - while it runs, checks at every heartbeat that the checkpoints of the
//     shards it holds are cursors it wrote itself; a foreign cursor under
//     its name (two replicas started at the same moment) stops it.
//
// docs/RATIONALE.md ("Consumer names that cannot collide") has the
// alternatives.

// maxOwnCursors is how many of its own recent cursors a replica remembers
// per shard to recognise its writes.
const maxOwnCursors = 16

// clockSlack allows for the difference between this machine's clock and
// the service's in "recently".
const clockSlack = 15 * time.Second

// shardMark is what the replica knows of one shard's group checkpoint.
type shardMark struct {
	cursor string    // the newest cursor committed (or opened at)
	wrote  time.Time // this replica's last write; zero before the first
	own    []string  // cursors this replica wrote, newest last
}

// mark returns key's mark. g.writeMu must be held.
func (g *groupCommitter) mark(key engine.ShardKey) *shardMark {
	if g.marks == nil {
		g.marks = map[engine.ShardKey]*shardMark{}
	}
	m := g.marks[key]
	if m == nil {
		m = &shardMark{}
		g.marks[key] = m
	}
	return m
}

// write stores cursor as the group checkpoint of key, recording it as the
// replica's own first. g.writeMu must be held.
func (g *groupCommitter) write(ctx context.Context, key engine.ShardKey, cursor string) error {
	s := g.src
	m := g.mark(key)
	m.cursor = cursor
	if len(m.own) == 0 || m.own[len(m.own)-1] != cursor {
		m.own = append(m.own, cursor)
		if len(m.own) > maxOwnCursors {
			m.own = slices.Delete(m.own, 0, len(m.own)-maxOwnCursors)
		}
	}
	err := s.call(ctx, key.Logstore, fmt.Sprintf("update checkpoint of shard %d", key.Shard), func() error {
		err := s.c.sdk.UpdateCheckpoint(s.cfg.Project, key.Logstore, s.cfg.ConsumerGroup, s.cfg.ConsumerName, key.Shard, cursor, true)
		if ae, ok := slsapi.AsAPIError(err); ok && (ae.Code == "ShardNotExist" || ae.Code == "ShardNotExsit") {
			return nil
		}
		return err
	})
	if err == nil {
		m.wrote = time.Now()
	}
	return err
}

// opened records where a shard assigned to this replica starts and
// writes it as the shard's checkpoint, so that the replica shows in the
// group from the moment it holds the shard.
func (g *groupCommitter) opened(ctx context.Context, key engine.ShardKey, cursor string) error {
	g.writeMu.Lock()
	defer g.writeMu.Unlock()
	m := g.mark(key)
	if m.cursor == "" || m.wrote.IsZero() {
		m.cursor = cursor
	}
	return g.write(ctx, key, m.cursor)
}

// beacon writes the checkpoint of every held shard not written for half a
// heartbeat interval.
func (g *groupCommitter) beacon(ctx context.Context, logstore string, held []int) error {
	every := g.src.cfg.HeartbeatInterval.D() / 2
	for _, id := range held {
		key := engine.ShardKey{Logstore: logstore, Shard: id}
		g.writeMu.Lock()
		m := g.mark(key)
		var err error
		if m.cursor != "" && time.Since(m.wrote) >= every {
			err = g.write(ctx, key, m.cursor)
		}
		g.writeMu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// checkpointsOf reads the group's checkpoints of logstore as the service
// lists them, with who wrote each and when.
func (s *Source) checkpointsOf(ctx context.Context, logstore string) ([]*sdk.ConsumerGroupCheckPoint, error) {
	var list []*sdk.ConsumerGroupCheckPoint
	err := s.call(ctx, logstore, "get checkpoints of consumer group "+s.cfg.ConsumerGroup, func() error {
		var err error
		list, err = s.c.sdk.GetCheckpoint(s.cfg.Project, logstore, s.cfg.ConsumerGroup)
		return err
	})
	return list, err
}

// claimName waits, before this replica joins the group, until it knows
// that no other live replica uses its consumer name; it returns an error
// naming the collision if one does.
func (s *Source) claimName(ctx context.Context, logstore string) error {
	name := s.cfg.ConsumerName
	first, err := s.checkpointsOf(ctx, logstore)
	if err != nil {
		return err
	}
	seen := map[int]int64{}
	var newest int64
	for _, cp := range first {
		if cp != nil && cp.Consumer == name {
			seen[cp.ShardID] = cp.UpdateTime
			newest = max(newest, cp.UpdateTime)
		}
	}
	recent := s.cfg.HeartbeatTimeout.D() + s.cfg.HeartbeatInterval.D() + clockSlack
	if len(seen) == 0 || time.Since(time.UnixMicro(newest)) > recent {
		return nil
	}
	wait := 2 * s.cfg.HeartbeatInterval.D()
	s.log.Info("consumer name wrote checkpoints recently; waiting to tell a restart from another live replica",
		"logstore", logstore, "consumer", name, "wait", wait)
	if err := slsapi.Sleep(ctx, wait); err != nil {
		return err
	}
	again, err := s.checkpointsOf(ctx, logstore)
	if err != nil {
		return err
	}
	for _, cp := range again {
		if cp == nil || cp.Consumer != name {
			continue
		}
		if t, ok := seen[cp.ShardID]; !ok || cp.UpdateTime > t {
			return &fatalError{msg: fmt.Sprintf("%s: consumer name %q is in use by another live consumer of consumer group %q: "+
				"it updated the checkpoint of shard %d at %s while this replica waited to join; two replicas with one name would read every shard twice. "+
				"Give each replica its own consumer_name, or leave consumer_name unset (the default, $POD_NAME or <host>-<pid>, is unique per process)",
				s.where(logstore), name, s.cfg.ConsumerGroup, cp.ShardID, time.UnixMicro(cp.UpdateTime).UTC().Format(time.RFC3339))}
		}
	}
	return nil
}

// checkTwin reports another writer under this replica's name: a held
// shard whose group checkpoint, under this name, is a cursor this replica
// never wrote.
func (s *Source) checkTwin(ctx context.Context, logstore string, held []int) error {
	if len(held) == 0 {
		return nil
	}
	list, err := s.checkpointsOf(ctx, logstore)
	if err != nil {
		return err
	}
	g := s.commit
	g.writeMu.Lock()
	defer g.writeMu.Unlock()
	for _, cp := range list {
		if cp == nil || cp.Consumer != s.cfg.ConsumerName || !slices.Contains(held, cp.ShardID) {
			continue
		}
		m := g.marks[engine.ShardKey{Logstore: logstore, Shard: cp.ShardID}]
		if m == nil || len(m.own) == 0 || slices.Contains(m.own, cp.CheckPoint) {
			continue
		}
		return &fatalError{msg: fmt.Sprintf("%s: consumer name %q is in use by another live consumer of consumer group %q: "+
			"it committed shard %d at a cursor this replica never wrote, so both read the same shards. "+
			"Give each replica its own consumer_name, or leave consumer_name unset (the default, $POD_NAME or <host>-<pid>, is unique per process)",
			s.where(logstore), s.cfg.ConsumerName, s.cfg.ConsumerGroup, cp.ShardID)}
	}
	return nil
}
