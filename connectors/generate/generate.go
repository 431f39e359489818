// Package generate provides a source of synthetic nginx access-log records,
// for demos, benchmarks and tests. Its data is deterministic: record k of
// shard s is the same for the same seed in every run, so a replay after a
// restart yields the same records and the same ids.
package generate

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/slspipe/slspipe/engine"
)

// Config describes what a generator produces.
type Config struct {
	// Logstore names the generated logstore; "generated" when empty.
	Logstore string
	// Shards is the number of shards; 1 when zero.
	Shards int
	// Count bounds the records generated over all shards; 0 means no bound.
	Count int64
	// Rate is the records per second over all shards; 0 means as fast as
	// the pipeline takes them.
	Rate float64
	// BatchSize is the number of records per batch; 100 when zero.
	BatchSize int
	// Seed selects the data.
	Seed uint64
	// Template is TemplateNginx (the default) or TemplateRandom.
	Template string
	// Fields and RecordBytes shape TemplateRandom records: that many fields
	// ("f0", "f1", …) whose values add up to about RecordBytes bytes.
	// Defaults: 10 fields, 200 bytes. TemplateNginx ignores them.
	Fields      int
	RecordBytes int
	// Start is the event time of each shard's first record; records are
	// spaced by the per-shard rate (1ms apart without a rate). The default
	// is 2025-01-01T00:00:00Z, which keeps the data deterministic.
	Start time.Time
}

// Templates for generated records.
const (
	// TemplateNginx generates nginx access-log records with ten fields.
	TemplateNginx = "nginx"
	// TemplateRandom generates records of random alphanumeric fields.
	TemplateRandom = "random"
)

// Source generates records; it implements engine.Source and
// engine.BatchRecycler.
type Source struct {
	cfg      Config
	interval time.Duration // event-time and pacing gap between records of a shard

	mu     sync.Mutex // guards owners and free
	owners map[*engine.Batch]*genBatch
	free   []*genBatch // recycled batches; unlike a sync.Pool, kept across GCs
}

// New validates cfg and returns a generator.
func New(cfg Config) (*Source, error) {
	if cfg.Logstore == "" {
		cfg.Logstore = "generated"
	}
	if cfg.Shards == 0 {
		cfg.Shards = 1
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 100
	}
	if cfg.Template == "" {
		cfg.Template = TemplateNginx
	}
	if cfg.Fields == 0 {
		cfg.Fields = 10
	}
	if cfg.RecordBytes == 0 {
		cfg.RecordBytes = 200
	}
	if cfg.Start.IsZero() {
		cfg.Start = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	switch {
	case cfg.Shards < 0:
		return nil, fmt.Errorf("generate: shards must be positive, got %d", cfg.Shards)
	case cfg.BatchSize < 0:
		return nil, fmt.Errorf("generate: batch size must be positive, got %d", cfg.BatchSize)
	case cfg.Count < 0:
		return nil, fmt.Errorf("generate: count must not be negative, got %d", cfg.Count)
	case cfg.Rate < 0:
		return nil, fmt.Errorf("generate: rate must not be negative, got %g", cfg.Rate)
	case cfg.Template != TemplateNginx && cfg.Template != TemplateRandom:
		return nil, fmt.Errorf("generate: unknown template %q (want nginx or random)", cfg.Template)
	case cfg.Fields < 1 || cfg.RecordBytes < 1:
		return nil, fmt.Errorf("generate: fields and record bytes must be positive, got %d and %d", cfg.Fields, cfg.RecordBytes)
	}
	interval := time.Millisecond
	if cfg.Rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(cfg.Shards) / cfg.Rate)
	}
	return &Source{cfg: cfg, interval: interval, owners: map[*engine.Batch]*genBatch{}}, nil
}

// Cursor returns the cursor of a shard's record offset, in the SLS format
// (base64 of a decimal integer).
func Cursor(offset int64) string {
	return base64.StdEncoding.EncodeToString(strconv.AppendInt(nil, offset, 10))
}

// ParseCursor returns the record offset a cursor stands for.
func ParseCursor(c string) (int64, error) {
	raw, err := base64.StdEncoding.DecodeString(c)
	if err != nil {
		return 0, fmt.Errorf("cursor %q: %w", c, err)
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("cursor %q: not a record offset", c)
	}
	return n, nil
}

// shardCount returns how many records shard s generates; -1 means no bound.
func (s *Source) shardCount(shard int) int64 {
	if s.cfg.Count == 0 {
		return -1
	}
	n := s.cfg.Count / int64(s.cfg.Shards)
	if int64(shard) < s.cfg.Count%int64(s.cfg.Shards) {
		n++
	}
	return n
}

// Run implements engine.Source: one goroutine per shard emits batches from
// the resume position until the shard's share of Count is generated or ctx
// ends.
func (s *Source) Run(ctx context.Context, host engine.Host) error {
	var wg sync.WaitGroup
	errs := make([]error, s.cfg.Shards)
	for sh := range s.cfg.Shards {
		wg.Go(func() { errs[sh] = s.runShard(ctx, host, sh) })
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return errors.Join(errs...)
}

func (s *Source) runShard(ctx context.Context, host engine.Host, shard int) error {
	key := engine.ShardKey{Logstore: s.cfg.Logstore, Shard: shard}
	res, err := host.OpenShard(ctx, key)
	if err != nil {
		return fmt.Errorf("generate: open shard %d: %w", shard, err)
	}
	var offset int64
	if res.Found {
		if offset, err = ParseCursor(res.Cursor); err != nil {
			return fmt.Errorf("generate: shard %d: %w", shard, err)
		}
	}
	limit := s.shardCount(shard)
	first, began := offset, time.Now()
	var timer *time.Timer
	for limit < 0 || offset < limit {
		n := int64(s.cfg.BatchSize)
		if limit >= 0 && offset+n > limit {
			n = limit - offset
		}
		if s.cfg.Rate > 0 {
			// Pace on the batch's last record, so the rate holds on average.
			due := began.Add(time.Duration(offset+n-first) * s.interval)
			if wait := time.Until(due); wait > 0 {
				if timer == nil {
					timer = time.NewTimer(wait)
					defer timer.Stop()
				} else {
					timer.Reset(wait)
				}
				select {
				case <-timer.C:
				case <-ctx.Done():
					return nil
				}
			}
		}
		if err := host.Emit(ctx, s.batch(shard, offset, int(n))); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("generate: emit shard %d: %w", shard, err)
		}
		offset += n
	}
	host.FinishShard(key)
	return nil
}
