package emulator_test

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	consumer "github.com/aliyun/aliyun-log-go-sdk/consumer"
	gokitlog "github.com/go-kit/kit/log"
	"github.com/gogo/protobuf/proto"

	"github.com/slspipe/slspipe/emulator"
)

// These tests run the official consumer library, unmodified, as several
// consumers of one consumer group against the emulator, whose consumer-group
// assignment is all the library relies on.

const (
	groupRunProject  = "e2e"
	groupRunLogstore = "events"
	groupRunPerBatch = 10 // logs per written log group
)

// consumedLog is one log as a Processor saw it.
type consumedLog struct {
	key      string // canonical content, see consumedKey
	shard    int
	consumer string
	seq      int // position in the global event order
}

// processCall is one Process call that carried logs, bracketed by the global
// event counter so that overlapping calls can be detected.
type processCall struct {
	shard      int
	consumer   string
	begin, end int
}

// groupRun is one emulator, one logstore and the consumer workers of one
// consumer group, with everything they processed.
type groupRun struct {
	t      *testing.T
	srv    *emulator.Server
	client sls.ClientInterface
	beats  *heartbeatCounter
	// hold, when set, is called before a Process call with logs and may
	// block it: a slow sink.
	hold func(consumer string, shard int)

	written map[string]int // logs written, by consumedKey; test goroutine only

	mu      sync.Mutex // guards the fields below
	clock   int        // global event counter
	logs    []consumedLog
	calls   []processCall
	called  map[string]bool // consumers whose Process has run
	workers []*consumer.ConsumerWorker
	stopped bool
}

func newGroupRun(t *testing.T, shards int) *groupRun {
	t.Helper()
	srv := startEmulator(t, emulator.Config{Logstores: []emulator.LogstoreSpec{
		{Project: groupRunProject, Logstore: groupRunLogstore, Shards: shards},
	}})
	client := sls.CreateNormalInterface(srv.Addr(), emulator.DefaultAccessKeyID, emulator.DefaultAccessKeySecret, "")
	client.SetHTTPClient(srv.HTTPClient())
	r := &groupRun{
		t:       t,
		srv:     srv,
		client:  client,
		beats:   &heartbeatCounter{base: srv.HTTPClient().Transport, beats: map[string]int{}},
		written: map[string]int{},
		called:  map[string]bool{},
	}
	// Registered after startEmulator's cleanup, so it runs first: the
	// workers stop while the emulator still serves.
	t.Cleanup(r.stop)
	return r
}

// start starts one consumer of group, heartbeating every second.
func (r *groupRun) start(group, name string, inOrder bool) *consumer.ConsumerWorker {
	w := consumer.InitConsumerWorkerWithCheckpointTracker(consumer.LogHubConfig{
		Endpoint:                  r.srv.Addr(),
		AccessKeyID:               emulator.DefaultAccessKeyID,
		AccessKeySecret:           emulator.DefaultAccessKeySecret,
		Project:                   groupRunProject,
		Logstore:                  groupRunLogstore,
		ConsumerGroupName:         group,
		ConsumerName:              name,
		CursorPosition:            consumer.BEGIN_CURSOR,
		HeartbeatIntervalInSecond: 1,
		DataFetchIntervalInMs:     50,
		InOrder:                   inOrder,
		AutoCommitDisabled:        true, // the processor commits
		HTTPClient:                &http.Client{Transport: r.beats},
		Logger:                    gokitlog.NewNopLogger(),
	}, r.processor(name))
	w.Start()
	r.mu.Lock()
	r.workers = append(r.workers, w)
	r.mu.Unlock()
	return w
}

// stop stops every worker and waits for them, as a user shuts down.
func (r *groupRun) stop() {
	r.mu.Lock()
	workers := r.workers
	done := r.stopped
	r.stopped = true
	r.mu.Unlock()
	if done {
		return
	}
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.StopAndWait()
		}()
	}
	wg.Wait()
}

// processor returns the Process function of one consumer: it records every
// log, then commits the batch's next cursor through the tracker, the way a
// user commits once their sink has confirmed.
func (r *groupRun) processor(name string) func(int, *sls.LogGroupList, consumer.CheckPointTracker) (string, error) {
	return func(shard int, list *sls.LogGroupList, tracker consumer.CheckPointTracker) (string, error) {
		r.mu.Lock()
		r.called[name] = true
		r.mu.Unlock()
		if len(list.LogGroups) == 0 {
			return "", nil
		}

		r.mu.Lock()
		r.clock++
		call := processCall{shard: shard, consumer: name, begin: r.clock}
		r.mu.Unlock()
		if r.hold != nil {
			r.hold(name, shard)
		}
		r.mu.Lock()
		for _, g := range list.LogGroups {
			for _, l := range g.Logs {
				r.clock++
				r.logs = append(r.logs, consumedLog{key: consumedKey(l), shard: shard, consumer: name, seq: r.clock})
			}
		}
		r.mu.Unlock()

		if err := tracker.SaveCheckPoint(true); err != nil {
			return "", fmt.Errorf("commit shard %d: %w", shard, err)
		}

		r.mu.Lock()
		r.clock++
		call.end = r.clock
		r.calls = append(r.calls, call)
		r.mu.Unlock()
		return "", nil
	}
}

// write writes log groups from..to-1, spread over the whole hash space so
// both halves of a split shard receive logs.
func (r *groupRun) write(from, to int) {
	r.t.Helper()
	for i := from; i < to; i++ {
		lg := &sls.LogGroup{Topic: proto.String("e2e"), Source: proto.String("127.0.0.1")}
		for j := 0; j < groupRunPerBatch; j++ {
			l := &sls.Log{Time: proto.Uint32(uint32(time.Now().Unix())), TimeNs: proto.Uint32(uint32(j))}
			for _, kv := range [][2]string{{"batch", fmt.Sprint(i)}, {"index", fmt.Sprint(j)}, {"body", strings.Repeat("x", i%17)}} {
				l.Contents = append(l.Contents, &sls.LogContent{Key: proto.String(kv[0]), Value: proto.String(kv[1])})
			}
			lg.Logs = append(lg.Logs, l)
			r.written[consumedKey(l)]++
		}
		sum := md5.Sum([]byte(fmt.Sprint("batch-", i)))
		key := hex.EncodeToString(sum[:])
		if err := r.client.PostLogStoreLogs(groupRunProject, groupRunLogstore, lg, &key); err != nil {
			r.t.Fatalf("write batch %d: %v", i, err)
		}
	}
}

func (r *groupRun) consumed() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.logs)
}

func (r *groupRun) consumersCalled() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.called)
}

// awaitHeartbeats waits until each named consumer has completed n more
// heartbeats than it had at the call.
func (r *groupRun) awaitHeartbeats(n int, names ...string) {
	r.t.Helper()
	before := r.beats.snapshot()
	awaitGroupRun(r.t, 30*time.Second, fmt.Sprintf("%d heartbeat rounds", n), func() bool {
		now := r.beats.snapshot()
		for _, name := range names {
			if now[name] < before[name]+n {
				return false
			}
		}
		return true
	})
}

// checkDelivery asserts no loss and nothing invented, and that, with no
// crash, there were no duplicates either (the library itself promises only
// at-least-once). It returns the logs consumed per shard and per consumer.
func (r *groupRun) checkDelivery() (perShard map[int]int, perConsumer map[string]int) {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	delivered := map[string]int{}
	perShard, perConsumer = map[int]int{}, map[string]int{}
	total := 0
	for _, l := range r.logs {
		delivered[l.key]++
		perShard[l.shard]++
		perConsumer[l.consumer]++
	}
	duplicates := 0
	for key, n := range delivered {
		if r.written[key] == 0 {
			r.t.Errorf("consumed a log that was never written: %s", key)
		}
		if n > r.written[key] {
			duplicates += n - r.written[key]
		}
	}
	for key, n := range r.written {
		total += n
		if delivered[key] < n {
			r.t.Errorf("log lost: %s (written %d, consumed %d)", key, n, delivered[key])
		}
	}
	r.t.Logf("%d logs written, %d consumed, %d duplicates; per shard %v, per consumer %v",
		total, len(r.logs), duplicates, perShard, perConsumer)
	if duplicates != 0 {
		r.t.Errorf("%d duplicate deliveries without any crash", duplicates)
	}
	return perShard, perConsumer
}

// checkSingleOwner asserts that two consumers never processed one shard at
// the same time.
func (r *groupRun) checkSingleOwner() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	byShard := map[int][]processCall{}
	for _, c := range r.calls {
		byShard[c.shard] = append(byShard[c.shard], c)
	}
	for shard, calls := range byShard {
		sort.Slice(calls, func(i, j int) bool { return calls[i].begin < calls[j].begin })
		for i := 1; i < len(calls); i++ {
			prev, cur := calls[i-1], calls[i]
			if cur.consumer != prev.consumer && cur.begin < prev.end {
				r.t.Errorf("shard %d processed by %s and %s at the same time", shard, prev.consumer, cur.consumer)
			}
		}
	}
}

// checkCommittedToEnd asserts that the group's checkpoint of every shard is
// the shard's end cursor.
func (r *groupRun) checkCommittedToEnd(group string, shards ...int) {
	r.t.Helper()
	cps, err := r.client.GetCheckpoint(groupRunProject, groupRunLogstore, group)
	if err != nil {
		r.t.Fatalf("get checkpoints: %v", err)
	}
	committed := map[int]string{}
	for _, cp := range cps {
		committed[cp.ShardID] = cp.CheckPoint
	}
	for _, shard := range shards {
		end, err := r.client.GetCursor(groupRunProject, groupRunLogstore, shard, "end")
		if err != nil {
			r.t.Fatalf("end cursor of shard %d: %v", shard, err)
		}
		if committed[shard] != end {
			r.t.Errorf("shard %d: committed checkpoint %q, want its end %q", shard, committed[shard], end)
		}
	}
}

// heartbeatCounter is an HTTP transport that counts the successful
// heartbeats of each consumer, so a test can await heartbeat rounds.
type heartbeatCounter struct {
	base http.RoundTripper

	mu    sync.Mutex
	beats map[string]int // consumer → successful heartbeats
}

func (h *heartbeatCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := h.base.RoundTrip(req)
	q := req.URL.Query()
	if err == nil && resp.StatusCode == http.StatusOK && req.Method == http.MethodPost && q.Get("type") == "heartbeat" {
		h.mu.Lock()
		h.beats[q.Get("consumer")]++
		h.mu.Unlock()
	}
	return resp, err
}

func (h *heartbeatCounter) snapshot() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return maps.Clone(h.beats)
}

// consumedKey renders a log's time and contents canonically, so written and
// consumed logs compare as equal strings.
func consumedKey(l *sls.Log) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d.%09d", l.GetTime(), l.GetTimeNs())
	for _, kv := range l.Contents {
		fmt.Fprintf(&b, "|%s=%s", kv.GetKey(), kv.GetValue())
	}
	return b.String()
}

// awaitGroupRun polls cond until it holds, failing the test after within.
func awaitGroupRun(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// holdGate blocks chosen Process calls until released, like a sink that
// has stalled, and records which shards it is blocking.
type holdGate struct {
	release chan struct{}
	once    sync.Once

	mu      sync.Mutex
	blocked map[int]bool // shards with a call that reached the gate
}

func newHoldGate(t *testing.T) *holdGate {
	g := &holdGate{release: make(chan struct{}), blocked: map[int]bool{}}
	// Registered after newGroupRun, so it runs before the workers stop.
	t.Cleanup(g.open)
	return g
}

func (g *holdGate) wait(shard int) {
	g.mu.Lock()
	g.blocked[shard] = true
	g.mu.Unlock()
	<-g.release
}

func (g *holdGate) open() { g.once.Do(func() { close(g.release) }) }

func (g *holdGate) reached(shards ...int) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, s := range shards {
		if !g.blocked[s] {
			return false
		}
	}
	return true
}

// splitShard splits shard in the middle of a one-shard logstore and returns
// the two children.
func (r *groupRun) splitShard(shard int) []int {
	r.t.Helper()
	shards, err := r.client.SplitShard(groupRunProject, groupRunLogstore, shard, "80000000000000000000000000000000")
	if err != nil {
		r.t.Fatalf("split shard %d: %v", shard, err)
	}
	var children []int
	for _, s := range shards {
		if s.ShardID != shard {
			children = append(children, s.ShardID)
		}
	}
	if len(children) != 2 {
		r.t.Fatalf("split returned shards %v, want the parent and two children", shards)
	}
	return children
}

// Both tests start from one shard so that each consumer is first handed a
// single shard: the consumer library v0.1.124 initialises its client lazily
// and without synchronisation (client.go initHttpClient), which the race
// detector reports when two shard workers of a fresh consumer start at once.

// TestConsumerLibraryOrderedGroupAcrossSplit: two consumers of an ordered
// group consume a logstore while logs are written and its shard is split
// mid-stream. Every log is delivered exactly as written, the parent is
// consumed to its end before any of its children, no shard has two
// consumers at once, and the committed checkpoints reach every shard's end.
func TestConsumerLibraryOrderedGroupAcrossSplit(t *testing.T) {
	const (
		group   = "ordered-group"
		batches = 120 // half before the split, half after
	)
	r := newGroupRun(t, 1)
	// The parent's sink stalls until its children have logs and the group
	// has had heartbeat rounds to hand them out: a group that handed them
	// out before the parent is finished would be caught.
	parent := newHoldGate(t)
	r.hold = func(_ string, shard int) {
		if shard == 0 {
			parent.wait(shard)
		}
	}

	r.start(group, "consumer-1", true)
	r.start(group, "consumer-2", true)
	r.write(0, batches/2)
	awaitGroupRun(t, 30*time.Second, "the parent's logs to be in process", func() bool { return parent.reached(0) })

	children := r.splitShard(0)
	r.write(batches/2, batches)
	r.awaitHeartbeats(2, "consumer-1", "consumer-2")
	parent.open()

	total := batches * groupRunPerBatch
	awaitGroupRun(t, 60*time.Second, fmt.Sprintf("all %d logs to be consumed", total), func() bool {
		return r.consumed() >= total
	})
	r.stop()

	perShard, perConsumer := r.checkDelivery()
	r.checkSingleOwner()
	r.checkCommittedToEnd(group, 0, children[0], children[1])

	if perShard[0] == 0 || perShard[children[0]] == 0 || perShard[children[1]] == 0 {
		t.Fatalf("the split did not happen mid-stream: logs per shard %v", perShard)
	}
	if perConsumer["consumer-1"] == 0 || perConsumer["consumer-2"] == 0 {
		t.Errorf("the children were not shared by the two consumers: %v", perConsumer)
	}
	lastParent, firstChild := -1, -1
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.logs {
		switch {
		case l.shard == 0:
			lastParent = max(lastParent, l.seq)
		case slices.Contains(children, l.shard):
			if firstChild < 0 || l.seq < firstChild {
				firstChild = l.seq
			}
		}
	}
	if firstChild < lastParent {
		t.Errorf("a child shard's log (event %d) was processed before the parent's last log (event %d)", firstChild, lastParent)
	}
}

// TestConsumerLibraryRebalanceHandsOverSafely: a second consumer joins while
// the first is stalled processing every shard. The shard the first must give
// up does not reach the newcomer until the first has finished its batch,
// committed and released the shard, so nothing is processed twice, and the
// newcomer then continues from the committed checkpoint.
func TestConsumerLibraryRebalanceHandsOverSafely(t *testing.T) {
	const (
		group   = "rebalance-group"
		batches = 60 // in three thirds: before the split, after it, after the handover
	)
	r := newGroupRun(t, 1)
	first := newHoldGate(t)
	r.hold = func(name string, shard int) {
		if name == "consumer-1" {
			first.wait(shard)
		}
	}

	r.write(0, batches/3)
	r.start(group, "consumer-1", false)
	awaitGroupRun(t, 30*time.Second, "consumer-1 to stall in shard 0", func() bool { return first.reached(0) })
	children := r.splitShard(0)
	r.write(batches/3, 2*batches/3)
	awaitGroupRun(t, 30*time.Second, "consumer-1 to stall in every shard", func() bool {
		return first.reached(0, children[0], children[1])
	})

	r.start(group, "consumer-2", false)
	// Rebalancing takes a shard from consumer-1 for consumer-2 at once; the
	// rounds that follow must not hand it over while consumer-1 is stalled.
	r.awaitHeartbeats(3, "consumer-1", "consumer-2")
	first.open()

	awaitGroupRun(t, 30*time.Second, "consumer-2 to take over a shard", func() bool {
		return r.consumersCalled() == 2
	})
	r.write(2*batches/3, batches)
	total := batches * groupRunPerBatch
	awaitGroupRun(t, 60*time.Second, fmt.Sprintf("all %d logs to be consumed", total), func() bool {
		return r.consumed() >= total
	})
	r.stop()

	_, perConsumer := r.checkDelivery()
	r.checkSingleOwner()
	r.checkCommittedToEnd(group, 0, children[0], children[1])
	if perConsumer["consumer-2"] == 0 {
		t.Errorf("consumer-2 consumed nothing after the handover: %v", perConsumer)
	}
}

// TestConsumerLibraryTakesOverFromStoppedConsumer: one of two consumers is
// shut down mid-stream (a replica scaled away). Its shards go to the other
// consumer once the group's heartbeat timeout has passed, which carries on
// from the committed checkpoints: nothing is lost and, after a clean
// shutdown, nothing is processed twice.
func TestConsumerLibraryTakesOverFromStoppedConsumer(t *testing.T) {
	const (
		group   = "takeover-group"
		batches = 60 // in three thirds: one consumer, two consumers, one again
	)
	r := newGroupRun(t, 1)
	first := r.start(group, "consumer-1", false)
	r.write(0, batches/3)
	awaitGroupRun(t, 30*time.Second, "the first third to be consumed", func() bool {
		return r.consumed() >= batches/3*groupRunPerBatch
	})

	children := r.splitShard(0)
	r.start(group, "consumer-2", false)
	r.write(batches/3, 2*batches/3)
	awaitGroupRun(t, 30*time.Second, "both consumers to consume two thirds", func() bool {
		return r.consumersCalled() == 2 && r.consumed() >= 2*batches/3*groupRunPerBatch
	})

	first.StopAndWait()
	r.mu.Lock()
	stoppedAt := r.clock
	r.mu.Unlock()
	r.write(2*batches/3, batches)
	total := batches * groupRunPerBatch
	awaitGroupRun(t, 60*time.Second, fmt.Sprintf("all %d logs to be consumed", total), func() bool {
		return r.consumed() >= total
	})
	r.stop()

	r.checkDelivery()
	r.checkSingleOwner()
	r.checkCommittedToEnd(group, 0, children[0], children[1])
	r.mu.Lock()
	defer r.mu.Unlock()
	takenOver := map[int]bool{}
	for _, l := range r.logs {
		if l.seq > stoppedAt {
			if l.consumer != "consumer-2" {
				t.Errorf("%s processed a log after it was stopped", l.consumer)
			}
			takenOver[l.shard] = true
		}
	}
	if !takenOver[children[0]] || !takenOver[children[1]] {
		t.Errorf("consumer-2 did not consume both children after consumer-1 stopped: %v", takenOver)
	}
}
