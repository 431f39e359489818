package wasmhost

import (
	"log/slog"
	"time"
)

// Defaults applied by Open to zero-valued Options fields.
const (
	DefaultInstances        = 1
	DefaultMemoryLimitPages = 1024 // 64 MiB
	DefaultTimeout          = 5 * time.Second
	DefaultMaxOutputBytes   = 256 << 20
	DefaultMaxCallRecords   = 256
)

// Options configure one module. The zero value is usable: one instance, 64 MiB of memory,
// a 5 s per-batch deadline, no WASI grants, slog.Default for logs.
type Options struct {
	// Name identifies the module in logs and errors; defaults to the file's base name.
	Name string
	// Config is passed to the guest's slspipe_init, in key order.
	Config map[string]string
	// Instances is the fixed pool size: how many batches may run concurrently.
	Instances int
	// MemoryLimitPages caps each instance's linear memory, in 64 KiB pages.
	MemoryLimitPages uint32
	// Timeout is the per-batch deadline. Enforcing it instruments the module with an
	// interrupt check in every loop (a load and a branch per iteration, docs/RATIONALE.md);
	// a negative value disables it for trusted modules.
	Timeout time.Duration
	// MaxOutputBytes caps the bytes one guest call's output may reference.
	MaxOutputBytes uint64
	// MaxCallRecords splits larger batches into several guest calls of at most this many
	// records, which keeps each call's data in the CPU cache.
	MaxCallRecords int
	// Cache, when set, persists compiled code across processes.
	Cache *Cache
	// Logger receives the guest's log calls; each carries the attribute module=Name.
	Logger *slog.Logger
	// OnCounter receives the guest's counter_add calls; it must be safe for concurrent use.
	// Nil discards them.
	OnCounter func(name string, delta int64)
	// Clock backs the guest's clock_now; nil means time.Now. Tests pin it.
	Clock func() time.Time
	// Env lists the environment variables granted to a WASI guest.
	Env map[string]string
	// Dirs maps guest paths to host directories mounted read-only for a WASI guest.
	Dirs map[string]string
}

func (o Options) withDefaults(path string) Options {
	if o.Name == "" {
		o.Name = baseName(path)
	}
	if o.Instances <= 0 {
		o.Instances = DefaultInstances
	}
	if o.MemoryLimitPages == 0 {
		o.MemoryLimitPages = DefaultMemoryLimitPages
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxCallRecords <= 0 {
		o.MaxCallRecords = DefaultMaxCallRecords
	}
	if o.MaxOutputBytes == 0 {
		o.MaxOutputBytes = DefaultMaxOutputBytes
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	return o
}

func baseName(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '/' || path[i] == '\\' {
			return path[i+1:]
		}
	}
	return path
}
