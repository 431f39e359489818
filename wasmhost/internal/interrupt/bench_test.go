package interrupt_test

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/slspipe/slspipe/wasmhost/internal/interrupt"
)

// sumModule exports sum(n i32) i64, the sum of 1..n computed by a loop of n iterations.
func sumModule() []byte {
	return module(
		section(sType, vec(funcType([]byte{i32}, []byte{i64}))),
		section(sFunction, vec(uleb(0))),
		section(sExport, vec(exportFunc("sum", 0))),
		section(sCode, vec(body(cat([]byte{0x02}, uleb(1), []byte{i32}, uleb(1), []byte{i64}),
			loop(empty...),
			localGet(2), localGet(1), i32Const(1), i32Add, localTee(1), op(0xad), op(0x7c), localSet(2), // acc += i64(++i)
			localGet(1), localGet(0), i32LtU, brIf(0),
			end,
			localGet(2), end))),
	)
}

// BenchmarkLoop reports the cost of one loop iteration (ns/iter) without interruption,
// with Instrument's check, and with wazero's WithCloseOnContextDone.
func BenchmarkLoop(b *testing.B) {
	const n = 1_000_000
	instrumented, err := interrupt.Instrument(sumModule())
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		wasm []byte
		cfg  wazero.RuntimeConfig
	}{
		{"plain", sumModule(), wazero.NewRuntimeConfig()},
		{"instrumented", instrumented, wazero.NewRuntimeConfig()},
		{"close_on_context_done", sumModule(), wazero.NewRuntimeConfig().WithCloseOnContextDone(true)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			rt := wazero.NewRuntimeWithConfig(ctx, bc.cfg)
			defer rt.Close(ctx)
			mod, err := rt.Instantiate(ctx, bc.wasm)
			if err != nil {
				b.Fatal(err)
			}
			sum := mod.ExportedFunction("sum")
			for b.Loop() {
				res, err := sum.Call(ctx, n)
				if err != nil {
					b.Fatal(err)
				}
				if res[0] != n*(n+1)/2 {
					b.Fatalf("sum returned %d", res[0])
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/iter")
		})
	}
}
