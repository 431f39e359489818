// Package faults decides, request by request, whether the SLS emulator
// answers normally or misbehaves the way the real service does under load or
// failure: quota throttling (403 ShardReadQuotaExceed, ShardWriteQuotaExceed,
// WriteQuotaExceed, …), server errors (500 InternalServerError, 503
// ServerBusy), added latency and dropped connections.
//
// Everything is off by default. Quotas are token buckets per shard and per
// project; faults are rules added through the Go API (Add) or the admin HTTP
// handler (AdminHandler). A seed makes probabilistic faults reproducible.
// Counters record every injected fault so tests can await them.
package faults

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slspipe/slspipe/emulator/internal/apierr"
)

// Kind classifies an API call.
type Kind int

// Kinds of API calls.
const (
	// Any matches every kind in a Match; it is never an Op's kind.
	Any Kind = iota
	// Read is a data read: PullLogs, GetCursor, GetCursorTime.
	Read
	// Write is a data write: PutLogs, PostLogStoreLogs.
	Write
	// Meta is everything else: shards, logstores, consumer groups.
	Meta
)

var kindNames = [...]string{Any: "", Read: "read", Write: "write", Meta: "meta"}

// String returns "read", "write", "meta", or "" for Any.
func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return "unknown"
	}
	return kindNames[k]
}

// Op describes the request about to be served.
type Op struct {
	Kind     Kind
	Project  string
	Logstore string
	// Shard is the shard the request reads or writes, or -1 if none. Shard
	// quotas apply only when it is known.
	Shard int
	// Bytes is the size of the request body; write quotas count it.
	Bytes int
}

// Decision tells the server how to treat a request. The zero value means
// "serve normally".
type Decision struct {
	// Err, when set, is answered instead of serving the request.
	Err *apierr.Error
	// Delay is waited before answering (whether with Err or normally).
	Delay time.Duration
	// Drop means close the connection without any response.
	Drop bool
}

// Injector holds the quotas, the fault plan and the counters. All methods
// are safe for concurrent use.
type Injector struct {
	// active is false while there are neither quotas nor faults, so that
	// Before costs one atomic load in the common case.
	active atomic.Bool

	mu      sync.Mutex // guards everything below
	quotas  Quotas
	shards  map[shardKey]*shardBuckets
	project map[string]*projectBuckets
	faults  []*entry
	nextID  int
	seed    uint64
	rng     *rand.Rand
	stats   Stats
	changed chan struct{}    // closed and replaced whenever stats change
	now     func() time.Time // the quota clock; replaced in tests
}

// New returns an Injector with no quotas and no faults.
func New() *Injector {
	in := &Injector{changed: make(chan struct{}), now: time.Now}
	in.resetLocked()
	in.setSeedLocked(uint64(time.Now().UnixNano()))
	return in
}

// Before decides how to treat op. Faults are evaluated in the order they
// were added; then, if none answered with an error or a drop, the quotas.
func (in *Injector) Before(op Op) Decision {
	if !in.active.Load() {
		return Decision{}
	}
	in.mu.Lock()
	defer in.mu.Unlock()

	var d Decision
	kept := in.faults[:0]
	for _, e := range in.faults {
		if d.Err == nil && !d.Drop && e.Match.matches(op) && in.fires(e) {
			e.hits++
			if e.Count > 0 && e.hits >= e.Count {
				in.stats.Exhausted++
				in.record(e.apply(&d, op))
				continue // used up: drop from the plan
			}
			in.record(e.apply(&d, op))
		}
		kept = append(kept, e)
	}
	clear(in.faults[len(kept):])
	in.faults = kept

	if d.Err == nil && !d.Drop {
		if err := in.checkQuotasLocked(op, in.now()); err != nil {
			d.Err = err
			in.stats.QuotaRejections++
			in.countCode(err.Code)
			in.notifyLocked()
		}
	}
	in.updateActiveLocked()
	return d
}

// AfterRead charges n bytes served by a read against the shard's read
// byte quota. A shard over its budget is refused until the bucket refills.
func (in *Injector) AfterRead(op Op, n int) {
	if !in.active.Load() || n <= 0 {
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.chargeReadLocked(op, n, in.now())
}

// fires draws the fault's probability. mu must be held.
func (in *Injector) fires(e *entry) bool {
	if e.Probability <= 0 || e.Probability >= 1 {
		return true
	}
	return in.rng.Float64() < e.Probability
}

// record counts what one fault did. mu must be held.
func (in *Injector) record(effect effect) {
	in.stats.Injected++
	if effect.delay {
		in.stats.Delays++
	}
	if effect.drop {
		in.stats.Drops++
	}
	if effect.code != "" {
		in.stats.Errors++
		in.countCode(effect.code)
	}
	in.notifyLocked()
}

func (in *Injector) countCode(code string) {
	if in.stats.ByCode == nil {
		in.stats.ByCode = make(map[string]int64)
	}
	in.stats.ByCode[code]++
}

// notifyLocked wakes every WaitFor. mu must be held.
func (in *Injector) notifyLocked() {
	close(in.changed)
	in.changed = make(chan struct{})
}

// updateActiveLocked keeps the fast-path flag in step. mu must be held.
func (in *Injector) updateActiveLocked() {
	in.active.Store(len(in.faults) > 0 || in.quotas.enabled())
}

// Stats counts what the Injector has done since New or the last Reset.
type Stats struct {
	// Injected counts faults applied to requests (errors, delays, drops);
	// one request may receive several.
	Injected int64 `json:"injected"`
	// Errors, Delays and Drops split Injected by effect.
	Errors int64 `json:"errors"`
	Delays int64 `json:"delays"`
	Drops  int64 `json:"drops"`
	// QuotaRejections counts requests refused by a quota.
	QuotaRejections int64 `json:"quotaRejections"`
	// Exhausted counts faults removed after reaching their Count.
	Exhausted int64 `json:"exhausted"`
	// ByCode counts error answers (faults and quotas) by errorCode.
	ByCode map[string]int64 `json:"byCode,omitempty"`
}

// Stats returns a copy of the counters.
func (in *Injector) Stats() Stats {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.statsLocked()
}

func (in *Injector) statsLocked() Stats {
	s := in.stats
	if in.stats.ByCode != nil {
		s.ByCode = make(map[string]int64, len(in.stats.ByCode))
		for k, v := range in.stats.ByCode {
			s.ByCode[k] = v
		}
	}
	return s
}

// WaitFor blocks until cond holds for the counters or ctx is done, and
// returns the counters it last saw. Tests use it to await "N faults
// injected" without sleeping.
func (in *Injector) WaitFor(ctx context.Context, cond func(Stats) bool) (Stats, error) {
	for {
		in.mu.Lock()
		s := in.statsLocked()
		changed := in.changed
		in.mu.Unlock()
		if cond(s) {
			return s, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return s, ctx.Err()
		}
	}
}

// Reset removes every fault and quota and zeroes the counters. The seed is
// kept.
func (in *Injector) Reset() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.resetLocked()
	in.notifyLocked()
}

func (in *Injector) resetLocked() {
	in.quotas = Quotas{}
	in.shards = make(map[shardKey]*shardBuckets)
	in.project = make(map[string]*projectBuckets)
	clear(in.faults)
	in.faults = nil
	in.stats = Stats{}
	in.updateActiveLocked()
}

// SetSeed makes probabilistic faults reproducible: the same seed and the
// same sequence of requests give the same decisions.
func (in *Injector) SetSeed(seed uint64) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.setSeedLocked(seed)
}

func (in *Injector) setSeedLocked(seed uint64) {
	in.seed = seed
	in.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}
