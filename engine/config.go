package engine

import (
	"fmt"
	"github.com/prometheus/client_golang/prometheus"
	"log/slog"
	"runtime"
	"time"
)

// ErrorPolicy says what happens to a record that a stage rejects.
type ErrorPolicy int

const (
	// OnErrorFail stops the pipeline without committing past the rejected
	// record. It is the default.
	OnErrorFail ErrorPolicy = iota
	// OnErrorSkip counts the record and drops it, which acknowledges it.
	OnErrorSkip
	// OnErrorDeadLetter sends the input record, the error, the stage name and
	// the source position to the dead-letter sink; the record is done when
	// that sink confirms it.
	OnErrorDeadLetter
)

// String returns the policy's configuration spelling.
func (p ErrorPolicy) String() string {
	switch p {
	case OnErrorFail:
		return "fail"
	case OnErrorSkip:
		return "skip"
	case OnErrorDeadLetter:
		return "dead_letter"
	}
	return fmt.Sprintf("ErrorPolicy(%d)", int(p))
}

// ParseErrorPolicy parses "fail", "skip" or "dead_letter".
func ParseErrorPolicy(s string) (ErrorPolicy, error) {
	switch s {
	case "fail", "":
		return OnErrorFail, nil
	case "skip":
		return OnErrorSkip, nil
	case "dead_letter":
		return OnErrorDeadLetter, nil
	}
	return 0, fmt.Errorf("unknown error policy %q (want fail, skip or dead_letter)", s)
}

// Default values of [Config].
const (
	DefaultMaxInflightBytes   = 64 << 20
	DefaultShardQueueDepth    = 8
	DefaultCheckpointInterval = 5 * time.Second
	DefaultShutdownTimeout    = 30 * time.Second
)

// Config holds a pipeline's settings. It is an immutable value: each With
// method returns a modified copy. Start from [NewConfig].
type Config struct {
	workers            int
	maxInflightBytes   int64
	shardQueueDepth    int
	errorPolicy        ErrorPolicy
	deadLetter         Sink
	committers         []Committer
	checkpointInterval time.Duration
	shutdownTimeout    time.Duration
	logger             *slog.Logger
	registry           *prometheus.Registry
}

// NewConfig returns the default configuration: GOMAXPROCS workers, a 64 MiB
// in-flight budget, 8 queued batches per shard, the fail policy, no
// committers, checkpoints every 5s and a 30s shutdown drain.
func NewConfig() Config {
	return Config{
		workers:            runtime.GOMAXPROCS(0),
		maxInflightBytes:   DefaultMaxInflightBytes,
		shardQueueDepth:    DefaultShardQueueDepth,
		checkpointInterval: DefaultCheckpointInterval,
		shutdownTimeout:    DefaultShutdownTimeout,
		logger:             slog.Default(),
	}
}

// WithWorkers sets how many shards are processed at once. Each worker owns
// one instance of every stage.
func (c Config) WithWorkers(n int) Config { c.workers = n; return c }

// WithMaxInflightBytes bounds the bytes of batches emitted and not yet done.
//
// # Notes
//
//   - Everything a batch holds counts: a source that implements the
//     reservation protocol ([MemoryReserver]) reserves a pull before making
//     it, and the stages' outputs ([Results.Buffer] and the output table)
//     are added once the stages ran. The Go heap's live part is then about
//     this budget plus idle buffers kept for reuse (at most about as much
//     again) plus the modules' linear memories.
//   - The engine does not set a process memory limit itself: only the
//     operator knows the modules' memory and the container's limit. Setting
//     GOMEMLIMIT to about twice this budget plus the modules' memory_limit
//     times the workers plus 64 MiB keeps the garbage collector's headroom
//     inside a container limit.
func (c Config) WithMaxInflightBytes(n int64) Config { c.maxInflightBytes = n; return c }

// WithShardQueueDepth bounds how many batches of one shard wait for a worker.
func (c Config) WithShardQueueDepth(n int) Config { c.shardQueueDepth = n; return c }

// WithErrorPolicy sets what happens to records that a stage rejects.
func (c Config) WithErrorPolicy(p ErrorPolicy) Config { c.errorPolicy = p; return c }

// WithDeadLetter sets the dead-letter sink used by [OnErrorDeadLetter].
func (c Config) WithDeadLetter(s Sink) Config { c.deadLetter = s; return c }

// WithCommitters sets where committed positions are loaded from and saved to.
func (c Config) WithCommitters(cs ...Committer) Config {
	c.committers = append([]Committer(nil), cs...)
	return c
}

// WithCheckpointInterval sets how often moved positions are saved.
func (c Config) WithCheckpointInterval(d time.Duration) Config { c.checkpointInterval = d; return c }

// WithShutdownTimeout bounds how long a cancelled pipeline drains in-flight
// batches before its final commit.
func (c Config) WithShutdownTimeout(d time.Duration) Config { c.shutdownTimeout = d; return c }

// WithRegistry makes the pipeline register its metrics on reg instead of a
// registry of its own, so that connectors built before the pipeline can
// register theirs on the same one; [Pipeline.Handler] serves reg.
func (c Config) WithRegistry(reg *prometheus.Registry) Config { c.registry = reg; return c }

// WithLogger sets the logger; the pipeline adds its name to every entry.
func (c Config) WithLogger(l *slog.Logger) Config { c.logger = l; return c }

func (c Config) validate() error {
	switch {
	case c.workers < 1:
		return fmt.Errorf("workers must be at least 1, got %d", c.workers)
	case c.maxInflightBytes < 1:
		return fmt.Errorf("max in-flight bytes must be positive, got %d", c.maxInflightBytes)
	case c.shardQueueDepth < 1:
		return fmt.Errorf("shard queue depth must be at least 1, got %d", c.shardQueueDepth)
	case c.checkpointInterval <= 0:
		return fmt.Errorf("checkpoint interval must be positive, got %s", c.checkpointInterval)
	case c.shutdownTimeout < 0:
		return fmt.Errorf("shutdown timeout must not be negative, got %s", c.shutdownTimeout)
	case c.errorPolicy == OnErrorDeadLetter && c.deadLetter == nil:
		return fmt.Errorf("error policy dead_letter needs a dead-letter sink")
	case c.errorPolicy < OnErrorFail || c.errorPolicy > OnErrorDeadLetter:
		return fmt.Errorf("unknown error policy %d", int(c.errorPolicy))
	}
	return nil
}
