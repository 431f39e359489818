package wasmhost_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slspipe/slspipe/wasmhost"
)

// actionBatch returns a batch whose records carry the given _action values ("" for none)
// and a field "n" holding their position.
func actionBatch(actions ...string) *wasmhost.Batch {
	b := &wasmhost.Batch{Topic: []byte("t")}
	for i, a := range actions {
		r := wasmhost.Record{Sec: uint32(i), Fields: []wasmhost.Field{{Key: []byte("n"), Value: []byte{byte('a' + i)}}}}
		if a != "" {
			r.Fields = append(r.Fields, wasmhost.Field{Key: []byte("_action"), Value: []byte(a)})
		}
		b.Records = append(b.Records, r)
	}
	return b
}

func field(r wasmhost.Record, key string) (string, bool) {
	for _, f := range r.Fields {
		if string(f.Key) == key {
			return string(f.Value), true
		}
	}
	return "", false
}

func openBehave(t *testing.T, opts wasmhost.Options) *wasmhost.Module {
	t.Helper()
	ctx := context.Background()
	m, err := wasmhost.Open(ctx, modulePath(t, "c_behave"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close(ctx) })
	return m
}

func TestOutcomesFilterFanOutErrorRoute(t *testing.T) {
	m := openBehave(t, wasmhost.Options{Config: map[string]string{"tag": "blue"}})
	var res wasmhost.Result
	if err := m.Process(context.Background(), actionBatch("", "drop", "dup", "error", "", "pass"), &res); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		outputs int
		route   uint32
		err     bool
	}{{1, 0, false}, {0, 0, false}, {1, 1, false}, {0, 0, true}, {1, 0, false}, {1, 2, false}}
	for i, w := range want {
		oc := res.Outcomes[i]
		if (oc.Err != nil) != w.err || oc.Count != w.outputs || oc.Route != w.route {
			t.Fatalf("record %d: outcome %+v, want %+v", i, oc, w)
		}
		for _, out := range res.Outputs(i) {
			if i == 5 {
				// pass forwards the input as it is: no tag added.
				if _, ok := field(out, "tag"); ok || len(out.Fields) != 2 {
					t.Fatalf("passed record changed: %+v", out)
				}
				continue
			}
			if v, _ := field(out, "tag"); v != "blue" {
				t.Fatalf("record %d: config tag not applied: %+v", i, out)
			}
			if v, _ := field(out, "n"); v != string([]byte{byte('a' + i)}) {
				t.Fatalf("record %d: output n=%q", i, v)
			}
		}
	}
	var re *wasmhost.RecordError
	if !errors.As(res.Outcomes[3].Err, &re) || re.Index != 3 || re.Kind != nil || !strings.Contains(re.Detail, "refused by behave") {
		t.Fatalf("record 3 error: %v", res.Outcomes[3].Err)
	}
}

func TestInitRefusesConfig(t *testing.T) {
	_, err := wasmhost.Open(context.Background(), modulePath(t, "c_behave"), wasmhost.Options{Config: map[string]string{"fail": "yes"}})
	if !errors.Is(err, wasmhost.ErrInit) || !strings.Contains(err.Error(), "config key fail is set") || !strings.Contains(err.Error(), "c_behave.wasm") {
		t.Fatalf("err = %v", err)
	}
}

func TestTrapIsolatesRecord(t *testing.T) {
	m := openBehave(t, wasmhost.Options{})
	actions := make([]string, 37)
	actions[22] = "trap"
	var res wasmhost.Result
	if err := m.Process(context.Background(), actionBatch(actions...), &res); err != nil {
		t.Fatal(err)
	}
	for i := range actions {
		oc := res.Outcomes[i]
		if i == 22 {
			var re *wasmhost.RecordError
			if !errors.As(oc.Err, &re) || !errors.Is(oc.Err, wasmhost.ErrTrap) || re.Index != 22 {
				t.Fatalf("record 22: %v", oc.Err)
			}
			if !strings.Contains(re.Detail, "unreachable") || !strings.Contains(re.Detail, "wasm stack trace") {
				t.Fatalf("record 22: no trap trace in %q", re.Detail)
			}
			t.Logf("isolated: %v", oc.Err)
			continue
		}
		if oc.Err != nil || oc.Count != 1 {
			t.Fatalf("record %d: %+v", i, oc)
		}
		if v, _ := field(res.Outputs(i)[0], "n"); v != string([]byte{byte('a' + i)}) {
			t.Fatalf("record %d: output out of order: n=%q", i, v)
		}
	}
	// The pool re-created the instance: the module keeps working.
	if err := m.Process(context.Background(), actionBatch("", ""), &res); err != nil || res.Outcomes[1].Err != nil {
		t.Fatalf("after trap: %v %+v", err, res.Outcomes)
	}
}

func TestInfiniteLoopHitsDeadline(t *testing.T) {
	m := openBehave(t, wasmhost.Options{Timeout: 200 * time.Millisecond})
	var res wasmhost.Result
	if err := m.Process(context.Background(), actionBatch("", "loop", ""), &res); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(res.Outcomes[1].Err, wasmhost.ErrDeadline) {
		t.Fatalf("record 1: %v", res.Outcomes[1].Err)
	}
	if res.Outcomes[0].Err != nil || res.Outcomes[2].Err != nil {
		t.Fatalf("healthy records failed: %+v", res.Outcomes)
	}
}

func TestCallerCancellationFailsBatch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	logged := false
	// Cancel from the guest's own log call, so the cancel happens while the guest runs.
	m := openBehave(t, wasmhost.Options{Timeout: time.Minute, OnCounter: func(string, int64) {
		mu.Lock()
		defer mu.Unlock()
		if !logged {
			logged = true
			cancel()
		}
	}})
	var res wasmhost.Result
	err := m.Process(ctx, actionBatch("log", "loop"), &res)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestMemoryBomb(t *testing.T) {
	m := openBehave(t, wasmhost.Options{MemoryLimitPages: 64})
	var res wasmhost.Result
	if err := m.Process(context.Background(), actionBatch("", "grow"), &res); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(res.Outcomes[1].Err, wasmhost.ErrMemoryLimit) || !strings.Contains(res.Outcomes[1].Err.Error(), "64 pages") {
		t.Fatalf("record 1: %v", res.Outcomes[1].Err)
	}
	if res.Outcomes[0].Err != nil {
		t.Fatalf("record 0: %v", res.Outcomes[0].Err)
	}
}

type logCapture struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (c *logCapture) Enabled(context.Context, slog.Level) bool { return true }
func (c *logCapture) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recs = append(c.recs, r.Clone())
	return nil
}
func (c *logCapture) WithAttrs(as []slog.Attr) slog.Handler { return &attrHandler{c, as} }
func (c *logCapture) WithGroup(string) slog.Handler         { return c }

type attrHandler struct {
	*logCapture
	attrs []slog.Attr
}

func (h *attrHandler) Handle(ctx context.Context, r slog.Record) error {
	r = r.Clone()
	r.AddAttrs(h.attrs...)
	return h.logCapture.Handle(ctx, r)
}

func TestHostFunctions(t *testing.T) {
	capture := &logCapture{}
	var mu sync.Mutex
	counters := map[string]int64{}
	pinned := time.Unix(1_700_000_000, 123456789)
	m := openBehave(t, wasmhost.Options{
		Name:   "behave",
		Logger: slog.New(capture),
		OnCounter: func(name string, d int64) {
			mu.Lock()
			defer mu.Unlock()
			counters[name] += d
		},
		Clock: func() time.Time { return pinned },
	})
	b := actionBatch("log", "log", "clock")
	b.Records[0].Fields = append(b.Records[0].Fields, wasmhost.Field{Key: []byte("msg"), Value: []byte("hello from the guest")})
	var res wasmhost.Result
	if err := m.Process(context.Background(), b, &res); err != nil {
		t.Fatal(err)
	}
	if counters["seen"] != 2 {
		t.Fatalf("counters = %v", counters)
	}
	if v, _ := field(res.Outputs(2)[0], "now"); v != "1700000000123456789" {
		t.Fatalf("clock field = %q", v)
	}
	capture.mu.Lock()
	defer capture.mu.Unlock()
	var guest []slog.Record
	for _, r := range capture.recs {
		if r.Level > slog.LevelDebug { // the host's own debug records are not the guest's
			guest = append(guest, r)
		}
	}
	if len(guest) != 1 || guest[0].Message != "hello from the guest" || guest[0].Level != slog.LevelWarn {
		t.Fatalf("logs = %+v", guest)
	}
	var module string
	guest[0].Attrs(func(a slog.Attr) bool {
		if a.Key == "module" {
			module = a.Value.String()
		}
		return true
	})
	if module != "behave" {
		t.Fatalf("log has module=%q", module)
	}
}

func TestConcurrentPool(t *testing.T) {
	ctx := context.Background()
	m, err := wasmhost.Open(ctx, modulePath(t, "c_identity"), wasmhost.Options{Instances: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			var res wasmhost.Result
			for k := 0; k < 20; k++ {
				b := sampleBatch(10 + g)
				if err := m.Process(ctx, b, &res); err != nil {
					errs <- err
					return
				}
				for i := range b.Records {
					if !sameRecord(res.Outputs(i)[0], b.Records[i]) {
						errs <- errors.New("output differs from input")
						return
					}
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	var res wasmhost.Result
	if err := m.Process(ctx, sampleBatch(1), &res); !errors.Is(err, wasmhost.ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}

func TestEmptyBatch(t *testing.T) {
	m := openBehave(t, wasmhost.Options{})
	res := wasmhost.Result{Records: make([]wasmhost.Record, 3)}
	if err := m.Process(context.Background(), &wasmhost.Batch{}, &res); err != nil || len(res.Outcomes) != 0 || len(res.Records) != 0 {
		t.Fatalf("err=%v res=%+v", err, res)
	}
}

func TestLargeBatchSplitIntoCalls(t *testing.T) {
	m := openBehave(t, wasmhost.Options{MaxCallRecords: 4})
	actions := make([]string, 11)
	actions[2], actions[6], actions[9] = "drop", "trap", "dup"
	var res wasmhost.Result
	if err := m.Process(context.Background(), actionBatch(actions...), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Outcomes) != 11 || len(res.Records) != 9 {
		t.Fatalf("%d outcomes, %d outputs", len(res.Outcomes), len(res.Records))
	}
	var re *wasmhost.RecordError
	if !errors.As(res.Outcomes[6].Err, &re) || re.Index != 6 {
		t.Fatalf("record 6: %v", res.Outcomes[6].Err)
	}
	for i, oc := range res.Outcomes {
		if i == 2 || i == 6 {
			continue
		}
		if oc.Count != 1 || oc.Err != nil {
			t.Fatalf("record %d: %+v", i, oc)
		}
		if v, _ := field(res.Outputs(i)[0], "n"); v != string([]byte{byte('a' + i)}) {
			t.Fatalf("record %d: output n=%q", i, v)
		}
	}
}

func TestGoGuestPanicIsolated(t *testing.T) {
	ctx := context.Background()
	m, err := wasmhost.Open(ctx, modulePath(t, "go_panicky"), wasmhost.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	var res wasmhost.Result
	if err := m.Process(ctx, actionBatch("", "", "panic", ""), &res); err != nil {
		t.Fatal(err)
	}
	var re *wasmhost.RecordError
	if !errors.As(res.Outcomes[2].Err, &re) || !errors.Is(re, wasmhost.ErrTrap) || re.Index != 2 {
		t.Fatalf("record 2: %v", res.Outcomes[2].Err)
	}
	if !strings.Contains(re.Detail, "panic: poison record 2") {
		t.Fatalf("record 2: panic message missing from %q", re.Detail)
	}
	for _, i := range []int{0, 1, 3} {
		if res.Outcomes[i].Err != nil || res.Outcomes[i].Count != 1 {
			t.Fatalf("record %d: %+v", i, res.Outcomes[i])
		}
	}
	t.Logf("isolated: %.300s", re.Error())
}

// TestAssemblyScriptDefaultAbort runs a module built with asc's defaults, whose throw
// calls the env.abort import: the host provides it, so the throwing record fails with
// the message and its place while the others pass.
func TestAssemblyScriptDefaultAbort(t *testing.T) {
	ctx := context.Background()
	m, err := wasmhost.Open(ctx, modulePath(t, "as_abort_env"), wasmhost.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	b := &wasmhost.Batch{}
	for _, a := range []string{"keep", "abort", "keep"} {
		b.Records = append(b.Records, wasmhost.Record{Fields: []wasmhost.Field{{Key: []byte("action"), Value: []byte(a)}}})
	}
	var res wasmhost.Result
	if err := m.Process(ctx, b, &res); err != nil {
		t.Fatal(err)
	}
	var re *wasmhost.RecordError
	if !errors.As(res.Outcomes[1].Err, &re) || !errors.Is(re, wasmhost.ErrTrap) || re.Index != 1 {
		t.Fatalf("record 1: %v", res.Outcomes[1].Err)
	}
	if !strings.Contains(re.Detail, "abort: asked to abort record 1 at sdk/assemblyscript/tests/abort.ts:") {
		t.Fatalf("record 1: abort message missing from %q", re.Detail)
	}
	for _, i := range []int{0, 2} {
		if res.Outcomes[i].Err != nil || res.Outcomes[i].Count != 1 {
			t.Fatalf("record %d: %+v", i, res.Outcomes[i])
		}
	}
}

// TestLoopingInitializeHitsDeadline opens a module whose _initialize spins: Open fails
// with a deadline error naming it, rather than hanging.
func TestLoopingInitializeHitsDeadline(t *testing.T) {
	_, err := wasmhost.Open(context.Background(), modulePath(t, "wat_init_loop"), wasmhost.Options{Timeout: 100 * time.Millisecond})
	if !errors.Is(err, wasmhost.ErrDeadline) || !strings.Contains(err.Error(), "_initialize") {
		t.Fatalf("err = %v", err)
	}
}
