package wasmhost

import (
	"context"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// watchdog stops one instance's guest when a call overruns the deadline or the caller's
// context ends, by setting the interrupt flag that the module was instrumented to test in
// every loop (wasmhost/internal/interrupt). The guest then traps within 1024 iterations.
// Arming costs a timer and a context registration per call, and nothing per loop
// iteration but a load and a branch in the guest.
//
// arm and disarm are called by the instance's holder. The timer and context callbacks
// run on their own goroutines and may still be running after disarm (stopping either
// does not wait for a callback that has started), so each arming has a generation: a
// callback of an earlier arming finds another generation and leaves the flag alone.
type watchdog struct {
	flag    api.MutableGlobal
	timer   *time.Timer
	stopCtx func() bool

	mu    sync.Mutex // guards the fields below
	gen   uint64     // the current arming; incremented by arm
	armed bool
	fired bool // the flag was set during the current arming
}

func newWatchdog(flag api.MutableGlobal) *watchdog { return &watchdog{flag: flag} }

func (w *watchdog) fire(gen uint64) {
	w.mu.Lock()
	if w.armed && w.gen == gen && !w.fired {
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
	w.gen++
	gen := w.gen
	w.armed, w.fired = true, false
	w.mu.Unlock()
	fire := func() { w.fire(gen) }
	w.timer = time.AfterFunc(d, fire)
	w.stopCtx = context.AfterFunc(ctx, fire)
}

// disarm ends the watch and reports whether the guest was interrupted during it. The
// flag is clear afterwards. Calling it again, or on a nil watchdog, reports false.
func (w *watchdog) disarm() bool {
	if w == nil || w.stopCtx == nil {
		return false
	}
	w.timer.Stop()
	w.stopCtx()
	w.timer, w.stopCtx = nil, nil
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
