package faults

import (
	"fmt"
	"math"
	"net/http"
	"time"

	"golang.org/x/time/rate"

	"github.com/slspipe/slspipe/emulator/internal/apierr"
)

// Quotas are the service's throttling limits. A zero field means no limit.
// Each limit is a token bucket holding one second's worth, so a short burst
// up to the per-second figure passes.
type Quotas struct {
	// Per shard: reads (PullLogs, GetCursor) per second and bytes served
	// per second, answered with 403 ShardReadQuotaExceed.
	ShardReadQPS   float64 `json:"shardReadQPS,omitempty"`
	ShardReadBytes float64 `json:"shardReadBytesPerSec,omitempty"`
	// Per shard: writes per second and request bytes per second, answered
	// with 403 ShardWriteQuotaExceed.
	ShardWriteQPS   float64 `json:"shardWriteQPS,omitempty"`
	ShardWriteBytes float64 `json:"shardWriteBytesPerSec,omitempty"`
	// Per project: writes per second and inflow bytes per second, answered
	// with 403 WriteQuotaExceed; reads per second, answered with 403
	// ReadQuotaExceed.
	ProjectWriteQPS   float64 `json:"projectWriteQPS,omitempty"`
	ProjectWriteBytes float64 `json:"projectWriteBytesPerSec,omitempty"`
	ProjectReadQPS    float64 `json:"projectReadQPS,omitempty"`
}

func (q Quotas) enabled() bool { return q != Quotas{} }

// Validate reports whether every limit is a finite non-negative number.
func (q Quotas) Validate() error {
	for name, v := range map[string]float64{
		"shardReadQPS": q.ShardReadQPS, "shardReadBytesPerSec": q.ShardReadBytes,
		"shardWriteQPS": q.ShardWriteQPS, "shardWriteBytesPerSec": q.ShardWriteBytes,
		"projectWriteQPS": q.ProjectWriteQPS, "projectWriteBytesPerSec": q.ProjectWriteBytes,
		"projectReadQPS": q.ProjectReadQPS,
	} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("quota %s = %v: want a finite number ≥ 0", name, v)
		}
	}
	return nil
}

// SetQuotas replaces the quotas; buckets start full.
func (in *Injector) SetQuotas(q Quotas) error {
	if err := q.Validate(); err != nil {
		return err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.quotas = q
	in.shards = make(map[shardKey]*shardBuckets)
	in.project = make(map[string]*projectBuckets)
	in.updateActiveLocked()
	return nil
}

// Quotas returns the current quotas.
func (in *Injector) Quotas() Quotas {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.quotas
}

type shardKey struct {
	project, logstore string
	shard             int
}

// shardBuckets are one shard's token buckets; nil means unlimited.
type shardBuckets struct {
	readQPS, readBytes, writeQPS, writeBytes *rate.Limiter
}

// projectBuckets are one project's token buckets; nil means unlimited.
type projectBuckets struct {
	writeQPS, writeBytes, readQPS *rate.Limiter
}

// bucket returns a limiter refilling at perSec with one second of burst,
// or nil for no limit.
func bucket(perSec float64) *rate.Limiter {
	if perSec <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(perSec), int(math.Max(1, math.Ceil(perSec))))
}

// take removes n tokens if available. A request larger than the whole
// bucket takes all of it, so it passes only when the bucket is full.
func take(l *rate.Limiter, now time.Time, n int) bool {
	if l == nil {
		return true
	}
	return l.AllowN(now, min(max(n, 1), l.Burst()))
}

func (in *Injector) shardLocked(op Op) *shardBuckets {
	k := shardKey{op.Project, op.Logstore, op.Shard}
	b := in.shards[k]
	if b == nil {
		q := in.quotas
		b = &shardBuckets{
			readQPS: bucket(q.ShardReadQPS), readBytes: bucket(q.ShardReadBytes),
			writeQPS: bucket(q.ShardWriteQPS), writeBytes: bucket(q.ShardWriteBytes),
		}
		in.shards[k] = b
	}
	return b
}

func (in *Injector) projectLocked(project string) *projectBuckets {
	b := in.project[project]
	if b == nil {
		q := in.quotas
		b = &projectBuckets{
			writeQPS: bucket(q.ProjectWriteQPS), writeBytes: bucket(q.ProjectWriteBytes),
			readQPS: bucket(q.ProjectReadQPS),
		}
		in.project[project] = b
	}
	return b
}

// checkQuotasLocked charges op to its buckets. mu must be held.
func (in *Injector) checkQuotasLocked(op Op, now time.Time) *apierr.Error {
	if !in.quotas.enabled() {
		return nil
	}
	switch op.Kind {
	case Write:
		p := in.projectLocked(op.Project)
		if !take(p.writeQPS, now, 1) {
			return quotaError(CodeWriteQuotaExceed, "Project write quota exceed: qps")
		}
		if !take(p.writeBytes, now, op.Bytes) {
			return quotaError(CodeWriteQuotaExceed, "Project write quota exceed: inflow")
		}
		if op.Shard < 0 {
			return nil
		}
		s := in.shardLocked(op)
		if !take(s.writeQPS, now, 1) || !take(s.writeBytes, now, op.Bytes) {
			return quotaError(CodeShardWriteQuotaExceed, defaultMessage(CodeShardWriteQuotaExceed))
		}
	case Read:
		p := in.projectLocked(op.Project)
		if !take(p.readQPS, now, 1) {
			return quotaError(CodeReadQuotaExceed, defaultMessage(CodeReadQuotaExceed))
		}
		if op.Shard < 0 {
			return nil
		}
		s := in.shardLocked(op)
		// A shard that served more bytes than its budget (charged by
		// AfterRead) is refused until the bucket is positive again.
		if s.readBytes != nil && s.readBytes.TokensAt(now) < 1 {
			return quotaError(CodeShardReadQuotaExceed, defaultMessage(CodeShardReadQuotaExceed))
		}
		if !take(s.readQPS, now, 1) {
			return quotaError(CodeShardReadQuotaExceed, defaultMessage(CodeShardReadQuotaExceed))
		}
	}
	return nil
}

// chargeReadLocked charges n bytes served to the shard's read bucket,
// letting it go into debt. mu must be held.
func (in *Injector) chargeReadLocked(op Op, n int, now time.Time) {
	if in.quotas.ShardReadBytes <= 0 || op.Shard < 0 {
		return
	}
	l := in.shardLocked(op).readBytes
	// ReserveN lets the bucket go negative, so the debt is paid off over
	// time instead of the read being refused after it was served.
	l.ReserveN(now, min(n, l.Burst()))
}

func quotaError(code, msg string) *apierr.Error {
	return &apierr.Error{Status: http.StatusForbidden, Code: code, Message: msg}
}
