package interrupt_test

import (
	"context"
	"errors"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/slspipe/slspipe/wasmhost/internal/interrupt"
)

// allFeatures is every feature wazero 1.12 implements, so that the fuzzer reaches every
// instruction family Instrument decodes.
const allFeatures = api.CoreFeaturesV2 | experimental.CoreFeaturesThreads | experimental.CoreFeaturesTailCall |
	experimental.CoreFeaturesExtendedConst | experimental.CoreFeaturesExceptionHandling |
	experimental.CoreFeaturesTypedFunctionReferences

// validates reports whether wazero decodes and validates wasm. The interpreter validates
// like the compiler, without the cost of code generation.
func validates(wasm []byte) error {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(allFeatures))
	defer rt.Close(ctx)
	_, err := rt.CompileModule(ctx, wasm)
	return err
}

// checkInstrument asserts Instrument's contract on arbitrary input: no panic, only the
// documented errors, and for a module wazero accepts, an output wazero accepts.
func checkInstrument(t *testing.T, wasm []byte) {
	t.Helper()
	out, err := interrupt.Instrument(wasm)
	if err != nil {
		var fe *interrupt.FormatError
		if !errors.Is(err, interrupt.ErrAlreadyExported) && !errors.As(err, &fe) {
			t.Fatalf("error of unexpected type %T: %v", err, err)
		}
		return
	}
	if !plausibleCounts(wasm) || validates(wasm) != nil {
		return
	}
	if err := validates(out); err != nil {
		t.Fatalf("wazero accepts the module but not its instrumented form: %v", err)
	}
}

// plausibleCounts reports whether every section's leading count fits in its payload, as in
// any valid module. wazero allocates by the count before decoding the elements, so a
// mutated count can exhaust memory.
func plausibleCounts(wasm []byte) bool {
	for p := 8; p < len(wasm); {
		id := wasm[p]
		size, n := readU32(wasm[p+1:])
		p += 1 + n
		if n == 0 || uint64(size) > uint64(len(wasm)-p) {
			return false
		}
		if id != sCustom {
			if count, m := readU32(wasm[p : p+int(size)]); m == 0 || count > size {
				return false
			}
		}
		p += int(size)
	}
	return true
}

// readU32 decodes an unsigned LEB128, returning its length, or 0 if malformed.
func readU32(b []byte) (uint32, int) {
	var v uint64
	for i := 0; i < 5 && i < len(b); i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			return uint32(v), i + 1
		}
	}
	return 0, 0
}

func FuzzInstrument(f *testing.F) {
	for _, gm := range guestModules(f, 64<<10) {
		f.Add(gm.wasm)
	}
	for _, seed := range [][]byte{spinModule(), featuresModule(), globalProvider()} {
		f.Add(seed)
	}
	for _, args := range [][3]bool{{false, false, false}, {true, true, true}, {true, false, true}} {
		m, _ := globalsModule(args[0], args[1], args[2])
		f.Add(m)
	}
	f.Fuzz(checkInstrument)
}
