package sls

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/slspipe/slspipe/config"
)

// getCursor asks the service for a cursor: from is "begin", "end" or unix
// seconds.
func (s *Source) getCursor(ctx context.Context, logstore string, shard int, from string) (string, error) {
	var cur string
	err := s.call(ctx, logstore, fmt.Sprintf("get %s cursor of shard %d", from, shard), func() error {
		var err error
		cur, err = s.c.sdk.GetCursor(s.cfg.Project, logstore, shard, from)
		return err
	})
	return cur, err
}

// positionCursor resolves a configured position (not
// consumer_from_checkpoint) to a cursor of shard.
func (s *Source) positionCursor(ctx context.Context, logstore string, shard int, p config.Position) (string, error) {
	switch p.Mode {
	case config.PositionEnd:
		return s.getCursor(ctx, logstore, shard, "end")
	case config.PositionTime:
		return s.getCursor(ctx, logstore, shard, strconv.FormatInt(p.Time.Unix(), 10))
	default:
		return s.getCursor(ctx, logstore, shard, "begin")
	}
}

// startCursor returns where a shard with no engine checkpoint starts: the
// consumer group's checkpoint for consumer_from_checkpoint (falling back to
// default_position), otherwise the configured start position.
func (s *Source) startCursor(ctx context.Context, logstore string, shard int) (string, error) {
	if s.cfg.StartPosition.Mode != config.PositionCheckpoint {
		return s.positionCursor(ctx, logstore, shard, s.cfg.StartPosition)
	}
	cp, ok, err := s.commit.groupCheckpoint(ctx, logstore, shard)
	if err != nil {
		return "", err
	}
	if ok {
		return cp, nil
	}
	return s.positionCursor(ctx, logstore, shard, s.cfg.DefaultPosition)
}

// ceilSeconds rounds t up to whole seconds: cursors by time have second
// precision, and data received before t must not be included.
func ceilSeconds(t time.Time) int64 {
	sec := t.Unix()
	if t.Nanosecond() > 0 {
		sec++
	}
	return sec
}
