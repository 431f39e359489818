package interrupt

import (
	"fmt"

	"github.com/tetratelabs/wazero/api"
)

// Flag returns the interrupt flag of an instance of an instrumented module. Setting it to a
// non-zero value makes the guest trap with "unreachable" within 1024 loop iterations.
//
// # Notes
//
//   - With wazero's compiler, Set may be called from any goroutine while the guest runs: the
//     guest loads the flag in machine code the race detector does not see, and a one-word
//     store is observed whole.
//   - wazero's interpreter (platforms without the compiler) reads globals with plain Go loads,
//     so a concurrent Set is a data race there; use RuntimeConfig.WithCloseOnContextDone on
//     those platforms instead.
func Flag(mod api.Module) (api.MutableGlobal, error) {
	g, ok := mod.ExportedGlobal(ExportName).(api.MutableGlobal)
	if !ok {
		return nil, fmt.Errorf("interrupt: module %q does not export the mutable global %s", mod.Name(), ExportName)
	}
	return g, nil
}
