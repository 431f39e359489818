package producer

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/engine"
)

// partitioner appends a record's shard hash key to dst; appending nothing
// means load-balanced.
type partitioner func(dst []byte, r *engine.Record) []byte

// newPartitioner returns the configured partitioner. A record's own
// HashKey, set by a serializer, always wins.
func newPartitioner(cfg config.SLSSink) (partitioner, error) {
	var base partitioner
	switch cfg.Partitioner {
	case "", "random":
		base = func(dst []byte, _ *engine.Record) []byte { return dst }
	case "field":
		if cfg.PartitionField == "" {
			return nil, fmt.Errorf("partitioner field needs partition_field")
		}
		field := cfg.PartitionField
		// A record without the field is load-balanced: it has no shard of
		// its own.
		base = func(dst []byte, r *engine.Record) []byte {
			v, ok := r.Get(field)
			if !ok {
				return dst
			}
			return appendMD5Hex(dst, v)
		}
	case "fixed":
		if cfg.HashKey == "" {
			return nil, fmt.Errorf("partitioner fixed needs hash_key")
		}
		key := cfg.HashKey
		base = func(dst []byte, _ *engine.Record) []byte { return append(dst, key...) }
	default:
		return nil, fmt.Errorf("partitioner %q: want random, field or fixed", cfg.Partitioner)
	}
	return func(dst []byte, r *engine.Record) []byte {
		if r.HashKey != "" {
			return append(dst, r.HashKey...)
		}
		return base(dst, r)
	}, nil
}

// appendMD5Hex appends the lowercase hex MD5 of v, the form of SLS shard
// keys.
func appendMD5Hex(dst, v []byte) []byte {
	sum := md5.Sum(v)
	n := len(dst)
	dst = append(dst, make([]byte, hex.EncodedLen(len(sum)))...)
	hex.Encode(dst[n:], sum[:])
	return dst
}
