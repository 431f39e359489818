package groups

import (
	"net/http"
	"sort"
	"time"

	"github.com/slspipe/slspipe/emulator/internal/apierr"
)

// Assignment rules, applied at every heartbeat:
//
//   - A consumer is live while its last heartbeat is less than the group's
//     timeout old; a dead consumer is forgotten and its shards are free.
//   - The assignable shards are the unfinished ones, and in an ordered group
//     only those whose ancestors are all finished.
//   - Each live consumer owns ⌊n/k⌋ or ⌈n/k⌉ of the n assignable shards; a
//     rebalance moves as few shards as it can.
//   - Safe handover: a shard taken from a live consumer leaves that
//     consumer's replies at once, but reaches its new owner only after the
//     previous one stops listing it in its heartbeats (its shard worker has
//     shut down and flushed the checkpoint) or dies. Two live consumers never
//     own one shard at the same time; only a consumer the group has already
//     declared dead may still be reading one, which is the at-least-once
//     window every consumer group has.

// heartbeat records a beat of consumer name, which holds the shards in held,
// and returns the shards it should consume, sorted.
func (r *Registry) heartbeat(k groupKey, shards []ShardInfo, name string, held []int) ([]int, error) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	g, err := r.lookup(k)
	if err != nil {
		return nil, err
	}
	g.expire(now)
	c := g.consumers[name]
	if c == nil {
		if len(held) > 0 {
			// A consumer the group does not know (new, or timed out) must
			// drop its shards first: they may have been given to others. The
			// library does so once heartbeats have failed for longer than
			// timeout+interval, then joins again with an empty list.
			return nil, apierr.New(http.StatusBadRequest, "NotExistConsumerWithBody",
				"consumer %s is not in consumer group %s and cannot hold shards", name, g.name)
		}
		c = &consumer{name: name}
		g.consumers[name] = c
	}
	c.lastBeat = now
	c.held = toSet(held)
	g.rebalance(shards)
	reply := g.grantable(c)
	c.granted = toSet(reply)
	return reply, nil
}

// expire forgets the consumers that have not beaten within the timeout.
func (g *group) expire(now time.Time) {
	limit := time.Duration(g.timeout) * time.Second
	for name, c := range g.consumers {
		if now.Sub(c.lastBeat) >= limit {
			delete(g.consumers, name)
		}
	}
}

// rebalance updates g.owner so that every assignable shard has one live
// owner and the live consumers own balanced shares.
func (g *group) rebalance(shards []ShardInfo) {
	assignable := g.assignable(shards)
	isAssignable := toSet(assignable)
	for s, name := range g.owner {
		if !isAssignable[s] || g.consumers[name] == nil {
			delete(g.owner, s)
		}
	}
	if len(g.consumers) == 0 {
		return
	}

	live := make([]string, 0, len(g.consumers))
	for name := range g.consumers {
		live = append(live, name)
	}
	sort.Strings(live)
	counts := make(map[string]int, len(live))
	for _, name := range g.owner {
		counts[name]++
	}

	// The consumers that own the most keep the larger shares, so a
	// rebalance only moves the surplus.
	byCount := append([]string(nil), live...)
	sort.SliceStable(byCount, func(i, j int) bool { return counts[byCount[i]] > counts[byCount[j]] })
	base, extra := len(assignable)/len(live), len(assignable)%len(live)
	quota := make(map[string]int, len(live))
	for i, name := range byCount {
		quota[name] = base
		if i < extra {
			quota[name]++
		}
	}

	for _, name := range live {
		excess := counts[name] - quota[name]
		if excess <= 0 {
			continue
		}
		owned := g.ownedBy(name)
		held := g.consumers[name].held
		// Revoke what the consumer has not started yet before what it is
		// reading, and higher shard ids before lower ones.
		sort.Slice(owned, func(i, j int) bool {
			if held[owned[i]] != held[owned[j]] {
				return !held[owned[i]]
			}
			return owned[i] > owned[j]
		})
		for _, s := range owned[:excess] {
			delete(g.owner, s)
		}
		counts[name] -= excess
	}

	// Every consumer is now at or under its quota and the quotas sum to the
	// number of assignable shards, so each free shard finds a consumer.
	for _, s := range assignable {
		if _, ok := g.owner[s]; ok {
			continue
		}
		best := ""
		for _, name := range live {
			// A consumer already holding the shard keeps it when it can,
			// which saves a handover.
			if counts[name] < quota[name] && g.consumers[name].held[s] {
				best = name
				break
			}
		}
		if best == "" {
			for _, name := range live {
				if counts[name] < quota[name] && (best == "" || counts[name] < counts[best]) {
					best = name
				}
			}
		}
		g.owner[s] = best
		counts[best]++
	}
}

// grantable returns the shards c owns that no other live consumer may still
// hold, sorted.
func (g *group) grantable(c *consumer) []int {
	out := []int{}
	for s, name := range g.owner {
		if name == c.name && !g.claimedByOther(s, c.name) {
			out = append(out, s)
		}
	}
	sort.Ints(out)
	return out
}

// claimedByOther reports whether a live consumer other than name may still be
// reading shard s: it listed s in its last heartbeat, or its last reply named
// s and it has not beaten since.
func (g *group) claimedByOther(s int, name string) bool {
	for other, c := range g.consumers {
		if other != name && (c.held[s] || c.granted[s]) {
			return true
		}
	}
	return false
}

// ownedBy returns the shards g.owner gives to name.
func (g *group) ownedBy(name string) []int {
	var out []int
	for s, owner := range g.owner {
		if owner == name {
			out = append(out, s)
		}
	}
	return out
}

// assignable returns, sorted, the shards the group should consume now.
func (g *group) assignable(shards []ShardInfo) []int {
	byID := make(map[int]ShardInfo, len(shards))
	for _, s := range shards {
		byID[s.ID] = s
	}
	// done[id] is true when id and all its ancestors are finished. An
	// ancestor that no longer exists has nothing left to read.
	done := make(map[int]bool, len(shards))
	var isDone func(id int, depth int) bool
	isDone = func(id int, depth int) bool {
		if d, ok := done[id]; ok {
			return d
		}
		info, ok := byID[id]
		if !ok {
			return true
		}
		d := g.finished(info)
		// depth bounds the walk should a lister ever report a cycle.
		for _, p := range info.Parents {
			if !d || depth > len(shards) {
				break
			}
			d = isDone(p, depth+1)
		}
		done[id] = d
		return d
	}

	out := []int{}
	for _, s := range shards {
		if g.finished(s) {
			continue
		}
		if g.order {
			ready := true
			for _, p := range s.Parents {
				if !isDone(p, 0) {
					ready = false
					break
				}
			}
			if !ready {
				continue
			}
		}
		out = append(out, s.ID)
	}
	sort.Ints(out)
	return out
}

// finished reports whether nothing is left to read in s for this group: s is
// readonly and either never had data or the group's checkpoint has reached
// its end.
func (g *group) finished(s ShardInfo) bool {
	if !s.ReadOnly {
		return false
	}
	if cursorReached(s.BeginCursor, s.EndCursor) {
		return true
	}
	cp, ok := g.checkpoints[s.ID]
	return ok && cursorReached(cp.value, s.EndCursor)
}

func toSet(ids []int) map[int]bool {
	m := make(map[int]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}
