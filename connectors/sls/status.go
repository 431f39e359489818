package sls

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slspipe/slspipe/connectors/sls/internal/slsapi"
	"github.com/slspipe/slspipe/engine"
)

// headRefreshEvery bounds how often the source reads its shards' heads for
// the pipeline's status: one GetCursor(end) per shard (and, in distributed
// mode, one GetCheckpoint per logstore) at most this often, and only while
// someone asks for the status.
var headRefreshEvery = 5 * time.Second

// shardHeads answers the status's questions about the source's shards: who
// holds them and how far their heads are past the committed cursors. Heads
// are read on demand, in the background, never on the record path; log
// counts per pull feed the estimate of logs per log group.
type shardHeads struct {
	src    *Source
	demand chan struct{} // poked by ReportShards, drained by run
	// pulls counts log groups and logs pulled per logstore; the map is
	// built in newShardHeads and only read afterwards.
	pulls map[string]*pullCounts

	mu      sync.Mutex // guards the fields below
	want    map[engine.ShardKey]bool
	heads   map[engine.ShardKey]shardHead
	members map[engine.ShardKey]groupMember // distributed: the group's checkpoints
	// firstRead is the cursor of each shard's first pull in this process:
	// what is behind the head before anything is committed.
	firstRead map[engine.ShardKey]string
	// since is each shard's position at the latest report, which the next
	// head read measures from.
	since map[engine.ShardKey]string
}

type pullCounts struct{ groups, logs atomic.Int64 }

// shardHead is one read of a shard's head.
type shardHead struct {
	at time.Time
	// from is the position the head was compared with, the latest one the
	// status had shown, and behind the log groups between them.
	from   string
	behind int64
	known  bool
}

// groupMember is a shard's entry in the consumer group's checkpoints.
type groupMember struct{ cursor, consumer string }

func newShardHeads(s *Source) *shardHeads {
	h := &shardHeads{src: s, demand: make(chan struct{}, 1), pulls: map[string]*pullCounts{},
		want: map[engine.ShardKey]bool{}, heads: map[engine.ShardKey]shardHead{}, members: map[engine.ShardKey]groupMember{},
		firstRead: map[engine.ShardKey]string{}, since: map[engine.ShardKey]string{}}
	for _, ls := range s.cfg.Logstores {
		h.pulls[ls] = &pullCounts{}
	}
	return h
}

// pulled counts one emitted pull of key, read from cursor.
func (h *shardHeads) pulled(key engine.ShardKey, cursor string, groups, logs int) {
	if c := h.pulls[key.Logstore]; c != nil {
		c.groups.Add(int64(groups))
		c.logs.Add(int64(logs))
	}
	h.mu.Lock()
	if _, ok := h.firstRead[key]; !ok {
		h.firstRead[key] = cursor
	}
	h.mu.Unlock()
}

// ReportShards implements [engine.ShardReporter]: it completes the engine's
// rows with the owner and how far each head is, from the last background
// read, and asks for a new read. In distributed mode it adds the group's
// shards that other consumers hold.
func (s *Source) ReportShards(shards []engine.ShardStatus) []engine.ShardStatus {
	h := s.heads
	owner := ""
	if s.cfg.ConsumerGroup != "" {
		owner = s.cfg.ConsumerName
	}
	h.mu.Lock()
	want := make(map[engine.ShardKey]bool, len(shards))
	for i := range shards {
		row := &shards[i]
		key := engine.ShardKey{Logstore: row.Logstore, Shard: row.Shard}
		want[key] = true
		row.Owner = owner
		h.behind(row, key)
	}
	n := len(shards)
	for key, m := range h.members {
		if want[key] {
			continue
		}
		row := engine.ShardStatus{Logstore: key.Logstore, Shard: key.Shard, State: engine.ShardElsewhere,
			Owner: m.consumer, CommittedCursor: m.cursor}
		h.behind(&row, key)
		shards = append(shards, row)
	}
	h.want = want
	h.mu.Unlock()
	slices.SortFunc(shards[n:], func(a, b engine.ShardStatus) int {
		return cmp.Or(cmp.Compare(a.Logstore, b.Logstore), cmp.Compare(a.Shard, b.Shard))
	})
	select {
	case h.demand <- struct{}{}:
	default:
	}
	return shards
}

// behind fills in how far the shard's head was past its committed cursor
// when the head was last read; mu must be held.
func (h *shardHeads) behind(row *engine.ShardStatus, key engine.ShardKey) {
	if from := h.position(row.CommittedCursor, key); from != "" {
		h.since[key] = from // what the next head read is compared with
	}
	hd, ok := h.heads[key]
	if !ok || !hd.known {
		return
	}
	groups := hd.behind
	row.BehindGroups, row.HeadCheckedAt = &groups, hd.at
	if groups == 0 && hd.from == h.position(row.CommittedCursor, key) && row.State == engine.ShardReading {
		zero := 0.0 // caught up and idle: the committed time of an idle shard ages
		row.LagSeconds = &zero
	}
	if c := h.pulls[key.Logstore]; c != nil {
		if g := c.groups.Load(); g > 0 {
			logs := int64(float64(groups) * float64(c.logs.Load()) / float64(g))
			row.BehindLogs = &logs
		}
	}
}

// position is the cursor a shard's backlog starts at: the committed one, or
// before anything is committed, the first one read; mu must be held.
func (h *shardHeads) position(committed string, key engine.ShardKey) string {
	if committed != "" {
		return committed
	}
	return h.firstRead[key]
}

// start reads heads whenever ReportShards asks, at most every
// headRefreshEvery, until the returned stop is called.
func (h *shardHeads) start(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-h.demand:
			}
			h.refresh(ctx)
			if slsapi.Sleep(ctx, headRefreshEvery) != nil {
				return
			}
		}
	}()
	return func() { cancel(); <-done }
}

// refresh reads the group's checkpoints (distributed mode) and the head of
// every shard the status showed. Failures leave the last values, whose
// time the status shows; they are not retried: the next demand will.
func (h *shardHeads) refresh(ctx context.Context) {
	s := h.src
	h.mu.Lock()
	keys := make(map[engine.ShardKey]bool, len(h.want))
	for k := range h.want {
		keys[k] = true
	}
	h.mu.Unlock()
	if s.cfg.GroupMode == "distributed" {
		members := map[engine.ShardKey]groupMember{}
		for _, ls := range s.cfg.Logstores {
			list, err := s.c.sdk.GetCheckpoint(s.cfg.Project, ls, s.cfg.ConsumerGroup)
			if err != nil {
				s.log.Debug("status: reading the consumer group's checkpoints failed", "logstore", ls, "err", err)
				continue
			}
			for _, cp := range list {
				if cp == nil || cp.CheckPoint == "" {
					continue
				}
				k := engine.ShardKey{Logstore: ls, Shard: cp.ShardID}
				members[k] = groupMember{cursor: cp.CheckPoint, consumer: cp.Consumer}
				keys[k] = true
			}
		}
		h.mu.Lock()
		h.members = members
		h.mu.Unlock()
	}
	heads := make(map[engine.ShardKey]shardHead, len(keys))
	for k := range keys {
		if ctx.Err() != nil {
			return
		}
		// The position is read just before the head, so that both describe
		// about the same moment.
		h.mu.Lock()
		from := h.since[k]
		if m, ok := h.members[k]; ok && !h.want[k] {
			from = m.cursor
		}
		h.mu.Unlock()
		cur, err := s.c.sdk.GetCursor(s.cfg.Project, k.Logstore, k.Shard, "end")
		if err != nil {
			s.log.Debug("status: reading a shard's head failed", "logstore", k.Logstore, "shard", k.Shard, "err", err)
			continue
		}
		hd := shardHead{at: time.Now(), from: from}
		end, err1 := decodeCursorNum(cur)
		pos, err2 := decodeCursorNum(from)
		if err1 == nil && err2 == nil && from != "" {
			hd.behind, hd.known = max(end-pos, 0), true
		}
		heads[k] = hd
	}
	h.mu.Lock()
	for k, hd := range h.heads {
		if _, ok := heads[k]; !ok && keys[k] {
			heads[k] = hd // keep the last value of a failed read
		}
	}
	h.heads = heads
	h.mu.Unlock()
}

var _ engine.ShardReporter = (*Source)(nil)
