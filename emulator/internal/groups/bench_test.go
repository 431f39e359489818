package groups

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkHeartbeat measures one heartbeat of a settled group: 8 consumers
// sharing 64 shards, each beat rebalancing and answering.
func BenchmarkHeartbeat(b *testing.B) {
	clock := newFakeClock()
	reg := NewRegistry(clock.Now)
	if err := reg.create(testProject, testLogstore, testGroup, 60, true); err != nil {
		b.Fatal(err)
	}
	shards := rwShards(64)
	k := groupKey{testProject, testLogstore, testGroup}
	names := make([]string, 8)
	held := make([][]int, len(names))
	for i := range names {
		names[i] = fmt.Sprintf("consumer-%d", i)
	}
	// Settle: a few rounds in which every consumer holds what it was given.
	for round := 0; round < 3; round++ {
		for i, name := range names {
			got, err := reg.heartbeat(k, shards, name, held[i])
			if err != nil {
				b.Fatal(err)
			}
			held[i] = got
		}
		clock.Advance(time.Second)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		c := i % len(names)
		if _, err := reg.heartbeat(k, shards, names[c], held[c]); err != nil {
			b.Fatal(err)
		}
	}
}
