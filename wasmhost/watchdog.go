package wasmhost

import (
	"context"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// watchdog stops one instance's guest when a call overruns the deadline or the caller's
// context ends, by setting the interrupt flag that the module was instrumented to test at
// every loop iteration (wasmhost/internal/interrupt). The guest then traps at its next
// iteration. Arming costs a timer reset and a context registration per call, and nothing
// per loop iteration but a load and a branch in the guest.
//
// arm and disarm are called by the instance's holder; fire runs on timer and context
// goroutines, so mu orders it against disarm: once disarm has run, the flag stays clear.
type watchdog struct {
	flag    api.MutableGlobal
	timer   *time.Timer
	stopCtx func() bool

	mu    sync.Mutex // guards armed and fired
	armed bool
	fired bool // the flag was set during the current arming
}

func newWatchdog(flag api.MutableGlobal) *watchdog {
	w := &watchdog{flag: flag}
	w.timer = time.AfterFunc(time.Hour, w.fire)
	w.timer.Stop()
	return w
}

func (w *watchdog) fire() {
	w.mu.Lock()
	if w.armed && !w.fired {
		w.fired = true
		w.flag.Set(1)
	}
	w.mu.Unlock()
}

// arm starts watching a call of at most d. A nil watchdog does nothing.
func (w *watchdog) arm(ctx context.Context, d time.Duration) {
	if w == nil {
		return
	}
	w.mu.Lock()
	w.armed, w.fired = true, false
	w.mu.Unlock()
	w.timer.Reset(d)
	w.stopCtx = context.AfterFunc(ctx, w.fire)
}

// disarm ends the watch and reports whether the guest was interrupted during it. The
// flag is clear afterwards. Calling it again, or on a nil watchdog, reports false.
func (w *watchdog) disarm() bool {
	if w == nil || w.stopCtx == nil {
		return false
	}
	w.timer.Stop()
	w.stopCtx()
	w.stopCtx = nil
	w.mu.Lock()
	w.armed = false
	fired := w.fired
	w.fired = false
	w.mu.Unlock()
	if fired {
		w.flag.Set(0)
	}
	return fired
}
