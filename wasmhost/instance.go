package wasmhost

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/slspipe/slspipe/internal/tailbuf"
	"github.com/slspipe/slspipe/wasmhost/internal/abi"
	"github.com/slspipe/slspipe/wasmhost/internal/interrupt"
)

// instance is one instantiated copy of a module with its exports resolved once, so a
// batch costs no name lookups. Owned by whoever holds its slot.
type instance struct {
	mod      api.Module
	mem      api.Memory
	arena    api.Function
	process  api.Function
	init     api.Function
	lastErr  api.Function
	stack    [2]uint64 // reused parameter/result stack for CallWithStack
	arenaPtr uint32
	arenaCap uint32
	stderr   *tailbuf.Buffer // the guest stderr tail, attached to trap errors: Go and Rust guests print panics there
	memory   *cappedAllocator
	plan     inputPlan
	watch    *watchdog // nil without a deadline or for a module that is not instrumented
	disarm   func()    // in.watch.disarm, made once so that a call allocates nothing
	// interrupted: the watchdog stopped the guest during the call that just failed.
	interrupted bool
	// broken: a call trapped although the caller went on (slspipe_last_error); the
	// instance must not be used again.
	broken bool
}

func (m *Module) newInstance(ctx context.Context) (*instance, error) {
	stderr := tailbuf.New(2048)
	// An instrumented module's _initialize is called below, under the watchdog; the
	// others' by wazero, which interrupts it when ctx ends.
	starts := []string{startInitialize}
	if m.interruptible {
		starts = nil
	}
	cfg := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions(starts...).
		WithStderr(stderr).
		WithSysWalltime().
		WithSysNanotime().
		WithRandSource(rand.Reader)
	for k, v := range m.opts.Env {
		cfg = cfg.WithEnv(k, v)
	}
	if len(m.opts.Dirs) > 0 {
		fs := wazero.NewFSConfig()
		for guest, host := range m.opts.Dirs {
			fs = fs.WithReadOnlyDirMount(host, guest)
		}
		cfg = cfg.WithFSConfig(fs)
	}
	alloc := &cappedAllocator{limit: uint64(m.opts.MemoryLimitPages) * 65536}
	mod, err := m.rt.InstantiateModule(alloc.context(ctx), m.compiled, cfg)
	if err != nil {
		if ctx.Err() == nil && isLinkError(err) {
			return nil, moduleErr(m.name, ErrUnknownImport, "%v", err)
		}
		return nil, m.classify(ctx, nil, stderr, fmt.Errorf("instantiate: %w", err))
	}
	in := &instance{
		mod:     mod,
		mem:     mod.Memory(),
		arena:   mod.ExportedFunction(abi.ExportArena),
		process: mod.ExportedFunction(abi.ExportProcess),
		init:    mod.ExportedFunction(abi.ExportInit),
		lastErr: mod.ExportedFunction(abi.ExportLastError),
		stderr:  stderr,
		memory:  alloc,
	}
	if m.interruptible {
		flag, err := interrupt.Flag(mod)
		if err != nil {
			_ = mod.Close(ctx)
			return nil, fmt.Errorf("wasm module %q: %w", m.name, err)
		}
		in.watch = newWatchdog(flag)
		in.disarm = func() { in.watch.disarm() }
		if err := in.initialize(ctx, m.opts.Timeout); err != nil {
			in.interrupted = in.watch.disarm()
			cerr := m.classify(ctx, in, stderr, fmt.Errorf("%s: %w", startInitialize, err))
			in.close(ctx)
			return nil, cerr
		}
	}
	if err := m.initInstance(ctx, in); err != nil {
		in.close(ctx)
		return nil, err
	}
	return in, nil
}

// startInitialize is the reactor start function wasi-libc and Go export.
const startInitialize = "_initialize"

// initialize calls the module's _initialize, if it exports one, under the watchdog.
func (in *instance) initialize(ctx context.Context, timeout time.Duration) error {
	fn := in.mod.ExportedFunction(startInitialize)
	if fn == nil {
		return nil
	}
	in.watch.arm(ctx, timeout)
	err := fn.CallWithStack(ctx, in.stack[:])
	if err == nil {
		in.watch.disarm()
	}
	return err
}

func isLinkError(err error) bool {
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "is not exported in module") || strings.Contains(msg, "not instantiated")
}

func (m *Module) initInstance(ctx context.Context, in *instance) error {
	if in.init == nil {
		return nil
	}
	// slspipe_init has the batch deadline too: under the watchdog, or through the
	// context wazero watches when the module is not instrumented.
	callCtx, done := m.deadline(ctx, in)
	defer done()
	size := configSize(m.config)
	ptr, err := in.ensureArena(callCtx, uint32(size))
	if err != nil {
		in.interrupted = in.watch.disarm()
		return m.classify(ctx, in, in.stderr, fmt.Errorf("%s: %w", abi.ExportArena, err))
	}
	view, ok := in.mem.Read(ptr, uint32(size))
	if !ok {
		return moduleErr(m.name, ErrBadOutput, "%s returned %d, too close to the end of memory for %d bytes", abi.ExportArena, ptr, size)
	}
	encodeConfig(view, ptr, m.config)
	in.stack[0], in.stack[1] = uint64(ptr), uint64(size)
	if err := in.init.CallWithStack(callCtx, in.stack[:]); err != nil {
		in.interrupted = in.watch.disarm()
		return m.classify(ctx, in, in.stderr, fmt.Errorf("%s: %w", abi.ExportInit, err))
	}
	if st := int32(uint32(in.stack[0])); st != 0 {
		return moduleErr(m.name, ErrInit, "status %d: %s", st, in.lastError(callCtx))
	}
	return nil
}

// ensureArena returns a guest buffer of at least n bytes. The guest's pointer stays valid
// until the next slspipe_arena call, so it is asked only when the batch outgrows it.
func (in *instance) ensureArena(ctx context.Context, n uint32) (uint32, error) {
	if n <= in.arenaCap && in.arenaPtr != 0 {
		return in.arenaPtr, nil
	}
	in.stack[0] = uint64(n)
	if err := in.arena.CallWithStack(ctx, in.stack[:]); err != nil {
		return 0, err
	}
	ptr := uint32(in.stack[0])
	if ptr == 0 {
		return 0, fmt.Errorf("guest could not allocate %d bytes", n)
	}
	in.arenaPtr, in.arenaCap = ptr, n
	return ptr, nil
}

// lastError fetches the guest's error message for a failed init or process, if it has one.
func (in *instance) lastError(ctx context.Context) string {
	if in.lastErr == nil {
		return "(no message: the module does not export " + abi.ExportLastError + ")"
	}
	if err := in.lastErr.CallWithStack(ctx, in.stack[:]); err != nil {
		in.broken = true // it trapped: the instance's state is undefined
		return "(" + abi.ExportLastError + " failed: " + err.Error() + ")"
	}
	packed := in.stack[0]
	msg, ok := in.mem.Read(uint32(packed>>32), min(uint32(packed), maxLogBytes))
	if !ok {
		return "(" + abi.ExportLastError + " returned a range outside memory)"
	}
	return string(msg)
}

// classify turns a failed guest call into a *ModuleError of the right kind, or into the
// caller's context error when the caller gave up.
func (m *Module) classify(ctx context.Context, in *instance, stderr *tailbuf.Buffer, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("wasm module %q: %w", m.name, ctxErr)
	}
	detail := err.Error()
	if tail := stderr.String(); tail != "" {
		detail += "\nguest stderr:\n" + tail
	}
	var exit *sys.ExitError
	if (in != nil && in.interrupted) || errors.As(err, &exit) && exit.ExitCode() == sys.ExitCodeDeadlineExceeded {
		return &ModuleError{Module: m.name, Kind: ErrDeadline, Detail: fmt.Sprintf("no result within %v: %s", m.opts.Timeout, detail)}
	}
	if in != nil && in.memory.refused {
		return &ModuleError{Module: m.name, Kind: ErrMemoryLimit, Detail: fmt.Sprintf("limit %d pages: %s", m.opts.MemoryLimitPages, detail)}
	}
	return &ModuleError{Module: m.name, Kind: ErrTrap, Detail: detail}
}

// deadline starts the per-call deadline for guest calls on in: under its watchdog, or,
// for a module that is not instrumented, through a context wazero watches. Make the
// calls with callCtx and call done after them.
func (m *Module) deadline(ctx context.Context, in *instance) (callCtx context.Context, done func()) {
	switch {
	case in.watch != nil:
		in.watch.arm(ctx, m.opts.Timeout)
		return ctx, in.disarm
	case m.opts.Timeout > 0:
		callCtx, cancel := context.WithTimeout(ctx, m.opts.Timeout)
		return callCtx, cancel
	}
	return ctx, func() {}
}

func (in *instance) close(ctx context.Context) {
	in.watch.close()
	_ = in.mod.Close(ctx)
}
