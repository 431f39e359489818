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

// TestWatchdogIgnoresStaleFires delivers callbacks of a finished arming after the
// next arming began, as a timer that expired just as its call returned does, and as
// the callback of a context no longer in use: the flag must stay clear.
func TestWatchdogIgnoresStaleFires(t *testing.T) {
	flag := &fakeFlag{}
	w := newWatchdog(flag)
	defer w.close()
	old, cancelOld := context.WithCancel(context.Background())
	defer cancelOld()
	w.arm(old, time.Hour)
	if w.disarm() {
		t.Fatal("an arming that never fired reported an interruption")
	}
	cur, cancelCur := context.WithCancel(context.Background())
	defer cancelCur()
	w.arm(cur, time.Hour)
	w.onTimer()
	w.onDone(old)
	if flag.v != 0 {
		t.Fatal("a fire from the previous arming set the flag during the next call")
	}
	w.onDone(cur)
	if flag.v != 1 {
		t.Fatal("the current call's context callback did not set the flag")
	}
	if !w.disarm() || flag.v != 0 {
		t.Fatalf("disarm after a fire: flag %d", flag.v)
	}
	if w.disarm() {
		t.Fatal("a second disarm reported an interruption")
	}
}

// TestWatchdogNoticesAContextEndedBetweenCalls arms with a context that ended while
// no call was running, whose callback therefore found nothing to interrupt.
func TestWatchdogNoticesAContextEndedBetweenCalls(t *testing.T) {
	flag := &fakeFlag{}
	w := newWatchdog(flag)
	defer w.close()
	ctx, cancel := context.WithCancel(context.Background())
	w.arm(ctx, time.Hour)
	w.disarm()
	cancel()
	w.arm(ctx, time.Hour)
	if flag.v != 1 || !w.disarm() {
		t.Fatal("a call armed with an ended context was not interrupted")
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
			defer w.close()
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
