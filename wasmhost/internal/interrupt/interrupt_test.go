package interrupt_test

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/slspipe/slspipe/wasmhost/internal/interrupt"
)

// spinModule imports env.started and exports two functions that never return by
// themselves: spin_signal_in_loop calls started in its loop's first iteration,
// spin_signal_before calls it before a loop whose body does nothing, the case where an
// optimiser would be most tempted to hoist the flag's load out of the loop.
func spinModule() []byte {
	return module(
		section(sType, vec(funcType(nil, nil))),
		section(sImport, vec(importFunc("env", "started", 0))),
		section(sFunction, vec(uleb(0), uleb(0))),
		section(sExport, vec(exportFunc("spin_signal_in_loop", 1), exportFunc("spin_signal_before", 2))),
		section(sCode, vec(
			body(locals(1, i32),
				loop(empty...),
				localGet(0), i32Eqz, ifThen(empty...), call(0), end,
				localGet(0), i32Const(1), i32Add, localSet(0),
				br(0),
				end, end),
			body(noLocals(),
				call(0),
				loop(empty...), br(0), end,
				end),
		)),
	)
}

func TestFlagInterruptsRunningLoop(t *testing.T) {
	wasm, err := interrupt.Instrument(spinModule())
	if err != nil {
		t.Fatal(err)
	}
	// Only the compiler: the interpreter reads globals with plain Go loads, so setting the
	// flag while it runs is a data race (see Flag).
	for _, fn := range []string{"spin_signal_in_loop", "spin_signal_before"} {
		t.Run(fn, func(t *testing.T) {
			ctx := context.Background()
			rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
			defer rt.Close(ctx)

			started := make(chan struct{})
			var once sync.Once
			_, err := rt.NewHostModuleBuilder("env").NewFunctionBuilder().
				WithFunc(func(context.Context) { once.Do(func() { close(started) }) }).
				Export("started").Instantiate(ctx)
			if err != nil {
				t.Fatal(err)
			}
			mod, err := rt.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig())
			if err != nil {
				t.Fatal(err)
			}
			flag, err := interrupt.Flag(mod)
			if err != nil {
				t.Fatal(err)
			}

			done := make(chan error, 1)
			go func() {
				_, err := mod.ExportedFunction(fn).Call(ctx)
				done <- err
			}()
			<-started
			// A stop-the-world while the guest spins: without the guest's periodic exits
			// to Go it never completes, and the flag is never set.
			runtime.GC()
			flag.Set(1)
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), "unreachable") {
					t.Fatalf("call ended with %v, want an unreachable trap", err)
				}
			case <-time.After(time.Minute):
				// The spinning goroutine cannot be stopped; it ends with the test binary.
				t.Fatal("guest still running a minute after the flag was set")
			}
		})
	}
}

func TestFlagOnUninstrumentedModule(t *testing.T) {
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	mod, err := rt.Instantiate(ctx, module(section(sType, vec())))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := interrupt.Flag(mod); err == nil {
		t.Fatal("Flag succeeded on a module without the flag")
	}
}

// call invokes an exported function, failing the test on error.
func call1(t *testing.T, mod api.Module, fn string, params ...uint64) uint64 {
	t.Helper()
	f := mod.ExportedFunction(fn)
	if f == nil {
		t.Fatalf("function %s not exported", fn)
	}
	res, err := f.Call(context.Background(), params...)
	if err != nil {
		t.Fatalf("%s: %v", fn, err)
	}
	return res[0]
}
