package groups

import (
	"encoding/base64"
	"net/http"
	"sort"
	"strconv"

	"github.com/slspipe/slspipe/emulator/internal/apierr"
)

// checkpointJSON is one element of the GetCheckPoint reply.
type checkpointJSON struct {
	Shard      int    `json:"shard"`
	Checkpoint string `json:"checkpoint"`
	UpdateTime int64  `json:"updateTime"` // microseconds since the epoch
	Consumer   string `json:"consumer"`
}

// updateCheckpoint stores the checkpoint of one shard.
//
// Without forceSuccess the consumer must own the shard. The error codes keep
// the service's spellings that consumer/checkpoint_tracker.go matches
// ("ConsumerNotExsit", "ConsumerNotMatch", "ShardNotExsit"): on those the
// library drops the shard instead of retrying the flush forever, which would
// hang its shutdown.
func (r *Registry) updateCheckpoint(k groupKey, shards []ShardInfo, consumerName string, force bool, shard int, value string) error {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	g, err := r.lookup(k)
	if err != nil {
		return err
	}
	if consumerName == "" && !force {
		return apierr.New(http.StatusBadRequest, "ParameterInvalid", "consumer is required unless forceSuccess is true")
	}
	if !validCursor(value) {
		return apierr.New(http.StatusBadRequest, "InvalidShardCheckPoint", "invalid checkpoint %q", value)
	}
	exists := false
	for _, s := range shards {
		if s.ID == shard {
			exists = true
			break
		}
	}
	if !exists {
		return apierr.New(http.StatusNotFound, "ShardNotExsit", "shard %d does not exist", shard)
	}
	if !force {
		g.expire(now)
		if g.consumers[consumerName] == nil {
			return apierr.New(http.StatusBadRequest, "ConsumerNotExsit", "consumer %s does not exist in consumer group %s", consumerName, g.name)
		}
		if g.owner[shard] != consumerName {
			return apierr.New(http.StatusBadRequest, "ConsumerNotMatch", "shard %d is not held by consumer %s", shard, consumerName)
		}
	}
	g.checkpoints[shard] = checkpoint{value: value, updated: now, consumer: consumerName}
	return nil
}

// getCheckpoints lists the checkpoints of the group's existing shards, or of
// one shard when shard ≥ 0. A shard with no checkpoint yet is listed with an
// empty one, which the consumer library reads as "start from the configured
// position"; an unknown shard gives an empty list.
func (r *Registry) getCheckpoints(k groupKey, shards []ShardInfo, shard int) ([]checkpointJSON, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g, err := r.lookup(k)
	if err != nil {
		return nil, err
	}
	out := []checkpointJSON{}
	for _, s := range shards {
		if shard >= 0 && s.ID != shard {
			continue
		}
		e := checkpointJSON{Shard: s.ID}
		if cp, ok := g.checkpoints[s.ID]; ok {
			e.Checkpoint = cp.value
			e.UpdateTime = cp.updated.UnixMicro()
			e.Consumer = cp.consumer
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Shard < out[j].Shard })
	return out, nil
}

// validCursor reports whether v has the cursor format: non-empty standard
// base64.
func validCursor(v string) bool {
	if v == "" {
		return false
	}
	_, err := base64.StdEncoding.DecodeString(v)
	return err == nil
}

// cursorReached reports whether cursor cp is at or past cursor end. Cursors
// are base64 of a decimal sequence number; anything else compares as text.
func cursorReached(cp, end string) bool {
	a, okA := cursorSeq(cp)
	b, okB := cursorSeq(end)
	if okA && okB {
		return a >= b
	}
	return cp == end
}

func cursorSeq(c string) (int64, bool) {
	raw, err := base64.StdEncoding.DecodeString(c)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	return n, err == nil
}
