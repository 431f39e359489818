package sls_test

import (
	"strings"
	"testing"
	"time"
)

// TestReplicaRefusesAConsumerNameInUse starts a second replica with the
// consumer name of a running one: it stops with an error naming the
// collision before it reads or commits anything, and the first replica
// goes on delivering every record once.
func TestReplicaRefusesAConsumerNameInUse(t *testing.T) {
	srv := startEmulator(t, 4)
	p := newProducer(srv)
	keys := keysN(8)
	stopWriting := p.trickle(t, keys, 5*time.Millisecond)

	cfg := sourceConfig(srv)
	cfg.ConsumerGroup, cfg.GroupMode, cfg.ConsumerName = "grp", "distributed", "same"
	first := newOrderSink()
	a := startGroupPipeline(t, newSource(t, cfg), first, 5*time.Second)
	eventually(t, "the first replica reading", func() bool { return first.delivered() > 0 })
	eventually(t, "the first replica's checkpoints in the group", func() bool {
		cps, err := sdkClient(srv).GetCheckpoint(project, logstore, "grp")
		return err == nil && len(cps) > 0 && cps[0].Consumer == "same"
	})

	second := newOrderSink()
	b := startGroupPipeline(t, newSource(t, cfg), second, 5*time.Second)
	err := b.wait(t)
	if err == nil || !strings.Contains(err.Error(), `consumer name "same" is in use by another live consumer of consumer group "grp"`) ||
		!strings.Contains(err.Error(), "consumer_name") {
		t.Fatalf("second replica ended with %v; want the collision named", err)
	}
	if n := second.delivered(); n != 0 {
		t.Errorf("the refused replica delivered %d records", n)
	}
	stopWriting()
	eventually(t, "every record delivered by the first replica", func() bool { return first.distinct() >= p.total() })
	if err := a.stop(t); err != nil {
		t.Fatalf("first replica: %v", err)
	}
	first.checkComplete(t, p, true)
}

// TestReplicaRestartingUnderItsNameJoins stops a replica abruptly (no
// final commit, no goodbye) and starts another under its name, as a
// restarted pod: after a short wait it takes the shards and reads on.
func TestReplicaRestartingUnderItsNameJoins(t *testing.T) {
	srv := startEmulator(t, 2)
	p := newProducer(srv)
	keys := keysN(4)
	p.fill(t, keys, 20, 2)

	cfg := sourceConfig(srv)
	cfg.ConsumerGroup, cfg.GroupMode, cfg.ConsumerName = "grp", "distributed", "pod-0"
	first := newOrderSink()
	a := startGroupPipeline(t, newSource(t, cfg), first, 0)
	eventually(t, "the first run reading", func() bool { return first.delivered() > 0 })
	if err := a.stop(t); err != nil {
		t.Fatalf("first run: %v", err)
	}

	p.fill(t, keys, 20, 2)
	second := newOrderSink()
	b := startGroupPipeline(t, newSource(t, cfg), second, 5*time.Second)
	eventually(t, "the restarted replica reading new data", func() bool {
		select {
		case <-b.finished:
			t.Fatalf("restarted replica ended: %v", b.err)
		default:
		}
		return second.delivered() > 0 && second.distinct()+first.distinct() >= p.total()
	})
	if err := b.stop(t); err != nil {
		t.Fatalf("restarted replica: %v", err)
	}
}
