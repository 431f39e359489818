package sls_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/engine/enginetest"
)

// TestGroupRebalanceAfterAbruptStop runs three replicas of one consumer
// group over 8 shards while a producer writes, stops one abruptly with
// unconfirmed records in flight, and checks that its shards move to the
// others after the heartbeat timeout, that every record arrives at least
// once, and that the group's checkpoints end at each shard's end.
func TestGroupRebalanceAfterAbruptStop(t *testing.T) {
	srv := startEmulator(t, 8)
	p := newProducer(srv)
	keys := keysN(32)

	stopWriting := p.trickle(t, keys, 2*time.Millisecond)

	sinks := make([]*orderSink, 3)
	replicas := make([]*run, 3)
	start := func(i int) {
		cfg := sourceConfig(srv)
		cfg.ConsumerGroup = "grp"
		cfg.GroupMode = "distributed"
		cfg.ConsumerName = fmt.Sprintf("replica-%d", i)
		sinks[i] = newOrderSink()
		shutdown := 5 * time.Second
		if i == 2 {
			// The replica that dies stops confirming after a while, so it
			// dies with records in flight.
			sinks[i] = newOrderSinkWith(enginetest.SinkConfig{StallAfter: 200})
			shutdown = 0
		}
		replicas[i] = startGroupPipeline(t, newSource(t, cfg), sinks[i], shutdown)
	}
	alive := func(n int) {
		for i, r := range replicas[:n] {
			select {
			case <-r.finished:
				t.Fatalf("replica %d ended: %v", i, r.err)
			default:
			}
		}
	}
	start(0)
	start(1)
	eventually(t, "replicas 0 and 1 reading", func() bool {
		alive(2)
		return sinks[0].delivered() > 0 && sinks[1].delivered() > 0
	})
	// Replica 2 joins; the group moves shards to it, and it stalls with
	// records in flight.
	start(2)
	eventually(t, "replica 2 reading", func() bool { alive(3); return sinks[2].Accepted() >= 200 })
	if err := replicas[2].stop(t); err != nil {
		t.Fatalf("stopping replica 2: %v", err)
	}
	// Replica 2's shards must move: wait for data written from now on to
	// arrive through replicas 0 and 1 on every shard.
	mark := p.total()
	eventually(t, "new data on every shard", func() bool { alive(2); return p.total() > mark+2000 })
	stopWriting()

	confirmed := func() map[string]int {
		all := map[string]int{}
		for _, s := range sinks {
			s.mu.Lock()
			for id := range s.count {
				all[id]++
			}
			s.mu.Unlock()
		}
		// Replica 2's sink holds records it accepted but never confirmed:
		// only its confirmed ones count.
		return all
	}
	eventually(t, "every record at least once", func() bool {
		alive(2)
		all := confirmed()
		p.mu.Lock()
		defer p.mu.Unlock()
		for key, n := range p.next {
			for seq := range n {
				if all[key+"/"+strconv.Itoa(seq)] == 0 {
					return false
				}
			}
		}
		return true
	})

	c := sdkClient(srv)
	eventually(t, "group checkpoints at every shard's end", func() bool {
		cps, err := c.GetCheckpoint(project, logstore, "grp")
		if err != nil {
			return false
		}
		at := map[int]string{}
		for _, cp := range cps {
			at[cp.ShardID] = cp.CheckPoint
		}
		for sh := range 8 {
			end, err := c.GetCursor(project, logstore, sh, "end")
			if err != nil || at[sh] != end {
				return false
			}
		}
		return true
	})
	for i := range 2 {
		if err := replicas[i].stop(t); err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
	}
	t.Logf("records: %d; replica deliveries: %d, %d; replica 2 accepted %d and stored %d",
		p.total(), sinks[0].delivered(), sinks[1].delivered(), sinks[2].Accepted(), sinks[2].Stored())
}

// startGroupPipeline runs a distributed-mode source whose checkpoints live
// in the consumer group only.
func startGroupPipeline(t *testing.T, src interface {
	engine.Source
	Committer() engine.Committer
}, sink engine.Sink, shutdown time.Duration) *run {
	t.Helper()
	cfg := engine.NewConfig().WithCommitters(src.Committer()).WithCheckpointInterval(50 * time.Millisecond).
		WithWorkers(2).WithShutdownTimeout(shutdown)
	p, err := engine.New("p", src, nil, sink, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &run{p: p, cancel: cancel, finished: make(chan struct{})}
	go func() { r.err = p.Run(ctx); close(r.finished) }()
	t.Cleanup(func() { _ = r.stop(t) })
	return r
}

// TestGroupFollowsSplitInOrder splits a shard while two replicas of an
// ordered group read and a producer writes keyed records: every record
// arrives, and each key's records arrive in the order written.
func TestGroupFollowsSplitInOrder(t *testing.T) {
	srv := startEmulator(t, 2)
	p := newProducer(srv)
	keys := keysN(16)
	p.fill(t, keys, 2, 3)
	sink := newOrderSink()
	for i := range 2 {
		cfg := sourceConfig(srv)
		cfg.ConsumerGroup = "ordered"
		cfg.GroupMode = "distributed"
		cfg.ConsumerName = fmt.Sprintf("replica-%d", i)
		startGroupPipeline(t, newSource(t, cfg), sink, 5*time.Second)
	}
	eventually(t, "records flowing", func() bool { return sink.distinct() == p.total() })
	if _, err := srv.SplitShardInto(project, logstore, 0, 2); err != nil {
		t.Fatal(err)
	}
	p.fill(t, keys, 3, 3)
	eventually(t, "records after the split", func() bool { return sink.distinct() == p.total() })
	sink.checkComplete(t, p, true)
}
