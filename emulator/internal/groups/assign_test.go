package groups

import (
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"testing"
	"time"
)

// simConsumer behaves like the official consumer library: each heartbeat
// lists every shard it still reads, it starts reading the shards a reply
// names, and it stops reading a shard the reply no longer names only after
// its shard worker has shut down, lag beats later.
type simConsumer struct {
	name      string
	reading   map[int]bool
	releasing map[int]int // shard → beats left before it is released
}

func newSimConsumer(name string) *simConsumer {
	return &simConsumer{name: name, reading: map[int]bool{}, releasing: map[int]int{}}
}

func (c *simConsumer) held() []int {
	return sortedIDs(c.reading)
}

func (c *simConsumer) beat(f *fixture, lag func() int) {
	f.t.Helper()
	got, err := f.reg.heartbeat(f.key(), f.shards, c.name, c.held())
	if err != nil {
		// The group forgot this consumer (it fell silent past the timeout):
		// like the library after failed heartbeats, drop every shard and
		// join again empty at the next beat.
		wantAPIError(f.t, err, http.StatusBadRequest, "NotExistConsumerWithBody")
		c.reading, c.releasing = map[int]bool{}, map[int]int{}
		return
	}
	reply := toSet(got)
	for s := range c.reading {
		if reply[s] {
			delete(c.releasing, s)
			continue
		}
		left, ok := c.releasing[s]
		switch {
		case !ok:
			left = lag()
		default:
			left--
		}
		if left <= 0 {
			delete(c.reading, s)
			delete(c.releasing, s)
		} else {
			c.releasing[s] = left
		}
	}
	for s := range reply {
		c.reading[s] = true
	}
}

// checkSingleOwner fails when two consumers read one shard at once.
func checkSingleOwner(t *testing.T, live []*simConsumer) {
	t.Helper()
	readers := map[int]string{}
	for _, c := range live {
		for s := range c.reading {
			if other, ok := readers[s]; ok {
				t.Fatalf("shard %d read by both %s and %s", s, other, c.name)
			}
			readers[s] = c.name
		}
	}
}

// settle runs heartbeat rounds, one second apart, until the readers stop
// changing, checking the single-owner rule after every beat.
func settle(t *testing.T, f *fixture, live []*simConsumer, lag func() int) {
	t.Helper()
	prev := ""
	for round := 0; round < 30; round++ {
		for _, c := range live {
			c.beat(f, lag)
			checkSingleOwner(t, live)
		}
		f.clock.Advance(time.Second)
		cur := ""
		for _, c := range live {
			cur += c.name + ":" + sprintIDs(c.held()) + ";"
		}
		if cur == prev {
			return
		}
		prev = cur
	}
	t.Fatalf("assignment did not settle: %s", prev)
}

func sprintIDs(ids []int) string {
	s := ""
	for _, id := range ids {
		s += string(rune('a' + id))
	}
	return s
}

func noLag() int { return 0 }

// checkBalanced asserts that the live consumers read all shards between them,
// each ⌊n/k⌋ or ⌈n/k⌉ of them.
func checkBalanced(t *testing.T, live []*simConsumer, shards []int) {
	t.Helper()
	n, k := len(shards), len(live)
	var all []int
	for _, c := range live {
		got := len(c.reading)
		if got != n/k && got != (n+k-1)/k {
			t.Fatalf("%d consumers over %d shards: %s reads %v", k, n, c.name, c.held())
		}
		all = append(all, c.held()...)
	}
	sort.Ints(all)
	if !slices.Equal(all, shards) {
		t.Fatalf("shards read: %v, want %v", all, shards)
	}
}

func TestBalanceOneToFiveConsumers(t *testing.T) {
	for k := 1; k <= 5; k++ {
		f := newFixture(t, 3, false, rwShards(8))
		var live []*simConsumer
		for i := 0; i < k; i++ {
			live = append(live, newSimConsumer(string(rune('A'+i))))
			settle(t, f, live, noLag)
		}
		checkBalanced(t, live, []int{0, 1, 2, 3, 4, 5, 6, 7})
	}
}

func TestBalanceAfterConsumersLeave(t *testing.T) {
	f := newFixture(t, 3, false, rwShards(8))
	var live []*simConsumer
	for i := 0; i < 5; i++ {
		live = append(live, newSimConsumer(string(rune('A'+i))))
	}
	settle(t, f, live, noLag)
	checkBalanced(t, live, []int{0, 1, 2, 3, 4, 5, 6, 7})

	// C and E stop heartbeating; after the timeout the others share all.
	live = []*simConsumer{live[0], live[1], live[3]}
	for i := 0; i < 3; i++ {
		for _, c := range live {
			c.beat(f, noLag)
		}
		f.clock.Advance(time.Second)
	}
	settle(t, f, live, noLag)
	if got := f.reg.Consumers(testProject, testLogstore, testGroup); !slices.Equal(got, []string{"A", "B", "D"}) {
		t.Fatalf("live consumers %v, want [A B D]", got)
	}
	checkBalanced(t, live, []int{0, 1, 2, 3, 4, 5, 6, 7})
}

func TestDeadConsumerShardsAreReassignedAfterTimeout(t *testing.T) {
	f := newFixture(t, 10, false, rwShards(4))
	a, b := newSimConsumer("A"), newSimConsumer("B")
	settle(t, f, []*simConsumer{a, b}, noLag)
	wantShards(t, "B before it dies", b.held(), 2, 3)

	// B goes silent. Until its timeout has passed its shards stay with it.
	for i := 0; i < 9; i++ {
		a.beat(f, noLag)
		f.clock.Advance(time.Second)
	}
	wantShards(t, "A while B may be alive", a.held(), 0, 1)
	f.clock.Advance(time.Second) // 10 s since B's last beat
	a.beat(f, noLag)
	wantShards(t, "A after B timed out", a.held(), 0, 1, 2, 3)
	if got := f.reg.Assignments(testProject, testLogstore, testGroup); len(got) != 4 || got[2] != "A" || got[3] != "A" {
		t.Fatalf("assignments after timeout: %v", got)
	}
}

func TestSafeHandoverWaitsForRelease(t *testing.T) {
	f := newFixture(t, 10, false, rwShards(4))
	wantShards(t, "A alone", f.beat("A"), 0, 1, 2, 3)
	f.clock.Advance(time.Second)

	// B joins: A must give up two shards, B must not get them yet.
	wantShards(t, "B joins", f.beat("B"))
	wantShards(t, "A told to give up 2 and 3", f.beat("A", 0, 1, 2, 3), 0, 1)
	f.clock.Advance(time.Second)
	// A is still draining shard 3.
	wantShards(t, "B while A drains 3", f.beat("B"))
	wantShards(t, "A still lists 3", f.beat("A", 0, 1, 3), 0, 1)
	wantShards(t, "B after A released 2", f.beat("B"), 2)
	f.clock.Advance(time.Second)
	wantShards(t, "A released 3", f.beat("A", 0, 1), 0, 1)
	wantShards(t, "B after A released 3", f.beat("B", 2), 2, 3)
}

func TestSafeHandoverWhenHolderTimesOut(t *testing.T) {
	f := newFixture(t, 5, false, rwShards(2))
	wantShards(t, "A alone", f.beat("A"), 0, 1)
	wantShards(t, "B joins", f.beat("B"))
	wantShards(t, "A revoked 1", f.beat("A", 0, 1), 0)
	// A hangs without releasing shard 1; B only gets it when A is dead.
	for i := 0; i < 4; i++ {
		f.clock.Advance(time.Second)
		wantShards(t, "B while A may live", f.beat("B"))
	}
	f.clock.Advance(time.Second)
	wantShards(t, "B after A timed out", f.beat("B"), 0, 1)
}

func TestSafeHandoverRandomised(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 42))
		f := newFixture(t, 4, false, rwShards(8))
		lag := func() int { return rng.IntN(4) }
		pool := []*simConsumer{}
		for i := 0; i < 5; i++ {
			pool = append(pool, newSimConsumer(string(rune('A'+i))))
		}
		alive := map[*simConsumer]bool{}
		lastBeat := map[*simConsumer]time.Time{}
		for step := 0; step < 300; step++ {
			c := pool[rng.IntN(len(pool))]
			switch r := rng.IntN(20); {
			case r == 0 && alive[c]:
				// Crash: the consumer stops and loses everything.
				alive[c] = false
				c.reading, c.releasing = map[int]bool{}, map[int]int{}
			case r < 3:
				f.clock.Advance(time.Second)
			default:
				if !alive[c] && len(c.reading) == 0 {
					alive[c] = true
				}
				if alive[c] {
					c.beat(f, lag)
					lastBeat[c] = f.clock.Now()
				}
			}
			// Consumers the group still considers live must never
			// share a shard.
			var live []*simConsumer
			for _, c := range pool {
				if alive[c] && f.clock.Now().Sub(lastBeat[c]) < 4*time.Second {
					live = append(live, c)
				}
			}
			checkSingleOwner(t, live)
		}
	}
}

func TestUnknownConsumerHoldingShardsIsRefused(t *testing.T) {
	f := newFixture(t, 3, false, rwShards(2))
	_, err := f.reg.heartbeat(f.key(), f.shards, "A", []int{0})
	wantAPIError(t, err, http.StatusBadRequest, "NotExistConsumerWithBody")

	wantShards(t, "A joins empty", f.beat("A"), 0, 1)
	f.clock.Advance(3 * time.Second)
	// A timed out; it must drop its shards before joining again.
	_, err = f.reg.heartbeat(f.key(), f.shards, "A", []int{0, 1})
	wantAPIError(t, err, http.StatusBadRequest, "NotExistConsumerWithBody")
	wantShards(t, "A rejoins empty", f.beat("A"), 0, 1)
}

func TestHeartbeatUnknownGroup(t *testing.T) {
	f := newFixture(t, 3, false, rwShards(2))
	_, err := f.reg.heartbeat(groupKey{testProject, testLogstore, "nope"}, f.shards, "A", nil)
	wantAPIError(t, err, http.StatusNotFound, "ConsumerGroupNotExist")
}

// splitShards is shard 0 split into 1 and 2; 0 holds data up to seq 10.
func splitShards() []ShardInfo {
	return []ShardInfo{
		{ID: 0, ReadOnly: true, BeginCursor: cursor(0), EndCursor: cursor(10)},
		{ID: 1, BeginCursor: cursor(0), EndCursor: cursor(5), Parents: []int{0}},
		{ID: 2, BeginCursor: cursor(0), EndCursor: cursor(5), Parents: []int{0}},
	}
}

func TestOrderedSplitParentBeforeChildren(t *testing.T) {
	f := newFixture(t, 10, true, splitShards())
	wantShards(t, "parent first", f.beat("A"), 0)
	if err := f.commit("A", true, 0, cursor(9)); err != nil {
		t.Fatal(err)
	}
	wantShards(t, "parent not yet finished", f.beat("A", 0), 0)
	if err := f.commit("A", true, 0, cursor(10)); err != nil {
		t.Fatal(err)
	}
	wantShards(t, "children once the parent is finished", f.beat("A", 0), 1, 2)
}

func TestUnorderedSplitChildrenAtOnce(t *testing.T) {
	f := newFixture(t, 10, false, splitShards())
	wantShards(t, "all at once", f.beat("A"), 0, 1, 2)
	if err := f.commit("A", true, 0, cursor(10)); err != nil {
		t.Fatal(err)
	}
	wantShards(t, "finished parent dropped", f.beat("A", 0, 1, 2), 1, 2)
}

func TestOrderedMergeWaitsForBothParents(t *testing.T) {
	shards := []ShardInfo{
		{ID: 0, ReadOnly: true, BeginCursor: cursor(0), EndCursor: cursor(4)},
		{ID: 1, ReadOnly: true, BeginCursor: cursor(0), EndCursor: cursor(6)},
		{ID: 2, BeginCursor: cursor(0), EndCursor: cursor(0), Parents: []int{0, 1}},
	}
	f := newFixture(t, 10, true, shards)
	wantShards(t, "parents", f.beat("A"), 0, 1)
	if err := f.commit("A", true, 0, cursor(4)); err != nil {
		t.Fatal(err)
	}
	wantShards(t, "one parent finished", f.beat("A", 0, 1), 1)
	if err := f.commit("A", true, 1, cursor(6)); err != nil {
		t.Fatal(err)
	}
	wantShards(t, "both parents finished", f.beat("A", 1), 2)
}

func TestOrderedChildWaitsForGrandparentThroughEmptyParent(t *testing.T) {
	// 0 split into 1 and 2; 1 was split again into 3 and 4 before anything
	// was written to it, so 1 is finished but 0 is not.
	shards := []ShardInfo{
		{ID: 0, ReadOnly: true, BeginCursor: cursor(0), EndCursor: cursor(10)},
		{ID: 1, ReadOnly: true, BeginCursor: cursor(0), EndCursor: cursor(0), Parents: []int{0}},
		{ID: 2, BeginCursor: cursor(0), EndCursor: cursor(3), Parents: []int{0}},
		{ID: 3, BeginCursor: cursor(0), EndCursor: cursor(3), Parents: []int{1}},
		{ID: 4, BeginCursor: cursor(0), EndCursor: cursor(3), Parents: []int{1}},
	}
	f := newFixture(t, 10, true, shards)
	wantShards(t, "only the root", f.beat("A"), 0)
	if err := f.commit("A", true, 0, cursor(10)); err != nil {
		t.Fatal(err)
	}
	wantShards(t, "descendants", f.beat("A", 0), 2, 3, 4)
}

func TestOrderedBalancesOnlyAssignableShards(t *testing.T) {
	f := newFixture(t, 10, true, splitShards())
	wantShards(t, "A gets the parent", f.beat("A"), 0)
	wantShards(t, "B waits: the children are not assignable", f.beat("B"))
	if err := f.commit("A", true, 0, cursor(10)); err != nil {
		t.Fatal(err)
	}
	wantShards(t, "A's child", f.beat("A", 0), 1)
	wantShards(t, "B's child", f.beat("B"), 2)
}

func TestFinishedReadonlyShardsAreNotAssigned(t *testing.T) {
	shards := []ShardInfo{
		{ID: 0, ReadOnly: true, BeginCursor: cursor(7), EndCursor: cursor(7)}, // never had data
		{ID: 1, ReadOnly: true, BeginCursor: cursor(0), EndCursor: cursor(5)},
		{ID: 2, BeginCursor: cursor(0), EndCursor: cursor(5)},
	}
	f := newFixture(t, 10, false, shards)
	wantShards(t, "unfinished only", f.beat("A"), 1, 2)
	if err := f.commit("A", false, 1, cursor(5)); err != nil {
		t.Fatal(err)
	}
	wantShards(t, "after finishing 1", f.beat("A", 1, 2), 2)
	// A readwrite shard is never finished, whatever its checkpoint.
	if err := f.commit("A", false, 2, cursor(5)); err != nil {
		t.Fatal(err)
	}
	wantShards(t, "readwrite at its end", f.beat("A", 2), 2)
}

func TestOrderChangeRevokesBlockedChildren(t *testing.T) {
	f := newFixture(t, 10, false, splitShards())
	wantShards(t, "unordered", f.beat("A"), 0, 1, 2)
	order := true
	if err := f.reg.update(f.key(), nil, &order); err != nil {
		t.Fatal(err)
	}
	wantShards(t, "ordered", f.beat("A", 0, 1, 2), 0)
}
