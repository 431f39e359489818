package store

import (
	"net/http"

	"github.com/slspipe/slspipe/emulator/internal/apierr"
)

// Split makes shard id readonly and replaces it with readwrite children:
// two split at key when key != "", else count children splitting its range
// evenly. Children get IDs after the logstore's highest. It returns the
// parent followed by the children.
func (s *Store) Split(projectName, name string, id int, key string, count int) ([]ShardInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ls, err := s.lookup(projectName, name)
	if err != nil {
		return nil, err
	}
	parent := ls.shardByID(id)
	if parent == nil {
		return nil, errShardNotExist(id)
	}
	var ranges [][2]string
	switch {
	case key != "":
		k, ok := NormalizeKey(key)
		if !ok || k <= parent.begin || k >= parent.end {
			return nil, apierr.New(http.StatusBadRequest, "ParameterInvalid", "invalid split key %s for shard %d [%s, %s)", key, id, parent.begin, parent.end)
		}
		ranges = [][2]string{{parent.begin, k}, {k, parent.end}}
	case count >= 2:
		if len(ls.shards)+count > MaxShardsPerLogstore {
			return nil, apierr.New(http.StatusBadRequest, "ParameterInvalid", "shard count would exceed %d", MaxShardsPerLogstore)
		}
		ranges, err = evenRanges(parent.begin, parent.end, count)
		if err != nil {
			return nil, apierr.New(http.StatusBadRequest, "ParameterInvalid", "%v", err)
		}
	default:
		return nil, apierr.New(http.StatusBadRequest, "ParameterInvalid", "split needs a key or a shardCount of at least 2")
	}
	if parent.isReadOnly() {
		return nil, apierr.New(http.StatusBadRequest, "ParameterInvalid", "shard %d is readonly", id)
	}
	// Children are ready before the parent freezes, so a failure leaves the
	// layout unchanged. s.mu is held, so nothing else splits the parent.
	now := s.opts.Now()
	next := ls.nextID()
	children := make([]*shard, 0, len(ranges))
	for i, r := range ranges {
		child := newShard(next+i, r[0], r[1], now, []int{id})
		if err := s.openSegment(ls, child, true); err != nil {
			for _, c := range children {
				c.closeSegment()
			}
			return nil, err
		}
		children = append(children, child)
	}
	parent.markReadOnly()
	ls.shards = append(ls.shards, children...)
	out := []ShardInfo{parent.info()}
	for _, c := range children {
		out = append(out, c.info())
	}
	return out, s.persistLocked()
}

// Merge makes shard id and its right-hand readwrite neighbour readonly and
// adds one readwrite child covering both ranges. It returns the child
// followed by the two parents.
func (s *Store) Merge(projectName, name string, id int) ([]ShardInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ls, err := s.lookup(projectName, name)
	if err != nil {
		return nil, err
	}
	left := ls.shardByID(id)
	if left == nil {
		return nil, errShardNotExist(id)
	}
	if left.isReadOnly() {
		return nil, apierr.New(http.StatusBadRequest, "ParameterInvalid", "shard %d is readonly", id)
	}
	var right *shard
	for _, sh := range ls.shards {
		if sh.begin == left.end && !sh.isReadOnly() {
			right = sh
			break
		}
	}
	if right == nil {
		return nil, apierr.New(http.StatusBadRequest, "ParameterInvalid", "shard %d has no readwrite right-hand neighbour to merge with", id)
	}
	child := newShard(ls.nextID(), left.begin, right.end, s.opts.Now(), []int{left.id, right.id})
	if err := s.openSegment(ls, child, true); err != nil {
		return nil, err
	}
	left.markReadOnly()
	right.markReadOnly()
	ls.shards = append(ls.shards, child)
	return []ShardInfo{child.info(), left.info(), right.info()}, s.persistLocked()
}

// markReadOnly freezes the shard, reporting false if it already was.
func (sh *shard) markReadOnly() bool {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.readOnly {
		return false
	}
	sh.readOnly = true
	return true
}
