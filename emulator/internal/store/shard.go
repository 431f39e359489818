package store

import (
	"fmt"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"

	"github.com/slspipe/slspipe/emulator/internal/apierr"
	"github.com/slspipe/slspipe/emulator/internal/wire"
)

type shard struct {
	// Immutable after creation.
	id         int
	begin, end string
	createTime int64
	parents    []int
	base       int64 // sequence number of the first group

	mu       sync.RWMutex // guards everything below
	readOnly bool
	groups   []group
	expired  int      // groups[:expired] are past their TTL (see ExpireBefore)
	seg      *os.File // nil in memory mode
	segSize  int64
}

// group is one stored LogGroup: its LogGroupList element as an LZ4 block.
type group struct {
	block wire.Block
	recv  int64  // server receive time, unix nanoseconds
	zstd  []byte // zstd frame of the element, filled on first zstd pull
}

func newShard(id int, begin, end string, now time.Time, parents []int) *shard {
	return &shard{
		id: id, begin: begin, end: end, createTime: now.Unix(), parents: parents,
		// Service cursors are large; a creation-time base keeps them
		// realistic while staying consecutive per log group.
		base: now.UnixMicro(),
	}
}

func (sh *shard) isReadOnly() bool {
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	return sh.readOnly
}

func (sh *shard) info() ShardInfo {
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	return ShardInfo{
		ID: sh.id, ReadOnly: sh.readOnly, BeginKey: sh.begin, EndKey: sh.end,
		CreateTime: sh.createTime, Parents: append([]int(nil), sh.parents...),
		Begin: sh.base + int64(sh.expired), End: sh.base + int64(len(sh.groups)),
	}
}

// Route picks the shard a write goes to: with hashKey "" the next
// readwrite shard in round-robin order, otherwise the readwrite shard whose
// range holds hashKey (a NormalizeKey result).
func (s *Store) Route(projectName, name, hashKey string) (int, error) {
	sh, err := s.route(projectName, name, hashKey)
	if err != nil {
		return 0, err
	}
	return sh.id, nil
}

// Append stores one validated raw LogGroup in shard id, as chosen by Route
// with the same hashKey. If the shard turned readonly since (a concurrent
// split or merge), the group is routed again, as the service does. It
// returns the shard ID and the group's sequence number.
//
// lz4Group, if not nil, is rawGroup as the client's LZ4 block (already
// verified to decode to rawGroup); it is stored as is rather than
// recompressed.
func (s *Store) Append(projectName, name string, id int, hashKey string, rawGroup, lz4Group []byte) (int, int64, error) {
	blk := wire.ElementBlock(rawGroup, lz4Group)
	sh, err := s.shardOf(projectName, name, id)
	for {
		if err != nil {
			return 0, 0, err
		}
		seq, ok, err := sh.append(blk, s.opts.Now())
		if err != nil {
			return 0, 0, fmt.Errorf("shard %d: %w", sh.id, err)
		}
		if ok {
			return sh.id, seq, nil
		}
		sh, err = s.route(projectName, name, hashKey)
	}
}

func (s *Store) route(projectName, name, hashKey string) (*shard, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, apierr.New(http.StatusServiceUnavailable, "ServerBusy", "server is shutting down")
	}
	ls, err := s.lookup(projectName, name)
	if err != nil {
		return nil, err
	}
	var rw []*shard
	for _, sh := range ls.shards {
		if sh.isReadOnly() {
			continue
		}
		if hashKey != "" && inRange(hashKey, sh.begin, sh.end) {
			return sh, nil
		}
		rw = append(rw, sh)
	}
	if hashKey != "" || len(rw) == 0 {
		return nil, apierr.New(http.StatusBadRequest, "ShardNotExist", "no readwrite shard for hash key %s", hashKey)
	}
	return rw[int(ls.lb.Add(1)%uint64(len(rw)))], nil
}

// append stores blk unless the shard is readonly (ok false).
func (sh *shard) append(blk wire.Block, now time.Time) (seq int64, ok bool, err error) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.readOnly {
		return 0, false, nil
	}
	recv := now.UnixNano()
	if n := len(sh.groups); n > 0 && sh.groups[n-1].recv > recv {
		recv = sh.groups[n-1].recv // receive times never go backwards in a shard
	}
	if err := sh.writeRecord(blk, recv); err != nil {
		return 0, false, err
	}
	sh.groups = append(sh.groups, group{block: blk, recv: recv})
	return sh.base + int64(len(sh.groups)-1), true, nil
}

// shardOf returns a shard of a logstore.
func (s *Store) shardOf(projectName, name string, id int) (*shard, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ls, err := s.lookup(projectName, name)
	if err != nil {
		return nil, err
	}
	sh := ls.shardByID(id)
	if sh == nil {
		return nil, errShardNotExist(id)
	}
	return sh, nil
}

// ShardInfo returns one shard's description.
func (s *Store) ShardInfo(projectName, name string, id int) (ShardInfo, error) {
	sh, err := s.shardOf(projectName, name, id)
	if err != nil {
		return ShardInfo{}, err
	}
	return sh.info(), nil
}

// CursorAt returns the sequence number of the first group received at or
// after unix second t, clamped to [begin, end].
func (s *Store) CursorAt(projectName, name string, id int, t int64) (int64, error) {
	sh, err := s.shardOf(projectName, name, id)
	if err != nil {
		return 0, err
	}
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	ns := t * int64(time.Second)
	i := sort.Search(len(sh.groups), func(i int) bool { return sh.groups[i].recv >= ns })
	return sh.base + int64(max(i, sh.expired)), nil
}

// CursorTime returns the receive time (unix seconds) of the group at seq.
// The end position answers the last group's time (the creation time for an
// empty shard).
func (s *Store) CursorTime(projectName, name string, id int, seq int64) (int64, error) {
	sh, err := s.shardOf(projectName, name, id)
	if err != nil {
		return 0, err
	}
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	i := seq - sh.base
	if i < int64(sh.expired) || i > int64(len(sh.groups)) {
		return 0, ErrInvalidCursor
	}
	if i == int64(len(sh.groups)) {
		if i == 0 {
			return sh.createTime, nil
		}
		i--
	}
	return sh.groups[i].recv / int64(time.Second), nil
}

// ErrInvalidCursor is the service's answer to a cursor outside a shard.
var ErrInvalidCursor = apierr.New(http.StatusBadRequest, "InvalidCursor", "this cursor is invalid")

// ReadRequest selects groups to read from a shard.
type ReadRequest struct {
	From     int64 // first sequence number
	Until    int64 // exclusive upper bound; < 0 means none
	MaxCount int   // at most this many groups
	MaxRaw   int   // stop adding groups past this many raw bytes (at least one is returned)
	Zstd     bool  // answer zstd frames instead of an LZ4 block
}

// ReadResult is a pull answer.
type ReadResult struct {
	Body     []byte // LZ4 block or zstd frames of the LogGroupList
	Raw      int    // uncompressed LogGroupList size
	Count    int
	Next     int64 // sequence number after the last returned group
	LastRecv int64 // receive time (unix seconds) of the last returned group
}

// Read returns the groups req selects, compressed, appended to dst.
func (s *Store) Read(projectName, name string, id int, req ReadRequest, dst []byte) (ReadResult, error) {
	sh, err := s.shardOf(projectName, name, id)
	if err != nil {
		return ReadResult{}, err
	}
	if req.Zstd {
		return sh.readZstd(req, dst)
	}
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	i, j, raw, err := sh.selectLocked(req)
	if err != nil {
		return ReadResult{}, err
	}
	res := ReadResult{Raw: raw, Count: j - i, Next: sh.base + int64(j)}
	if j == i {
		res.Body = dst
		return res, nil
	}
	var jn wire.Joiner
	jn.Reset(dst)
	for k := i; k < j; k++ {
		jn.Add(&sh.groups[k].block)
	}
	res.Body = jn.Finish()
	res.LastRecv = sh.groups[j-1].recv / int64(time.Second)
	return res, nil
}

// selectLocked picks the group index range [i, j) for req; sh.mu must be held.
func (sh *shard) selectLocked(req ReadRequest) (i, j, raw int, err error) {
	n := int64(len(sh.groups))
	from := req.From - sh.base
	if from < int64(sh.expired) || from > n {
		return 0, 0, 0, ErrInvalidCursor
	}
	limit := n
	if req.Until >= 0 {
		u := req.Until - sh.base
		if u < 0 || u > n {
			return 0, 0, 0, ErrInvalidCursor
		}
		limit = max(min(limit, u), from)
	}
	i, j = int(from), int(from)
	for j < int(limit) && j-i < req.MaxCount {
		r := sh.groups[j].block.Raw
		if j > i && raw+r > req.MaxRaw {
			break
		}
		raw += r
		j++
	}
	return i, j, raw, nil
}

var (
	zstdEncoder, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	rawPool        = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}
)

// readZstd answers with concatenated zstd frames, one per group, compressing
// each group once and caching the frame.
func (sh *shard) readZstd(req ReadRequest, dst []byte) (ReadResult, error) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	i, j, raw, err := sh.selectLocked(req)
	if err != nil {
		return ReadResult{}, err
	}
	res := ReadResult{Raw: raw, Count: j - i, Next: sh.base + int64(j), Body: dst}
	for k := i; k < j; k++ {
		g := &sh.groups[k]
		if g.zstd == nil {
			bp := rawPool.Get().(*[]byte)
			buf := append((*bp)[:0], make([]byte, g.block.Raw)...)
			if _, err := lz4.UncompressBlock(g.block.Data, buf); err != nil {
				rawPool.Put(bp)
				return ReadResult{}, fmt.Errorf("decode stored group %d: %w", sh.base+int64(k), err)
			}
			g.zstd = zstdEncoder.EncodeAll(buf, nil)
			*bp = buf
			rawPool.Put(bp)
		}
		res.Body = append(res.Body, g.zstd...)
	}
	if j > i {
		res.LastRecv = sh.groups[j-1].recv / int64(time.Second)
	}
	return res, nil
}
