package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/wasmhost"
)

// moduleCacheDir is where compiled WebAssembly is kept between starts:
// $SLSPIPE_CACHE_DIR, else the user cache directory.
func moduleCacheDir() (string, bool) {
	if d := os.Getenv("SLSPIPE_CACHE_DIR"); d != "" {
		return d, true
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", false
	}
	return filepath.Join(d, "slspipe", "wasm"), true
}

// moduleLoader opens the WebAssembly modules of one process, sharing one
// compilation cache and one counter metric.
type moduleLoader struct {
	logger   *slog.Logger
	registry prometheus.Registerer
	// clock, when set, backs the modules' clock_now (slspipe test pins it).
	clock func() time.Time

	once     sync.Once
	cache    *wasmhost.Cache
	counters *prometheus.CounterVec
}

func (l *moduleLoader) init() {
	if dir, ok := moduleCacheDir(); ok {
		if err := os.MkdirAll(dir, 0o755); err == nil {
			if c, err := wasmhost.NewCache(dir); err == nil {
				l.cache = c
			} else {
				l.logger.Warn("compiling modules without a cache", "dir", dir, "err", err)
			}
		}
	}
	l.counters = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "slspipe_module_counter_total",
		Help: "Counters a WebAssembly module adds to through its counter_add host function.",
	}, []string{"step", "name"})
	if l.registry != nil {
		l.registry.MustRegister(l.counters)
	}
}

// open loads step's module with the limits and grants its settings give.
func (l *moduleLoader) open(ctx context.Context, step config.Step) (*wasmhost.Module, error) {
	l.once.Do(l.init)
	instances := step.Instances
	if instances == 0 {
		instances = runtime.GOMAXPROCS(0) // one per engine worker
	}
	env := map[string]string{}
	for _, name := range step.Allow.Env {
		if v, ok := os.LookupEnv(name); ok {
			env[name] = v
		}
	}
	dirs := map[string]string{}
	for _, d := range step.Allow.Dirs {
		dirs[d] = d // the module sees a granted directory at its own path
	}
	counters := l.counters
	stepName := step.Name
	m, err := wasmhost.Open(ctx, step.Module, wasmhost.Options{
		Name:             step.Name,
		Config:           step.Config,
		Instances:        instances,
		MemoryLimitPages: uint32(step.MemoryLimit.Bytes() / 65536),
		Timeout:          step.BatchDeadline.D(),
		Cache:            l.cache,
		Logger:           l.logger.With("step", step.Name),
		OnCounter: func(name string, delta int64) {
			if delta > 0 {
				counters.WithLabelValues(stepName, name).Add(float64(delta))
			}
		},
		Env:   env,
		Dirs:  dirs,
		Clock: l.clock,
	})
	if err != nil {
		return nil, fmt.Errorf("step %s: %w", step.Name, err)
	}
	return m, nil
}

func (l *moduleLoader) close(ctx context.Context) error {
	if l.cache != nil {
		return l.cache.Close(ctx)
	}
	return nil
}

// checkModules is the validate check that loads every step's module: it
// proves the file is WebAssembly, speaks ABI v1, exports what the ABI needs
// and imports nothing slspipe does not provide, and that init accepts the
// step's config.
func checkModules(ctx context.Context, p *config.Pipeline) []config.Error {
	l := &moduleLoader{logger: slog.New(slog.DiscardHandler)}
	defer l.close(ctx)
	positions := modulePositions(p.File)
	var out []config.Error
	for i, step := range p.Steps {
		if step.Module == "" {
			continue
		}
		m, err := l.open(ctx, step)
		if err != nil {
			pos := positions[i]
			out = append(out, config.Error{File: p.File, Line: pos[0], Column: pos[1],
				Msg: fmt.Sprintf("steps[%d].module: %v", i, err)})
			continue
		}
		_ = m.Close(ctx)
	}
	return out
}

// modulePositions returns the line and column of each steps[i].module value
// in the pipeline file, for error messages; missing entries are zero.
func modulePositions(path string) map[int][2]int {
	out := map[int][2]int{}
	data, err := os.ReadFile(path)
	if err != nil {
		return out
	}
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return out
	}
	steps := mappingValue(doc.Content[0], "steps")
	if steps == nil || steps.Kind != yaml.SequenceNode {
		return out
	}
	for i, st := range steps.Content {
		if v := mappingValue(st, "module"); v != nil {
			out[i] = [2]int{v.Line, v.Column}
		}
	}
	return out
}

func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
