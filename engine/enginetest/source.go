package enginetest

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/slspipe/slspipe/engine"
)

// SourceConfig describes the data an in-memory [Source] serves.
type SourceConfig struct {
	// Logstore names the logstore; "mem" when empty.
	Logstore string
	// Shards is the number of shards, numbered from 0.
	Shards int
	// Batches is the number of batches per shard.
	Batches int
	// Records is the number of records per batch.
	Records int
	// BodySize is the size of each record's "body" field; 16 when zero.
	BodySize int
	// ReleaseAfter, when set, makes the source drain and release shard s
	// after emitting ReleaseAfter[s] batches of it (a group rebalance).
	ReleaseAfter map[int]int
	// Finish makes the source report each shard as finished (a readonly
	// shard read to its end) after its last batch.
	Finish bool
}

// Source is an in-memory [engine.Source]. Batch b of a shard has cursor
// strconv.Itoa(b) and next cursor strconv.Itoa(b+1); record i of it has the
// fields "seq" (b*Records+i, in decimal) and "body". It reuses batch memory
// that the engine recycles.
type Source struct {
	cfg  SourceConfig
	body []byte

	mu       sync.Mutex // guards the fields below
	resumed  map[int]engine.Resume
	released map[int]engine.Checkpoint
	emitted  int
	owners   map[*engine.Batch]*memBatch
	free     []*memBatch // recycled batches
}

// NewSource returns a source serving the data cfg describes.
func NewSource(cfg SourceConfig) *Source {
	if cfg.Logstore == "" {
		cfg.Logstore = "mem"
	}
	if cfg.BodySize == 0 {
		cfg.BodySize = 16
	}
	body := make([]byte, cfg.BodySize)
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}
	return &Source{cfg: cfg, body: body, resumed: map[int]engine.Resume{}, released: map[int]engine.Checkpoint{},
		owners: map[*engine.Batch]*memBatch{}}
}

// Logstore returns the logstore name the source uses.
func (s *Source) Logstore() string { return s.cfg.Logstore }

// Total returns the number of records the source holds.
func (s *Source) Total() int { return s.cfg.Shards * s.cfg.Batches * s.cfg.Records }

// Run implements [engine.Source]: one goroutine per shard, each emitting
// from the shard's resume position to its end.
func (s *Source) Run(ctx context.Context, host engine.Host) error {
	var wg sync.WaitGroup
	errs := make([]error, s.cfg.Shards)
	for sh := range s.cfg.Shards {
		wg.Go(func() { errs[sh] = s.runShard(ctx, host, sh) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && ctx.Err() == nil {
			return err
		}
	}
	return nil
}

func (s *Source) runShard(ctx context.Context, host engine.Host, shard int) error {
	key := engine.ShardKey{Logstore: s.cfg.Logstore, Shard: shard}
	res, err := host.OpenShard(ctx, key)
	if err != nil {
		return fmt.Errorf("open shard %d: %w", shard, err)
	}
	s.mu.Lock()
	s.resumed[shard] = res
	s.mu.Unlock()
	start := 0
	if res.Found {
		if start, err = strconv.Atoi(res.Cursor); err != nil {
			return fmt.Errorf("shard %d: bad resume cursor %q: %w", shard, res.Cursor, err)
		}
	}
	releaseAt, release := s.cfg.ReleaseAfter[shard]
	for b := start; b < s.cfg.Batches; b++ {
		if release && b >= releaseAt {
			break
		}
		if err := host.Emit(ctx, s.batch(shard, b)); err != nil {
			return fmt.Errorf("emit shard %d batch %d: %w", shard, b, err)
		}
		s.mu.Lock()
		s.emitted++
		s.mu.Unlock()
	}
	if release {
		cp, err := host.DrainShard(ctx, key)
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.released[shard] = cp
		s.mu.Unlock()
		return nil
	}
	if s.cfg.Finish {
		host.FinishShard(key)
	}
	return nil
}

// Resumed returns the resume position the engine gave for shard.
func (s *Source) Resumed(shard int) (engine.Resume, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.resumed[shard]
	return r, ok
}

// Released returns the checkpoint DrainShard returned for a released shard.
func (s *Source) Released(shard int) (engine.Checkpoint, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp, ok := s.released[shard]
	return cp, ok
}

// Emitted returns how many batches the engine accepted so far.
func (s *Source) Emitted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.emitted
}

// memBatch is a batch with the buffers its records point to.
type memBatch struct {
	engine.Batch
	fields []engine.Field
	digits []byte
}

var (
	keySeq  = []byte("seq")
	keyBody = []byte("body")
)

// RecycleBatch implements [engine.BatchRecycler].
func (s *Source) RecycleBatch(b *engine.Batch) {
	s.mu.Lock()
	if mb := s.owners[b]; mb != nil {
		s.free = append(s.free, mb)
	}
	s.mu.Unlock()
}

func (s *Source) batch(shard, b int) *engine.Batch {
	s.mu.Lock()
	var mb *memBatch
	if n := len(s.free); n > 0 {
		mb, s.free = s.free[n-1], s.free[:n-1]
	} else {
		mb = &memBatch{}
		s.owners[&mb.Batch] = mb
	}
	s.mu.Unlock()
	n := s.cfg.Records
	if cap(mb.Records) < n {
		mb.Records = make([]engine.Record, n)
		mb.fields = make([]engine.Field, 2*n)
	}
	mb.Records = mb.Records[:n]
	mb.digits = mb.digits[:0]
	cursor := strconv.Itoa(b)
	for i := range n {
		start := len(mb.digits)
		mb.digits = strconv.AppendInt(mb.digits, int64(b*n+i), 10)
		// The field is fixed up below: appending may move the buffer.
		mb.fields[2*i] = engine.Field{Key: keySeq, Value: mb.digits[start:len(mb.digits):len(mb.digits)]}
	}
	off := 0
	for i := range n {
		l := len(mb.fields[2*i].Value)
		f := mb.fields[2*i : 2*i+2 : 2*i+2]
		f[0].Value = mb.digits[off : off+l : off+l]
		f[1] = engine.Field{Key: keyBody, Value: s.body}
		off += l
		mb.Records[i] = engine.Record{
			Fields:   f,
			Time:     engine.Timestamp{Sec: int64(1_700_000_000 + b)},
			Identity: engine.Identity{Logstore: s.cfg.Logstore, Shard: shard, Cursor: cursor, Index: i},
		}
	}
	mb.Position = engine.Position{
		Logstore: s.cfg.Logstore, Shard: shard, Cursor: cursor, NextCursor: strconv.Itoa(b + 1),
		CursorTime: time.Unix(int64(1_700_000_000+b), 0),
	}
	mb.Size = n * (len(s.body) + 16)
	return &mb.Batch
}
