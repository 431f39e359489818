package sls_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slspipe/slspipe/connectors/sls"
	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/engine/enginetest"
)

// TestStatusShowsHowFarBehindTheHead holds every record in a stalled sink
// over a backlog: the status must count the log groups (and logs) between
// each shard's position and its head, and once the sink confirms, show
// every shard caught up with no lag.
func TestStatusShowsHowFarBehindTheHead(t *testing.T) {
	t.Cleanup(sls.SetHeadRefreshEvery(50 * time.Millisecond))
	srv := startEmulator(t, 2)
	p := newProducer(srv)
	p.fill(t, keysN(8), 10, 5) // 80 log groups of 5 logs
	sink := newOrderSinkWith(enginetest.SinkConfig{Stalled: true})
	r := startPipeline(t, newSource(t, sourceConfig(srv)), sink)

	var last []engine.ShardStatus
	behind := func(cond func(sh engine.ShardStatus) bool) func() bool {
		return func() bool {
			last = r.p.Status(0).Shards
			if len(last) != 2 {
				return false
			}
			for _, sh := range last {
				if !cond(sh) {
					return false
				}
			}
			return true
		}
	}
	eventuallyShards(t, "every shard's head read", &last, behind(func(sh engine.ShardStatus) bool {
		return sh.BehindGroups != nil && sh.BehindLogs != nil && !sh.HeadCheckedAt.IsZero()
	}))
	var groups, logs int64
	for _, sh := range last {
		groups += *sh.BehindGroups
		logs += *sh.BehindLogs
		if sh.Owner != "" {
			t.Errorf("shard %d has owner %q without a consumer group", sh.Shard, sh.Owner)
		}
	}
	if groups != 80 || logs != 400 {
		t.Fatalf("behind the head: %d log groups, %d logs; want all 80 groups of 5 logs (nothing confirmed)", groups, logs)
	}

	sink.Resume()
	eventuallyShards(t, "every shard caught up", &last, behind(func(sh engine.ShardStatus) bool {
		return sh.BehindGroups != nil && *sh.BehindGroups == 0 && sh.LagSeconds != nil && *sh.LagSeconds == 0
	}))
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
}

// TestStatusShowsWhoOwnsEachShard runs two replicas of a distributed
// consumer group over 4 shards while a producer writes: each one's status
// lists the shards it reads with itself as owner, and the others as read
// elsewhere, by the other (the consumer that commits their checkpoints).
func TestStatusShowsWhoOwnsEachShard(t *testing.T) {
	t.Cleanup(sls.SetHeadRefreshEvery(50 * time.Millisecond))
	srv := startEmulator(t, 4)
	p := newProducer(srv)
	ctx, stopWriting := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { stopWriting(); wg.Wait() })
	wg.Go(func() {
		for ctx.Err() == nil {
			p.fill(t, keysN(16), 1, 1)
			time.Sleep(20 * time.Millisecond)
		}
	})
	var replicas []*run
	for i := range 2 {
		cfg := sourceConfig(srv)
		cfg.ConsumerGroup, cfg.GroupMode, cfg.ConsumerName = "grp", "distributed", fmt.Sprintf("replica-%d", i)
		replicas = append(replicas, startGroupPipeline(t, newSource(t, cfg), newOrderSink(), 5*time.Second))
	}
	for i, r := range replicas {
		me, other := fmt.Sprintf("replica-%d", i), fmt.Sprintf("replica-%d", 1-i)
		var last []engine.ShardStatus
		eventuallyShards(t, me+" showing every shard with its owner", &last, func() bool {
			last = r.p.Status(0).Shards
			mine, theirs := 0, 0
			for _, sh := range last {
				switch {
				case sh.State == engine.ShardReading && sh.Owner == me:
					mine++
				case sh.State == engine.ShardElsewhere && sh.Owner == other && sh.CommittedCursor != "":
					theirs++
				}
			}
			return len(last) == 4 && mine == 2 && theirs == 2
		})
	}
}

// eventuallyShards waits like eventually and shows the last shards seen
// when it gives up.
func eventuallyShards(t *testing.T, what string, last *[]engine.ShardStatus, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			var rows []string
			for _, sh := range *last {
				rows = append(rows, fmt.Sprintf("%+v", sh))
			}
			t.Fatalf("timed out waiting for %s; shards:\n%s", what, strings.Join(rows, "\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
