// Package sls is slspipe's Alibaba Cloud Log Service (SLS) source: it reads
// every shard of one or more logstores, follows splits and merges in
// per-key order, and optionally shares the shards between replicas through
// an SLS consumer group.
//
// Pulls bypass the SDK's generic protobuf decoding: the source fetches the
// compressed LogGroupList itself and decodes it with a zero-allocation
// scanner straight into engine records whose fields alias the pulled
// buffer, which it recycles once the engine is done with a batch. Metadata
// and consumer-group calls go through the official SDK.
package sls

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/connectors/sls/internal/slsapi"
	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/spl"
)

// Source reads SLS logstores; it implements [engine.Source] and
// [engine.BatchRecycler]. Create it with [NewSource].
//
// # Notes
//
//   - Standalone mode (the default) reads every shard in this process;
//     with consumer_group set, committed cursors are also written to the
//     group (see [Source.Committer]). Distributed mode (group_mode:
//     distributed) reads only the shards the consumer group assigns.
//   - A checkpoint from [engine.Host.OpenShard] always wins over the
//     configured start position. Children of a split or merge that appear
//     while running start at their beginning, after their parents when
//     ordered is set.
//   - Run returns nil when ctx ends, or when stop_time is set and every
//     shard reached it; it returns one error naming the logstore and the
//     endpoint for a fatal condition (unknown logstore, rejected
//     credentials, endpoint unreachable after the configured retries, or
//     after a few seconds when it has never answered).
type Source struct {
	cfg      config.SLSSource
	c        *client
	log      *slog.Logger
	m        *metrics
	pipeline string
	useZstd  bool
	commit   *groupCommitter // nil without a consumer group
	heads    *shardHeads     // the status's view of shard heads and owners
	// typicalBatch is the weight of the last batch any reader emitted: the
	// first reservation of a new reader.
	typicalBatch atomic.Int64
	// reached is set once the endpoint has answered a call.
	reached atomic.Bool
}

// Option configures a [Source].
type Option func(*options)

type options struct {
	logger   *slog.Logger
	reg      prometheus.Registerer
	hc       *http.Client
	pipeline string
	lookup   func(string) (string, bool)
}

// WithLogger sets the logger; slog.Default() otherwise.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithRegisterer registers the source's Prometheus metrics with r.
func WithRegisterer(r prometheus.Registerer) Option { return func(o *options) { o.reg = r } }

// WithHTTPClient replaces the HTTP client used for every SLS request (for
// tests; the default dials local endpoints directly).
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.hc = c } }

// WithPipelineName names the pipeline, for the user agent and log entries.
func WithPipelineName(name string) Option { return func(o *options) { o.pipeline = name } }

// WithLookupEnv replaces os.LookupEnv for the ALIBABA_CLOUD_* credential
// fallbacks.
func WithLookupEnv(f func(string) (string, bool)) Option { return func(o *options) { o.lookup = f } }

// NewSource returns a source for cfg, which should have passed config
// loading (defaults applied, logstores listed). It makes no network calls.
func NewSource(cfg config.SLSSource, opts ...Option) (*Source, error) {
	o := options{lookup: os.LookupEnv}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.Default()
	}
	if len(cfg.Logstores) == 0 && cfg.Logstore != "" {
		cfg.Logstores = []string{cfg.Logstore}
	}
	if len(cfg.Logstores) == 0 {
		return nil, errors.New("sls source: no logstore")
	}
	applyDefaults(&cfg)
	if cfg.GroupMode == "distributed" && cfg.ConsumerGroup == "" {
		return nil, errors.New("sls source: group_mode distributed needs consumer_group")
	}
	if cfg.StartPosition.Mode == config.PositionCheckpoint && cfg.ConsumerGroup == "" {
		return nil, errors.New("sls source: start_position consumer_from_checkpoint needs consumer_group")
	}
	if cfg.Query != "" {
		// Refuse a statement before the first pull; the config loader
		// reports the same problem at its place in the file.
		if _, err := spl.Parse(cfg.Query); err != nil {
			return nil, fmt.Errorf("sls source: query: %w", err)
		}
	}
	ua := "slspipe"
	if o.pipeline != "" {
		ua += "/" + o.pipeline
	}
	m, err := newMetrics(o.reg)
	if err != nil {
		return nil, fmt.Errorf("sls source: %w", err)
	}
	cm, err := slsapi.NewCredentialMetrics(o.reg)
	if err != nil {
		return nil, fmt.Errorf("sls source: %w", err)
	}
	c, err := newClient(cfg.SLSAuth, slsapi.CredentialOptions{Lookup: o.lookup, Metrics: cm, Logger: o.logger}, o.hc, ua)
	if err != nil {
		return nil, fmt.Errorf("sls source: %w", err)
	}
	s := &Source{
		cfg: cfg, c: c, m: m, pipeline: o.pipeline, useZstd: cfg.Compression == "zstd",
		log: o.logger.With("source", "sls", "project", cfg.Project),
	}
	if cfg.ConsumerGroup != "" {
		s.commit = &groupCommitter{src: s}
	}
	s.heads = newShardHeads(s)
	return s, nil
}

// applyDefaults fills what config loading normally sets, so that a
// hand-built configuration works too.
func applyDefaults(cfg *config.SLSSource) {
	if cfg.StartPosition.Mode == "" {
		cfg.StartPosition.Mode = config.PositionBegin
	}
	if cfg.DefaultPosition.Mode == "" {
		cfg.DefaultPosition.Mode = config.PositionBegin
	}
	if cfg.MaxPerFetch <= 0 {
		cfg.MaxPerFetch = 100
	}
	cfg.MaxPerFetch = min(cfg.MaxPerFetch, 1000)
	if cfg.ShardDiscoveryInterval <= 0 {
		cfg.ShardDiscoveryInterval = config.Duration(30 * time.Second)
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = config.Duration(20 * time.Second)
	}
	if cfg.HeartbeatTimeout <= cfg.HeartbeatInterval {
		cfg.HeartbeatTimeout = max(config.Duration(60*time.Second), 3*cfg.HeartbeatInterval)
	}
	if cfg.OnCursorExpired == "" {
		cfg.OnCursorExpired = "begin"
	}
	if cfg.GroupMode == "" {
		cfg.GroupMode = "standalone"
	}
	if cfg.Retry.BaseBackoff <= 0 {
		cfg.Retry.BaseBackoff = config.Duration(200 * time.Millisecond)
	}
	if cfg.Retry.MaxBackoff < cfg.Retry.BaseBackoff {
		cfg.Retry.MaxBackoff = max(cfg.Retry.BaseBackoff, config.Duration(5*time.Second))
	}
	if cfg.ConsumerName == "" {
		cfg.ConsumerName = config.DefaultConsumerName(nil)
	}
}

// Committer returns the consumer-group committer, or nil when no
// consumer_group is configured. Wire it into the engine's committers: after
// the local store in standalone mode (so that progress shows in the SLS
// console), alone in distributed mode (checkpoints live in the group).
func (s *Source) Committer() engine.Committer {
	if s.commit == nil {
		return nil
	}
	return s.commit
}

// RecycleBatch implements [engine.BatchRecycler].
func (s *Source) RecycleBatch(b *engine.Batch) { batches.recycle(b) }

// Run implements [engine.Source]: it reads every configured logstore until
// ctx ends, stop_time is reached on every shard, or a fatal error occurs.
func (s *Source) Run(ctx context.Context, host engine.Host) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer s.heads.start(ctx)()
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	for _, ls := range s.cfg.Logstores {
		wg.Go(func() {
			var err error
			if s.cfg.GroupMode == "distributed" {
				err = s.runGroup(ctx, host, ls)
			} else {
				err = s.runStandalone(ctx, host, ls)
			}
			if err != nil && ctx.Err() == nil {
				once.Do(func() { firstErr = err; cancel() })
			}
		})
	}
	wg.Wait()
	return firstErr
}

// where names a logstore for error messages.
func (s *Source) where(logstore string) string {
	return fmt.Sprintf("sls logstore %q (project %q, endpoint %s)", logstore, s.cfg.Project, s.c.Endpoint.Raw)
}
