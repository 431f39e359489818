package wasmhost

import (
	"context"
	"testing"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// fakeFlag is an api.MutableGlobal recording the flag's value.
type fakeFlag struct {
	api.MutableGlobal
	v uint64
}

func (f *fakeFlag) Set(v uint64) { f.v = v }

// TestWatchdogIgnoresAStaleFire delivers the callback of a finished arming after
// the next arming began, as a timer that expired just as its call returned does:
// the flag must stay clear for the new call.
func TestWatchdogIgnoresAStaleFire(t *testing.T) {
	flag := &fakeFlag{}
	w := newWatchdog(flag)
	w.arm(context.Background(), time.Hour)
	stale := w.gen
	if w.disarm() {
		t.Fatal("an arming that never fired reported an interruption")
	}
	w.arm(context.Background(), time.Hour)
	w.fire(stale)
	if flag.v != 0 {
		t.Fatal("a fire from the previous arming set the flag during the next call")
	}
	w.fire(w.gen)
	if flag.v != 1 {
		t.Fatal("a fire of the current arming did not set the flag")
	}
	if !w.disarm() || flag.v != 0 {
		t.Fatalf("disarm after a fire: flag %d", flag.v)
	}
	if w.disarm() {
		t.Fatal("a second disarm reported an interruption")
	}
}

// TestWatchdogFiresOnDeadlineAndCancel waits for each real trigger.
func TestWatchdogFiresOnDeadlineAndCancel(t *testing.T) {
	for _, tc := range []struct {
		name   string
		d      time.Duration
		cancel bool
	}{{"deadline", time.Millisecond, false}, {"cancel", time.Hour, true}} {
		t.Run(tc.name, func(t *testing.T) {
			flag := &fakeFlag{}
			w := newWatchdog(flag)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			w.arm(ctx, tc.d)
			if tc.cancel {
				cancel()
			}
			for !w.firedNow() {
				time.Sleep(time.Millisecond) // polls a state set by another goroutine
			}
			if !w.disarm() || flag.v != 0 {
				t.Fatalf("disarm: flag %d", flag.v)
			}
		})
	}
}

func (w *watchdog) firedNow() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fired
}
