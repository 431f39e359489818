package producer

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Shard ranges are refreshed this often, so that batches follow splits and
// merges.
const (
	routeRefresh = time.Minute
	routeTimeout = 10 * time.Second
)

// shardRouter batches keyed records per shard instead of per hash key: it
// maps a hash key to the begin key of the readwrite shard whose range holds
// it, which the service routes to that same shard. Until the ranges are
// known (or when ListShards is not allowed) keys are used as they are.
//
// # Notes
//
// After a split the old ranges route a key to the shard holding the old
// range's begin key until the next refresh: every record of one key still
// goes to one shard, the one that held it before the split.
type shardRouter struct {
	ep     *endpoint
	ranges atomic.Pointer[[]shardRange]
	// known is closed once ranges were first fetched.
	known     chan struct{}
	knownOnce sync.Once
}

// appendRoute appends the hash key to send key with.
func (r *shardRouter) appendRoute(dst, key []byte) []byte {
	rp := r.ranges.Load()
	if rp == nil || len(key) == 0 {
		return append(dst, key...)
	}
	var norm [32]byte
	if !normalizeInto(&norm, key) {
		return append(dst, key...) // the service will refuse it, naming it
	}
	ranges := *rp
	lo, hi := 0, len(ranges) // find the last range with begin <= key
	for lo < hi {
		m := (lo + hi) / 2
		if ranges[m].begin <= string(norm[:]) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 || string(norm[:]) >= ranges[lo-1].end {
		return append(dst, key...) // a gap: the ranges are stale
	}
	return append(dst, ranges[lo-1].begin...)
}

// refresh fetches the shard ranges; on failure the previous ones stay.
func (r *shardRouter) refresh(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, routeTimeout)
	defer cancel()
	ranges, err := r.ep.listShards(ctx)
	if err != nil {
		return err
	}
	if len(ranges) == 0 {
		r.ranges.Store(nil)
		return nil
	}
	r.ranges.Store(&ranges)
	r.knownOnce.Do(func() { close(r.known) })
	return nil
}

// normalizeKey returns a hash key as the service compares it: lowercase and
// right-padded with '0' to 32 hex digits.
func normalizeKey(s string) (string, bool) {
	var k [32]byte
	if !normalizeInto(&k, []byte(s)) {
		return "", false
	}
	return string(k[:]), true
}

func normalizeInto(dst *[32]byte, key []byte) bool {
	if len(key) > len(dst) {
		return false
	}
	for i := range dst {
		if i >= len(key) {
			dst[i] = '0'
			continue
		}
		c := key[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		case c >= 'A' && c <= 'F':
			c += 'a' - 'A'
		default:
			return false
		}
		dst[i] = c
	}
	return true
}
