package engine

import (
	"sort"
)

// origin returns what the cursors of logstore are positions in, "" when
// the source names nothing.
func (p *Pipeline) origin(logstore string) string {
	if p.origins == nil {
		return ""
	}
	return p.origins.Origin(logstore)
}

// bindLoaded checks loaded checkpoints against the origins the source reads
// now. A checkpoint bound elsewhere is an *OriginMismatchError; one bound to
// nothing (saved before positions were bound) is taken as a position in the
// current origin, bound to it in loaded, and listed in the returned set so
// that its next save records the binding.
func (p *Pipeline) bindLoaded(loaded map[ShardKey]Checkpoint) (unbound []ShardKey, err error) {
	if p.origins == nil {
		return nil, nil
	}
	keys := make([]ShardKey, 0, len(loaded))
	for k := range loaded {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].Logstore != keys[j].Logstore {
			return keys[i].Logstore < keys[j].Logstore
		}
		return keys[i].Shard < keys[j].Shard
	})
	var mismatch *OriginMismatchError
	for _, k := range keys {
		cp := loaded[k]
		want := p.origin(k.Logstore)
		switch {
		case want == "" || cp.Origin == want:
		case cp.Origin == "":
			cp.Origin = want
			loaded[k] = cp
			unbound = append(unbound, k)
		case mismatch == nil:
			mismatch = &OriginMismatchError{Pipeline: p.name, Shard: k, Stored: cp.Origin, Current: want}
		default:
			mismatch.More++
		}
	}
	if mismatch != nil {
		return nil, mismatch
	}
	return unbound, nil
}
