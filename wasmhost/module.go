package wasmhost

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/slspipe/slspipe/wasmhost/internal/abi"
	"github.com/slspipe/slspipe/wasmhost/internal/interrupt"
)

const wasiModule = wasi_snapshot_preview1.ModuleName

// Module is a compiled guest module with a fixed pool of instances. It is safe for
// concurrent use; Process blocks while every instance is busy.
type Module struct {
	name     string
	opts     Options
	rt       wazero.Runtime
	compiled wazero.CompiledModule
	hasInit  bool
	hasError bool
	hasAbort bool // imports env.abort, AssemblyScript's default abort
	// interruptible: the module was instrumented with an interrupt flag, so instances
	// get a watchdog instead of wazero's context-closing.
	interruptible bool
	config        []Field

	pool pool
}

// Open reads, validates and compiles the module at path, then creates and initialises
// opts.Instances instances, so that configuration errors surface here rather than on the
// first batch. Every failure is a *ModuleError.
func Open(ctx context.Context, path string, opts Options) (*Module, error) {
	opts = opts.withDefaults(path)
	wasm, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("open wasm module %q: %w", opts.Name, err)
	}
	return load(ctx, wasm, opts)
}

func load(ctx context.Context, wasm []byte, opts Options) (*Module, error) {
	if len(wasm) < 8 || !bytes.Equal(wasm[:4], []byte("\x00asm")) {
		return nil, moduleErr(opts.Name, ErrNotWasm, "the file does not start with the WebAssembly magic bytes")
	}
	// The deadline is enforced by an interrupt flag the module is instrumented to test in
	// every loop (see watchdog). A module the instrumentation cannot read, or whose
	// rewrite does not compile, runs as it is with wazero's own mechanism, which leaves the
	// guest for the host at every loop iteration. So does every module where wazero has
	// no compiler: its interpreter reads the flag without synchronisation.
	start := time.Now()
	reason := ""
	if opts.Timeout > 0 && (runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64") {
		inst, err := interrupt.Instrument(wasm)
		if err == nil {
			m, lerr := loadAs(ctx, inst, opts, true, start)
			if lerr == nil || !errors.Is(lerr, ErrNotWasm) {
				return m, lerr
			}
			err = fmt.Errorf("the rewritten module does not compile: %w", lerr)
		}
		reason = err.Error()
	}
	m, err := loadAs(ctx, wasm, opts, false, start)
	if err == nil && reason != "" {
		opts.Logger.LogAttrs(ctx, slog.LevelWarn, "wasm module not instrumented for the deadline: its loops are checked by the runtime, which is slower",
			slog.String("module", m.name), slog.String("reason", reason))
	}
	return m, err
}

// loadAs compiles wasm in a runtime of its own and creates the instances; interruptible
// says wasm carries the interrupt flag.
func loadAs(ctx context.Context, wasm []byte, opts Options, interruptible bool, start time.Time) (*Module, error) {
	m := &Module{name: opts.Name, opts: opts, interruptible: interruptible}
	// The memory limit is enforced by cappedAllocator, not WithMemoryLimitPages, so that
	// refused growth can be reported as such.
	cfg := wazero.NewRuntimeConfig().
		WithCloseOnContextDone(opts.Timeout > 0 && !interruptible)
	if opts.Cache != nil {
		cfg = cfg.WithCompilationCache(opts.Cache.cc)
	}
	m.rt = wazero.NewRuntimeWithConfig(ctx, cfg)
	if err := m.setup(ctx, wasm, start); err != nil {
		_ = m.rt.Close(ctx)
		return nil, err
	}
	return m, nil
}

// setup compiles wasm (start is when its preparation began, for the compile log line),
// checks it and creates the instances.
func (m *Module) setup(ctx context.Context, wasm []byte, start time.Time) error {
	compiled, err := m.rt.CompileModule(ctx, wasm)
	if err != nil {
		return moduleErr(m.name, ErrNotWasm, "compile: %v", err)
	}
	m.compiled = compiled
	m.opts.Logger.LogAttrs(ctx, slog.LevelDebug, "wasm module compiled", slog.String("module", m.name),
		slog.Int("bytes", len(wasm)), slog.Duration("took", time.Since(start)), slog.Bool("cache", m.opts.Cache != nil))
	needsWASI, err := m.checkImports()
	if err != nil {
		return err
	}
	if err := m.checkExports(); err != nil {
		return err
	}
	if err := m.instantiateHostModule(ctx, m.rt); err != nil {
		return fmt.Errorf("wasm module %q: register host functions: %w", m.name, err)
	}
	if m.hasAbort {
		if err := instantiateAbort(ctx, m.rt); err != nil {
			return fmt.Errorf("wasm module %q: register %s.%s: %w", m.name, abortModule, abortName, err)
		}
	}
	if needsWASI {
		if _, err := wasi_snapshot_preview1.Instantiate(ctx, m.rt); err != nil {
			return fmt.Errorf("wasm module %q: register WASI: %w", m.name, err)
		}
	}
	for k, v := range m.opts.Config {
		m.config = append(m.config, Field{Key: []byte(k), Value: []byte(v)})
	}
	slices.SortFunc(m.config, func(a, b Field) int { return bytes.Compare(a.Key, b.Key) })
	if len(m.config) > 0 && !m.hasInit {
		return moduleErr(m.name, ErrInit, "config given but the module does not export %s", abi.ExportInit)
	}

	m.pool.init(m.opts.Instances)
	for i := 0; i < m.opts.Instances; i++ {
		in, err := m.newInstance(ctx)
		if err != nil {
			return err
		}
		m.pool.release(&slot{inst: in})
	}
	return nil
}

// checkImports rejects imports the host does not provide, before instantiation, so the
// error names the offending import instead of a generic link failure.
func (m *Module) checkImports() (needsWASI bool, err error) {
	for _, def := range m.compiled.ImportedFunctions() {
		mod, name, _ := def.Import()
		switch mod {
		case abi.ImportModule:
			want, ok := hostImports[name]
			if !ok {
				return false, moduleErr(m.name, ErrUnknownImport, "%s.%s: the host provides %s", mod, name, providedImports())
			}
			if !sameSig(def, want.params, want.results) {
				return false, moduleErr(m.name, ErrUnknownImport, "%s.%s has signature %s, want %s",
					mod, name, sigString(def.ParamTypes(), def.ResultTypes()), sigString(want.params, want.results))
			}
		case wasiModule:
			needsWASI = true
		case abortModule:
			if name != abortName || !sameSig(def, abortParams, nil) {
				return false, moduleErr(m.name, ErrUnknownImport, "%s.%s: the host provides %s", mod, name, providedImports())
			}
			m.hasAbort = true
		default:
			return false, moduleErr(m.name, ErrUnknownImport, "%s.%s: the host provides %s", mod, name, providedImports())
		}
	}
	for _, def := range m.compiled.ImportedMemories() {
		mod, name, _ := def.Import()
		return false, moduleErr(m.name, ErrUnknownImport, "memory %s.%s: the module must define and export its own memory", mod, name)
	}
	return needsWASI, nil
}

func providedImports() string {
	names := make([]string, 0, len(hostImports))
	for n := range hostImports {
		names = append(names, abi.ImportModule+"."+n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ") + ", " + abortModule + "." + abortName + " (AssemblyScript's abort) and " + wasiModule
}

func (m *Module) checkExports() error {
	fns := m.compiled.ExportedFunctions()
	if _, ok := fns[abi.ExportVersion]; !ok {
		for name := range fns {
			if v, ok := strings.CutPrefix(name, abi.VersionPrefix); ok {
				return moduleErr(m.name, ErrABIVersion, "the module targets ABI v%s, this host speaks v1", v)
			}
		}
		return moduleErr(m.name, ErrMissingExport, "%s (is this an slspipe module?)", abi.ExportVersion)
	}
	required := []struct {
		name            string
		params, results []api.ValueType
		optional        bool
		present         *bool
	}{
		{name: abi.ExportArena, params: []api.ValueType{i32}, results: []api.ValueType{i32}},
		{name: abi.ExportProcess, params: []api.ValueType{i32, i32}, results: []api.ValueType{i64}},
		{name: abi.ExportInit, params: []api.ValueType{i32, i32}, results: []api.ValueType{i32}, optional: true, present: &m.hasInit},
		{name: abi.ExportLastError, results: []api.ValueType{i64}, optional: true, present: &m.hasError},
	}
	for _, r := range required {
		def, ok := fns[r.name]
		if !ok {
			if r.optional {
				continue
			}
			return moduleErr(m.name, ErrMissingExport, "function %s", r.name)
		}
		if !sameSig(def, r.params, r.results) {
			return moduleErr(m.name, ErrMissingExport, "%s has signature %s, want %s",
				r.name, sigString(def.ParamTypes(), def.ResultTypes()), sigString(r.params, r.results))
		}
		if r.present != nil {
			*r.present = true
		}
	}
	mem, ok := m.compiled.ExportedMemories()[abi.ExportMemory]
	if !ok {
		return moduleErr(m.name, ErrMissingExport, "memory %q", abi.ExportMemory)
	}
	if mem.Min() > m.opts.MemoryLimitPages {
		return moduleErr(m.name, ErrMemoryLimit, "the module needs %d pages at start, the limit is %d", mem.Min(), m.opts.MemoryLimitPages)
	}
	return nil
}

func sameSig(def api.FunctionDefinition, params, results []api.ValueType) bool {
	return slices.Equal(def.ParamTypes(), params) && slices.Equal(def.ResultTypes(), results)
}

func sigString(params, results []api.ValueType) string {
	name := func(ts []api.ValueType) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = api.ValueTypeName(t)
		}
		return "(" + strings.Join(s, ",") + ")"
	}
	return name(params) + "->" + name(results)
}

// Name returns the module's name as used in logs and errors.
func (m *Module) Name() string { return m.name }

// Close waits for in-flight batches to finish (or ctx to end), then releases every
// instance and the compiled code. Process calls made after Close return ErrClosed.
func (m *Module) Close(ctx context.Context) error {
	if !m.pool.shut() {
		return nil
	}
	err := m.pool.drain(ctx)
	if cerr := m.rt.Close(ctx); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("close wasm module %q: %w", m.name, err)
	}
	return nil
}
