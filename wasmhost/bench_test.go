package wasmhost_test

import (
	"context"
	"encoding/binary"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/slspipe/slspipe/wasmhost"
)

// benchBatches are the batch sizes of the ns/record benchmarks: a log group of a busy
// producer, and a whole pull of several groups.
var benchBatches = []int{128, 1024}

func reportPerRecord(b *testing.B, records int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*records), "ns/record")
}

// nativeIdentity is what a built-in identity stage does with the same Result contract:
// each input becomes one output, sharing the input's bytes.
func nativeIdentity(in *wasmhost.Batch, out *wasmhost.Result) {
	out.Reset()
	for i, r := range in.Records {
		out.Records = append(out.Records, r)
		out.Outcomes = append(out.Outcomes, wasmhost.Outcome{First: i, Count: 1})
	}
}

// BenchmarkIdentity compares the identity module in each guest language with the
// built-in identity and with a one-call-per-record ABI, on batches of 10-field ~200-byte
// records. Read the ns/record column.
func BenchmarkIdentity(b *testing.B) {
	for _, n := range benchBatches {
		b.Run("batch="+strconv.Itoa(n), func(b *testing.B) { benchIdentity(b, n) })
	}
}

func benchIdentity(b *testing.B, benchBatch int) {
	ctx := context.Background()
	batch := sampleBatch(benchBatch)
	b.Run("native", func(b *testing.B) {
		var res wasmhost.Result
		b.ReportAllocs()
		for b.Loop() {
			nativeIdentity(batch, &res)
		}
		reportPerRecord(b, benchBatch)
	})
	for _, name := range []string{"c_identity", "c_identity_wasi", "rust_identity", "go_identity", "c_passthrough"} {
		for _, deadline := range []bool{true, false} {
			label := name
			timeout := wasmhost.DefaultTimeout
			if !deadline {
				label += "/no_deadline"
				timeout = -1
			}
			b.Run(label, func(b *testing.B) {
				m, err := wasmhost.Open(ctx, modulePath(b, name), wasmhost.Options{Timeout: timeout})
				if err != nil {
					b.Fatal(err)
				}
				defer m.Close(ctx)
				var res wasmhost.Result
				b.ReportAllocs()
				for b.Loop() {
					if err := m.Process(ctx, batch, &res); err != nil {
						b.Fatal(err)
					}
				}
				reportPerRecord(b, benchBatch)
			})
		}
	}
	// The per-record baselines: shaped like per-message processors (reflection-based host
	// functions, Call), and the same with wazero's fastest call paths.
	b.Run("c_per_record_call", func(b *testing.B) {
		benchPerRecordCall(b, batch, false)
	})
	b.Run("c_per_record_call/fast_host_funcs", func(b *testing.B) {
		benchPerRecordCall(b, batch, true)
	})
}

// benchPerRecordCall measures the per-message ABI of per-message WASM processors: for each
// record the host frames it into bytes and calls the guest's process(); the guest fetches
// the message through a host function (which allocates guest memory by calling the guest's
// malloc and copies the bytes in), copies it into its own buffer and returns it through a
// second host function; the host then parses the fields back. There is no deadline, in
// the baseline's favour. With fast unset, host functions are registered by reflection
// and guest functions called with Call, as per-message processors do; with fast set,
// both use wazero's stack-based paths.
func benchPerRecordCall(b *testing.B, batch *wasmhost.Batch, fast bool) {
	ctx := context.Background()
	wasm, err := os.ReadFile(modulePath(b, "c_per_record"))
	if err != nil {
		b.Fatal(err)
	}
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)

	var frame, slab []byte
	var malloc api.Function
	mallocStack := make([]uint64, 1)
	asBytes := func(ctx context.Context, mod api.Module) uint64 {
		var ptr uint32
		if fast {
			mallocStack[0] = uint64(len(frame))
			if err := malloc.CallWithStack(ctx, mallocStack); err != nil {
				panic(err)
			}
			ptr = uint32(mallocStack[0])
		} else {
			res, err := malloc.Call(ctx, uint64(len(frame)))
			if err != nil {
				panic(err)
			}
			ptr = uint32(res[0])
		}
		mod.Memory().Write(ptr, frame)
		return uint64(ptr)<<32 | uint64(len(frame))
	}
	setBytes := func(_ context.Context, mod api.Module, ptr, n uint32) {
		view, ok := mod.Memory().Read(ptr, n)
		if !ok {
			panic("output outside memory")
		}
		slab = append(slab, view...)
	}
	host := rt.NewHostModuleBuilder("env")
	if fast {
		host = host.
			NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
			stack[0] = asBytes(ctx, mod)
		}), nil, []api.ValueType{api.ValueTypeI64}).Export("msg_as_bytes").
			NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
			setBytes(ctx, mod, uint32(stack[0]), uint32(stack[1]))
		}), []api.ValueType{api.ValueTypeI32, api.ValueTypeI32}, nil).Export("msg_set_bytes")
	} else {
		host = host.
			NewFunctionBuilder().WithFunc(asBytes).Export("msg_as_bytes").
			NewFunctionBuilder().WithFunc(setBytes).Export("msg_set_bytes")
	}
	if _, err = host.Instantiate(ctx); err != nil {
		b.Fatal(err)
	}
	mod, err := rt.Instantiate(ctx, wasm)
	if err != nil {
		b.Fatal(err)
	}
	malloc = mod.ExportedFunction("malloc")
	process := mod.ExportedFunction("process")
	var fields []wasmhost.Field
	var outs []wasmhost.Record
	le := binary.LittleEndian
	b.ReportAllocs()
	for b.Loop() {
		outs, fields, slab = outs[:0], fields[:0], slab[:0]
		for _, r := range batch.Records {
			frame = frame[:0]
			frame = le.AppendUint32(frame, r.Sec)
			frame = le.AppendUint32(frame, r.Nsec)
			for _, f := range r.Fields {
				frame = le.AppendUint32(frame, uint32(len(f.Key)))
				frame = append(frame, f.Key...)
				frame = le.AppendUint32(frame, uint32(len(f.Value)))
				frame = append(frame, f.Value...)
			}
			at := len(slab)
			if fast {
				err = process.CallWithStack(ctx, nil)
			} else {
				_, err = process.Call(ctx)
			}
			if err != nil {
				b.Fatal(err)
			}
			rec := slab[at:]
			start := len(fields)
			for p := 8; p < len(rec); {
				kl := int(le.Uint32(rec[p:]))
				k := rec[p+4 : p+4+kl]
				p += 4 + kl
				vl := int(le.Uint32(rec[p:]))
				v := rec[p+4 : p+4+vl]
				p += 4 + vl
				fields = append(fields, wasmhost.Field{Key: k, Value: v})
			}
			outs = append(outs, wasmhost.Record{Sec: le.Uint32(rec), Nsec: le.Uint32(rec[4:]), Fields: fields[start:]})
		}
	}
	reportPerRecord(b, len(batch.Records))
}

// BenchmarkOpenGoModuleCache opens a ~2 MB Go module twice per iteration against a fresh
// on-disk compilation cache: the first open compiles, the second loads compiled code from
// disk, as a restarted process would. It reports the compile step alone (from the
// module's "compiled" debug log) and the whole Open (compile, instantiate, initialise the
// Go runtime), each cached as a percentage of cold.
func BenchmarkOpenGoModuleCache(b *testing.B) {
	ctx := context.Background()
	path := modulePath(b, "go_identity")
	if fi, err := os.Stat(path); err == nil {
		b.ReportMetric(float64(fi.Size())/1e6, "module-MB")
	}
	var compile, open [2]time.Duration
	runs := 0
	for b.Loop() {
		dir := b.TempDir()
		for i := 0; i < 2; i++ {
			cache, err := wasmhost.NewCache(filepath.Join(dir, "cache"))
			if err != nil {
				b.Fatal(err)
			}
			logs := &logCapture{}
			start := time.Now()
			m, err := wasmhost.Open(ctx, path, wasmhost.Options{Cache: cache, Logger: slog.New(logs)})
			open[i] += time.Since(start)
			if err != nil {
				b.Fatal(err)
			}
			compile[i] += compileTook(b, logs)
			_ = m.Close(ctx)
			_ = cache.Close(ctx)
		}
		runs++
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(runs) }
	b.ReportMetric(ms(compile[0]), "cold-compile-ms")
	b.ReportMetric(ms(compile[1]), "cached-compile-ms")
	b.ReportMetric(100*float64(compile[1])/float64(compile[0]), "compile-cached-%")
	b.ReportMetric(ms(open[0]), "cold-open-ms")
	b.ReportMetric(ms(open[1]), "cached-open-ms")
	b.ReportMetric(100*float64(open[1])/float64(open[0]), "open-cached-%")
}

func compileTook(b *testing.B, logs *logCapture) time.Duration {
	logs.mu.Lock()
	defer logs.mu.Unlock()
	for _, r := range logs.recs {
		if r.Message != "wasm module compiled" {
			continue
		}
		var took time.Duration
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "took" {
				took = a.Value.Duration()
			}
			return true
		})
		return took
	}
	b.Fatal("no compile log")
	return 0
}

// BenchmarkCallOverhead measures the fixed cost of one Process call (a one-record batch
// through the pass outcome), with and without the per-batch deadline, whose mechanism
// (interruptible guest code plus a watcher per call) is paid once per batch.
func BenchmarkCallOverhead(b *testing.B) {
	ctx := context.Background()
	batch := sampleBatch(1)
	for _, timeout := range []time.Duration{wasmhost.DefaultTimeout, -1} {
		name := "deadline"
		if timeout < 0 {
			name = "no_deadline"
		}
		b.Run(name, func(b *testing.B) {
			m, err := wasmhost.Open(ctx, modulePath(b, "c_passthrough"), wasmhost.Options{Timeout: timeout})
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close(ctx)
			var res wasmhost.Result
			b.ReportAllocs()
			for b.Loop() {
				if err := m.Process(ctx, batch, &res); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
