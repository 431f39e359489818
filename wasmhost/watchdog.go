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
//
// Arming is cheap because nothing is created per call: one timer is reset, and the
// context is registered once for as long as calls keep coming with the same one. The
// timer and context callbacks run on their own goroutines and may run late (stopping a
// timer does not wait for a callback that has started), so each checks that it is
// still relevant: the timer that the current deadline has passed, the context callback
// that its context is the current call's.
//
// arm, disarm and close are called by the instance's holder, one at a time.
type watchdog struct {
	flag    api.MutableGlobal
	timer   *time.Timer
	ctx     context.Context // the context stopCtx watches
	stopCtx func() bool

	mu       sync.Mutex // guards the fields below
	armed    bool
	fired    bool // the flag was set during the current arming
	deadline time.Time
	callCtx  context.Context
}

func newWatchdog(flag api.MutableGlobal) *watchdog {
	w := &watchdog{flag: flag}
	w.timer = time.AfterFunc(time.Hour, w.onTimer)
	w.timer.Stop()
	return w
}

// setLocked interrupts the current call. w.mu must be held.
func (w *watchdog) setLocked() {
	if w.armed && !w.fired {
		w.fired = true
		w.flag.Set(1)
	}
}

func (w *watchdog) onTimer() {
	w.mu.Lock()
	if !time.Now().Before(w.deadline) { // a late fire of an earlier arming finds a later deadline
		w.setLocked()
	}
	w.mu.Unlock()
}

func (w *watchdog) onDone(ctx context.Context) {
	w.mu.Lock()
	if w.callCtx == ctx {
		w.setLocked()
	}
	w.mu.Unlock()
}

// arm starts watching a call of at most d under ctx. A nil watchdog does nothing.
func (w *watchdog) arm(ctx context.Context, d time.Duration) {
	if w == nil {
		return
	}
	if ctx != w.ctx {
		if w.stopCtx != nil {
			w.stopCtx()
		}
		c := ctx
		w.ctx, w.stopCtx = ctx, context.AfterFunc(ctx, func() { w.onDone(c) })
	}
	w.mu.Lock()
	w.armed, w.fired = true, false
	w.deadline, w.callCtx = time.Now().Add(d), ctx
	w.mu.Unlock()
	w.timer.Reset(d)
	if ctx.Err() != nil { // ended between calls: its callback has run already
		w.onDone(ctx)
	}
}

// disarm ends the watch and reports whether the guest was interrupted during it. The
// flag is clear afterwards. Calling it again, or on a nil watchdog, reports false.
func (w *watchdog) disarm() bool {
	if w == nil {
		return false
	}
	w.timer.Stop()
	w.mu.Lock()
	fired := w.armed && w.fired
	w.armed, w.fired, w.callCtx = false, false, nil
	w.mu.Unlock()
	if fired {
		w.flag.Set(0)
	}
	return fired
}

// close disarms and lets go of the timer and the context registration.
func (w *watchdog) close() {
	if w == nil {
		return
	}
	w.disarm()
	if w.stopCtx != nil {
		w.stopCtx()
		w.ctx, w.stopCtx = nil, nil
	}
}
