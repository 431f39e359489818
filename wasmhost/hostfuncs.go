package wasmhost

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"unicode/utf16"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/slspipe/slspipe/wasmhost/internal/abi"
)

// maxLogBytes bounds one guest log message or counter name so a guest cannot make the
// host copy unbounded memory per call.
const maxLogBytes = 4096

type hostImport struct {
	params, results []api.ValueType
}

var (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// hostImports lists the functions of the "slspipe" import module and their signatures.
var hostImports = map[string]hostImport{
	abi.ImportLog:        {params: []api.ValueType{i32, i32, i32}},
	abi.ImportCounterAdd: {params: []api.ValueType{i32, i32, i64}},
	abi.ImportClockNow:   {results: []api.ValueType{i64}},
}

// instantiateHostModule registers the "slspipe" import module in rt. The functions use
// wazero's stack-based GoModuleFunc, which avoids reflection on every guest call.
func (m *Module) instantiateHostModule(ctx context.Context, rt wazero.Runtime) error {
	logger := m.opts.Logger.With("module", m.name)
	onCounter := m.opts.OnCounter
	clock := m.opts.Clock

	logFn := api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
		level := slog.Level(int32(uint32(stack[0])))
		msg, ok := guestBytes(mod, stack[1], stack[2])
		if !ok {
			logger.Warn("guest log message outside its memory")
			return
		}
		logger.Log(ctx, level, string(msg))
	})
	counterFn := api.GoModuleFunc(func(_ context.Context, mod api.Module, stack []uint64) {
		if onCounter == nil {
			return
		}
		name, ok := guestBytes(mod, stack[0], stack[1])
		if !ok {
			return
		}
		onCounter(string(name), int64(stack[2]))
	})
	clockFn := api.GoModuleFunc(func(_ context.Context, _ api.Module, stack []uint64) {
		stack[0] = uint64(clock().UnixNano())
	})

	b := rt.NewHostModuleBuilder(abi.ImportModule)
	for name, fn := range map[string]api.GoModuleFunc{
		abi.ImportLog: logFn, abi.ImportCounterAdd: counterFn, abi.ImportClockNow: clockFn,
	} {
		sig := hostImports[name]
		b = b.NewFunctionBuilder().WithGoModuleFunction(fn, sig.params, sig.results).Export(name)
	}
	_, err := b.Instantiate(ctx)
	return err
}

// guestBytes returns up to maxLogBytes of guest memory at [ptr, ptr+n), or false when the
// range is outside memory.
func guestBytes(mod api.Module, ptr, n uint64) ([]byte, bool) {
	p, l := uint32(ptr), uint32(n)
	if l > maxLogBytes {
		l = maxLogBytes
	}
	return mod.Memory().Read(p, l)
}

// AssemblyScript compiles a throw (and a failed assertion) into a call of env.abort,
// unless the module is built with the SDK's abortHandler. The host provides it too, so
// a module built with asc's defaults works: the call traps with the message.
const (
	abortModule = "env"
	abortName   = "abort"
)

var abortParams = []api.ValueType{i32, i32, i32, i32} // message, file, line, column

func instantiateAbort(ctx context.Context, rt wazero.Runtime) error {
	abort := api.GoModuleFunc(func(_ context.Context, mod api.Module, stack []uint64) {
		msg := asString(mod.Memory(), uint32(stack[0]))
		if msg == "" {
			msg = "(no message)"
		}
		panic(fmt.Errorf("abort: %s at %s:%d:%d", msg, asString(mod.Memory(), uint32(stack[1])), uint32(stack[2]), uint32(stack[3])))
	})
	_, err := rt.NewHostModuleBuilder(abortModule).
		NewFunctionBuilder().WithGoModuleFunction(abort, abortParams, nil).Export(abortName).
		Instantiate(ctx)
	return err
}

// asString reads an AssemblyScript string: UTF-16LE code units at ptr, their byte
// length in the u32 just before. Null, out-of-range or oversized strings read as "".
func asString(mem api.Memory, ptr uint32) string {
	if ptr < 4 {
		return ""
	}
	n, ok := mem.ReadUint32Le(ptr - 4)
	if !ok || n%2 != 0 {
		return ""
	}
	b, ok := mem.Read(ptr, min(n, 2*maxLogBytes))
	if !ok {
		return ""
	}
	units := make([]uint16, len(b)/2)
	for i := range units {
		units[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(units))
}
