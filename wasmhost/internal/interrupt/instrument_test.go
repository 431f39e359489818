package interrupt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/slspipe/slspipe/wasmhost/internal/interrupt"
)

// signature describes a function the way callers see it.
func signature(d api.FunctionDefinition) string {
	return fmt.Sprintf("%s%v%v", d.ExportNames(), d.ParamTypes(), d.ResultTypes())
}

func signatures(defs map[string]api.FunctionDefinition) map[string]string {
	m := map[string]string{}
	for n, d := range defs {
		m[n] = signature(d)
	}
	return m
}

func TestInstrumentGuestModules(t *testing.T) {
	for _, gm := range guestModules(t, 0) {
		t.Run(gm.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			out, err := interrupt.Instrument(gm.wasm)
			if err != nil {
				t.Fatal(err)
			}
			// The original only needs decoding, which the interpreter does as the compiler.
			interp := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
			defer interp.Close(ctx)
			orig, err := interp.CompileModule(ctx, gm.wasm)
			if err != nil {
				t.Fatalf("original: %v", err)
			}
			rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
			defer rt.Close(ctx)
			inst, err := rt.CompileModule(ctx, out)
			if err != nil {
				t.Fatalf("instrumented module rejected: %v", err)
			}
			if got, want := signatures(inst.ExportedFunctions()), signatures(orig.ExportedFunctions()); !reflect.DeepEqual(got, want) {
				t.Errorf("exported functions %v, want %v", got, want)
			}
			var gotImports, wantImports []string
			for _, d := range inst.ImportedFunctions() {
				m, n, _ := d.Import()
				gotImports = append(gotImports, m+"."+n+signature(d))
			}
			for _, d := range orig.ImportedFunctions() {
				m, n, _ := d.Import()
				wantImports = append(wantImports, m+"."+n+signature(d))
			}
			if !reflect.DeepEqual(gotImports, wantImports) {
				t.Errorf("imported functions %v, want %v", gotImports, wantImports)
			}
			if _, err := interrupt.Instrument(out); !errors.Is(err, interrupt.ErrAlreadyExported) {
				t.Errorf("instrumenting twice: %v, want ErrAlreadyExported", err)
			}
		})
	}
}

// featuresModule exercises most instruction families; its exported run returns a checksum.
// It imports env.g, an immutable i32 global.
func featuresModule() []byte {
	iota16 := make([]byte, 16)
	reverse := make([]byte, 16)
	ones := bytes.Repeat([]byte{1}, 16)
	for i := range iota16 {
		iota16[i], reverse[i] = byte(i), byte(15-i)
	}
	f37 := make([]byte, 4)
	bits := math.Float32bits(3.7)
	f37[0], f37[1], f37[2], f37[3] = byte(bits), byte(bits>>8), byte(bits>>16), byte(bits>>24)
	acc := func(code ...[]byte) []byte { // acc += <code>
		return cat(cat(code...), localGet(2), i32Add, localSet(2))
	}
	run := body(cat([]byte{0x02}, uleb(3), []byte{i32}, uleb(1), []byte{v128}),
		// bulk memory
		i32Const(0), i32Const(0), i32Const(8), misc(8, 0, 0), misc(9, 0),
		i32Const(16), i32Const(0x2a), i32Const(4), misc(11, 0),
		i32Const(32), i32Const(0), i32Const(8), misc(10, 0, 0),
		// nested loops: acc += i*j for j < i < 10
		i32Const(0), localSet(0),
		loop(empty...),
		i32Const(0), localSet(1),
		block(empty...), loop(empty...),
		localGet(1), localGet(0), op(0x4f), brIf(1),
		acc(localGet(0), localGet(1), i32Mul),
		localGet(1), i32Const(1), i32Add, localSet(1),
		br(0),
		end, end,
		localGet(0), i32Const(1), i32Add, localTee(0), i32Const(10), i32LtU, brIf(0),
		end,
		// br_table on acc&3
		block(empty...), block(empty...), block(empty...),
		localGet(2), i32Const(3), op(0x71), op(0x0e), vec(uleb(0), uleb(1)), uleb(2),
		end, acc(i32Const(100)),
		end, acc(i32Const(1000)),
		end,
		// block (i32)->(i32 i32) and loop (i32)->(i32)
		localGet(2), block(1), i32Const(1), i32Add, localTee(0), localGet(0), end, i32Add, localSet(2),
		i32Const(5), loop(2), i32Const(1), i32Sub, localTee(0), localGet(0), brIf(0), end, drop,
		// SIMD, including i16x8.abs, whose opcode takes two LEB128 bytes
		simd(0x0c, iota16...), simd(0x0c, iota16...), simd(0x0d, reverse...),
		simd(0x0c, ones...), simd(0x6e), simd(0x80), localSet(3),
		acc(localGet(3), simd(0x1b, 1)),
		// loads of what bulk memory wrote
		acc(i32Const(16), op(0x28, 0x02, 0x00)),
		acc(i32Const(32), op(0x28, 0x02, 0x00)),
		// call_indirect type 2, table 0
		acc(i32Const(3), i32Const(0), op(0x11, 0x02, 0x00)),
		// typed select, sign extension, saturating truncation
		localGet(2), i32Const(7), localGet(2), op(0x1c, 0x01, i32), localSet(2),
		acc(localGet(2), op(0xc0)),
		acc(op(0x43), f37, misc(0)),
		// the imported and the defined global
		globalGet(0), globalGet(1), i32Mul, localGet(2), i32Add,
		end)
	double := body(noLocals(), localGet(0), i32Const(2), i32Mul, end)
	return module(
		section(sType, vec(funcType(nil, []byte{i32}), funcType([]byte{i32}, []byte{i32, i32}), funcType([]byte{i32}, []byte{i32}))),
		section(sImport, vec(importGlobal("env", "g", i32, false))),
		section(sFunction, vec(uleb(0), uleb(2))),
		section(sTable, vec([]byte{0x70, 0x00, 0x01})),
		section(sMemory, vec([]byte{0x00, 0x01})),
		section(sGlobal, vec(globalI32(5, false))),
		section(sExport, vec(exportFunc("run", 0))),
		section(sElement, vec(cat([]byte{0x00}, i32Const(0), end, vec(uleb(1))))),
		section(sDataCount, uleb(1)),
		section(sCode, vec(run, double)),
		section(sData, vec(cat([]byte{0x01}, name("abcdefgh")))),
	)
}

// globalProvider is the module env exporting the immutable i32 global g = 7.
func globalProvider() []byte {
	return module(
		section(sGlobal, vec(globalI32(7, false))),
		section(sExport, vec(exportGlobal("g", 0))),
	)
}

func TestInstrumentPreservesBehaviour(t *testing.T) {
	ctx := context.Background()
	src := featuresModule()
	out, err := interrupt.Instrument(src)
	if err != nil {
		t.Fatal(err)
	}
	results := map[string]uint64{}
	for name, wasm := range map[string][]byte{"original": src, "instrumented": out} {
		rt := wazero.NewRuntime(ctx)
		if _, err := rt.InstantiateWithConfig(ctx, globalProvider(), wazero.NewModuleConfig().WithName("env")); err != nil {
			t.Fatal(err)
		}
		mod, err := rt.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithName(name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		results[name] = call1(t, mod, "run")
		rt.Close(ctx)
	}
	if results["original"] != results["instrumented"] {
		t.Fatalf("run returned %d instrumented, %d originally", results["instrumented"], results["original"])
	}
}

// globalsModule has an optional imported immutable i32 (env.g = 7), optional defined
// globals (immutable i32 11, mutable i64 13) and either exports count, which loops 2000
// times and returns 2000 plus the globals' sum, or runs it as its start function. The flag
// is then the module's only mutable i32 global, so a wrong index would show in Flag.
func globalsModule(importGlobal, defineGlobals, exports bool) ([]byte, uint64) {
	var sections [][]byte
	want := uint64(2000)
	sections = append(sections, section(sType, vec(funcType(nil, []byte{i32}), funcType(nil, nil))))
	var sum [][]byte
	g := uint64(0)
	if importGlobal {
		sections = append(sections, section(sImport, vec(importGlobalEntry())))
		sum = append(sum, globalGet(g), i32Add)
		g++
		want += 7
	}
	sections = append(sections, section(sFunction, vec(uleb(0), uleb(1))))
	if defineGlobals {
		sections = append(sections, section(sGlobal, vec(
			globalI32(11, false),
			cat([]byte{i64, 1, 0x42}, sleb(13), end),
		)))
		sum = append(sum, globalGet(g), i32Add, globalGet(g+1), op(0xa7), i32Add) // i32.wrap_i64
		want += 24
	}
	if exports {
		sections = append(sections, section(sExport, vec(exportFunc("count", 0))))
	} else {
		sections = append(sections, section(8, uleb(1))) // start
	}
	count := body(locals(1, i32),
		loop(empty...), localGet(0), i32Const(1), i32Add, localTee(0), i32Const(2000), i32LtU, brIf(0), end,
		localGet(0), cat(sum...), end)
	start := body(noLocals(), call(0), drop, end)
	sections = append(sections, section(sCode, vec(count, start)))
	return module(sections...), want
}

func importGlobalEntry() []byte { return importGlobal("env", "g", i32, false) }

func TestInstrumentGlobalIndex(t *testing.T) {
	ctx := context.Background()
	for _, importGlobal := range []bool{false, true} {
		for _, defineGlobals := range []bool{false, true} {
			for _, exports := range []bool{false, true} {
				name := fmt.Sprintf("import=%v/define=%v/export=%v", importGlobal, defineGlobals, exports)
				t.Run(name, func(t *testing.T) {
					src, want := globalsModule(importGlobal, defineGlobals, exports)
					out, err := interrupt.Instrument(src)
					if err != nil {
						t.Fatal(err)
					}
					rt := wazero.NewRuntime(ctx)
					defer rt.Close(ctx)
					if _, err := rt.InstantiateWithConfig(ctx, globalProvider(), wazero.NewModuleConfig().WithName("env")); err != nil {
						t.Fatal(err)
					}
					mod, err := rt.Instantiate(ctx, out)
					if err != nil {
						t.Fatal(err)
					}
					flag, err := interrupt.Flag(mod)
					if err != nil {
						t.Fatal(err)
					}
					if flag.Type() != api.ValueTypeI32 || flag.Get() != 0 {
						t.Fatalf("flag is %s %d, want i32 0", api.ValueTypeName(flag.Type()), flag.Get())
					}
					if !exports {
						return
					}
					if got := call1(t, mod, "count"); got != want {
						t.Fatalf("count returned %d, want %d", got, want)
					}
					flag.Set(1)
					_, err = mod.ExportedFunction("count").Call(ctx)
					if err == nil || !strings.Contains(err.Error(), "unreachable") {
						t.Fatalf("count with the flag set: %v, want an unreachable trap", err)
					}
				})
			}
		}
	}
}

func TestInstrumentCustomSections(t *testing.T) {
	ctx := context.Background()
	names := customSection("name", cat([]byte{0x01}, []byte{0x06}, vec(cat(uleb(0), name("spin"))))) // function names
	src := module(
		section(sType, vec(funcType(nil, nil))),
		section(sFunction, vec(uleb(0))),
		section(sCode, vec(body(noLocals(), loop(empty...), end, end))),
		customSection(".debug_info", []byte{1, 2, 3}),
		customSection(".debug_line", []byte{4, 5}),
		customSection("producers", []byte{6}),
		names,
	)
	out, err := interrupt.Instrument(src)
	if err != nil {
		t.Fatal(err)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCustomSections(true))
	defer rt.Close(ctx)
	cm, err := rt.CompileModule(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, c := range cm.CustomSections() {
		kept = append(kept, c.Name())
	}
	if !reflect.DeepEqual(kept, []string{"producers"}) {
		t.Errorf("custom sections %v, want [producers] (name decoded apart, .debug_* dropped)", kept)
	}
	if !bytes.Contains(out, names) {
		t.Error("name section not copied unchanged")
	}
	if cm.Name() != "" {
		t.Errorf("module name %q", cm.Name())
	}
}

func TestInstrumentErrors(t *testing.T) {
	valid := globalProvider()
	exported := module(
		section(sGlobal, vec(globalI32(0, true))),
		section(sExport, vec(exportGlobal(interrupt.ExportName, 0))),
	)
	if _, err := interrupt.Instrument(exported); !errors.Is(err, interrupt.ErrAlreadyExported) {
		t.Errorf("module exporting %s: %v, want ErrAlreadyExported", interrupt.ExportName, err)
	}

	// An unknown opcode (0x27 is reserved) in the second defined function, after one import.
	unknown := module(
		section(sType, vec(funcType(nil, nil))),
		section(sImport, vec(importFunc("env", "f", 0))),
		section(sFunction, vec(uleb(0), uleb(0))),
		section(sCode, vec(body(noLocals(), end), body(noLocals(), op(0x01, 0x27), end))),
	)
	var fe *interrupt.FormatError
	_, err := interrupt.Instrument(unknown)
	if !errors.As(err, &fe) || fe.Func != 2 || fe.Offset != bytes.LastIndexByte(unknown, 0x27) {
		t.Errorf("unknown opcode: %v, want a FormatError for function 2 at offset %#x", err, bytes.LastIndexByte(unknown, 0x27))
	}

	legacyTry := module(
		section(sType, vec(funcType(nil, nil))),
		section(sFunction, vec(uleb(0))),
		section(sCode, vec(body(noLocals(), op(0x06, 0x40), end, end))),
	)
	if _, err := interrupt.Instrument(legacyTry); !errors.As(err, &fe) || !strings.Contains(fe.Reason, "legacy") {
		t.Errorf("legacy try: %v", err)
	}

	for name, wasm := range map[string][]byte{
		"empty":           nil,
		"not wasm":        []byte("not a module"),
		"version 2":       []byte("\x00asm\x02\x00\x00\x00"),
		"section too big": cat(valid, []byte{sCustom, 0x10, 0x01, 'x'}),
		"unknown section": cat(valid, section(14, nil)),
		"code trailing":   module(section(sType, vec(funcType(nil, nil))), section(sFunction, vec(uleb(0))), section(sCode, vec(body(noLocals(), end, op(0x01))))),
	} {
		if _, err := interrupt.Instrument(wasm); !errors.As(err, &fe) {
			t.Errorf("%s: %v, want a FormatError", name, err)
		}
	}
}

// Every truncation of the smaller real modules is an error, never a panic, or, cut after a
// whole section, a module wazero accepts as it accepts the truncated input.
func TestInstrumentTruncated(t *testing.T) {
	for _, gm := range guestModules(t, 64<<10) {
		for n := 0; n < len(gm.wasm); n += 1 + n/32 {
			checkInstrument(t, gm.wasm[:n])
		}
	}
}
