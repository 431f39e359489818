package sls

import (
	"context"
	"fmt"
	"sync"

	sdk "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/slspipe/slspipe/connectors/sls/internal/slsapi"
	"github.com/slspipe/slspipe/engine"
)

// groupCommitter stores committed cursors in the SLS consumer group, so
// that progress shows in the console and, in distributed mode, so that the
// next owner of a shard resumes where the last one stopped. It implements
// [engine.Committer].
type groupCommitter struct {
	src *Source

	mu      sync.Mutex // guards ensured
	ensured map[string]bool

	// writeMu orders every checkpoint write of this replica (commits and
	// beacons, see identity.go), so that a beacon never writes back an
	// older cursor than a commit; it guards marks.
	writeMu sync.Mutex
	marks   map[engine.ShardKey]*shardMark
}

// ensureGroup creates the consumer group of logstore if missing, or
// updates its timeout and order, once per logstore.
func (g *groupCommitter) ensureGroup(ctx context.Context, logstore string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ensured[logstore] {
		return nil
	}
	s := g.src
	cg := sdk.ConsumerGroup{
		ConsumerGroupName: s.cfg.ConsumerGroup,
		Timeout:           max(1, int(s.cfg.HeartbeatTimeout.D().Seconds())),
		InOrder:           s.cfg.Ordered,
	}
	err := s.call(ctx, logstore, "create consumer group "+cg.ConsumerGroupName, func() error {
		err := s.c.sdk.CreateConsumerGroup(s.cfg.Project, logstore, cg)
		if ae, ok := slsapi.AsAPIError(err); ok && ae.Code == "ConsumerGroupAlreadyExist" {
			return s.c.sdk.UpdateConsumerGroup(s.cfg.Project, logstore, cg)
		}
		return err
	})
	if err != nil {
		return err
	}
	if g.ensured == nil {
		g.ensured = map[string]bool{}
	}
	g.ensured[logstore] = true
	return nil
}

// groupCheckpoint returns the group's checkpoint for one shard.
func (g *groupCommitter) groupCheckpoint(ctx context.Context, logstore string, shard int) (string, bool, error) {
	cps, err := g.load(ctx, logstore)
	if err != nil {
		return "", false, err
	}
	for _, cp := range cps {
		if cp.Shard == shard {
			return cp.Cursor, true, nil
		}
	}
	return "", false, nil
}

func (g *groupCommitter) load(ctx context.Context, logstore string) ([]engine.Checkpoint, error) {
	if err := g.ensureGroup(ctx, logstore); err != nil {
		return nil, err
	}
	s := g.src
	var list []*sdk.ConsumerGroupCheckPoint
	err := s.call(ctx, logstore, "get checkpoints of consumer group "+s.cfg.ConsumerGroup, func() error {
		var err error
		list, err = s.c.sdk.GetCheckpoint(s.cfg.Project, logstore, s.cfg.ConsumerGroup)
		return err
	})
	if err != nil {
		return nil, err
	}
	var out []engine.Checkpoint
	for _, cp := range list {
		if cp == nil || cp.CheckPoint == "" {
			continue
		}
		// The group lives in the logstore it reads: its checkpoints are
		// positions there by construction.
		out = append(out, engine.Checkpoint{Logstore: logstore, Shard: cp.ShardID, Cursor: cp.CheckPoint, Origin: s.Origin(logstore)})
	}
	return out, nil
}

// LoadCheckpoints implements [engine.Committer]: the group's checkpoints of
// every configured logstore, creating the group where it is missing.
func (g *groupCommitter) LoadCheckpoints(ctx context.Context, _ string) ([]engine.Checkpoint, error) {
	var out []engine.Checkpoint
	for _, ls := range g.src.cfg.Logstores {
		cps, err := g.load(ctx, ls)
		if err != nil {
			return nil, err
		}
		out = append(out, cps...)
	}
	return out, nil
}

// SaveCheckpoints implements [engine.Committer]. The group has no
// multi-shard transaction, so a failure part way leaves some shards
// updated; that is safe, since cursors never move backwards. Checkpoints of
// shards that no longer exist are skipped.
func (g *groupCommitter) SaveCheckpoints(ctx context.Context, _ string, cps []engine.Checkpoint) error {
	s := g.src
	for _, cp := range cps {
		if err := g.ensureGroup(ctx, cp.Logstore); err != nil {
			return err
		}
		g.writeMu.Lock()
		err := g.write(ctx, engine.ShardKey{Logstore: cp.Logstore, Shard: cp.Shard}, cp.Cursor)
		g.writeMu.Unlock()
		if err != nil {
			return fmt.Errorf("save checkpoint to consumer group %s: %w", s.cfg.ConsumerGroup, err)
		}
	}
	return nil
}
