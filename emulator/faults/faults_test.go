package faults

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"
)

func writeOp(logstore string, shard int) Op {
	return Op{Kind: Write, Project: "p", Logstore: logstore, Shard: shard, Bytes: 100}
}

func readOp(logstore string, shard int) Op {
	return Op{Kind: Read, Project: "p", Logstore: logstore, Shard: shard}
}

func mustAdd(t *testing.T, in *Injector, f Fault) int {
	t.Helper()
	id, err := in.Add(f)
	if err != nil {
		t.Fatalf("Add(%+v): %v", f, err)
	}
	return id
}

func TestOffByDefault(t *testing.T) {
	in := New()
	for _, op := range []Op{writeOp("a", 0), readOp("a", 1), {Kind: Meta, Shard: -1}} {
		if d := in.Before(op); d != (Decision{}) {
			t.Fatalf("Before(%+v) = %+v with nothing configured", op, d)
		}
	}
	if s := in.Stats(); s.Injected != 0 || s.QuotaRejections != 0 {
		t.Fatalf("stats %+v, want zero", s)
	}
}

func TestThrottleNextN(t *testing.T) {
	in := New()
	mustAdd(t, in, Throttle(Write, "a", 3, ""))

	if d := in.Before(writeOp("b", 0)); d.Err != nil {
		t.Fatalf("write on another logstore throttled: %v", d.Err)
	}
	if d := in.Before(readOp("a", 0)); d.Err != nil {
		t.Fatalf("read throttled by a write fault: %v", d.Err)
	}
	for i := range 3 {
		d := in.Before(writeOp("a", i))
		if d.Err == nil || d.Err.Status != http.StatusForbidden || d.Err.Code != CodeShardWriteQuotaExceed {
			t.Fatalf("write %d: got %+v, want 403 ShardWriteQuotaExceed", i, d.Err)
		}
		if d.Err.Message != "shard write qps/bytes exceed quota limits" {
			t.Fatalf("message %q", d.Err.Message)
		}
	}
	if d := in.Before(writeOp("a", 0)); d.Err != nil {
		t.Fatalf("write after the throttle ran out: %v", d.Err)
	}
	if f := in.Faults(); len(f) != 0 {
		t.Fatalf("exhausted fault still in the plan: %+v", f)
	}
	s := in.Stats()
	if s.Injected != 3 || s.Errors != 3 || s.Exhausted != 1 || s.ByCode[CodeShardWriteQuotaExceed] != 3 {
		t.Fatalf("stats %+v", s)
	}
}

func TestThrottleReadDefaultsAndExplicitCode(t *testing.T) {
	in := New()
	mustAdd(t, in, Throttle(Read, "", 1, ""))
	mustAdd(t, in, Throttle(Any, "", 1, CodeWriteQuotaExceed))

	d := in.Before(readOp("x", 2))
	if d.Err == nil || d.Err.Code != CodeShardReadQuotaExceed || d.Err.Message != "shard read qps/bytes exceed quota limits" {
		t.Fatalf("read: %+v", d.Err)
	}
	d = in.Before(Op{Kind: Meta, Project: "p", Shard: -1})
	if d.Err == nil || d.Err.Code != CodeWriteQuotaExceed || d.Err.Status != http.StatusForbidden {
		t.Fatalf("meta: %+v", d.Err)
	}
}

func TestServerErrorsAreSeededAndProportional(t *testing.T) {
	const n = 20000
	run := func(seed uint64) []bool {
		in := New()
		in.SetSeed(seed)
		mustAdd(t, in, ServerErrors(0.25, http.StatusServiceUnavailable))
		out := make([]bool, n)
		for i := range out {
			d := in.Before(readOp("a", i%4))
			if d.Err != nil {
				if d.Err.Status != http.StatusServiceUnavailable || d.Err.Code != CodeServerBusy {
					t.Fatalf("got %+v, want 503 ServerBusy", d.Err)
				}
				out[i] = true
			}
		}
		return out
	}
	a, b, c := run(7), run(7), run(8)
	failed, sameAsOtherSeed := 0, true
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("request %d: same seed, different decision", i)
		}
		if a[i] {
			failed++
		}
		if a[i] != c[i] {
			sameAsOtherSeed = false
		}
	}
	if sameAsOtherSeed {
		t.Fatal("different seeds gave the same decisions")
	}
	// 25% of 20000 with a standard deviation of about 61.
	if failed < 4600 || failed > 5400 {
		t.Fatalf("%d of %d requests failed, want about 25%%", failed, n)
	}
}

func TestServerErrorCodes(t *testing.T) {
	in := New()
	mustAdd(t, in, Fault{Count: 1, Status: http.StatusInternalServerError})
	mustAdd(t, in, Fault{Count: 1, Status: http.StatusInternalServerError, Code: CodeServerBusy})
	d := in.Before(writeOp("a", 0))
	if d.Err == nil || d.Err.Code != CodeInternalServerError || d.Err.Message != "internal server error" {
		t.Fatalf("first: %+v", d.Err)
	}
	d = in.Before(writeOp("a", 0))
	if d.Err == nil || d.Err.Status != 500 || d.Err.Code != CodeServerBusy {
		t.Fatalf("second: %+v", d.Err)
	}
}

func TestLatency(t *testing.T) {
	in := New()
	mustAdd(t, in, Fault{Match: Match{Kind: Read}, Count: 2, Delay: Duration(150 * time.Millisecond)})
	if d := in.Before(writeOp("a", 0)); d.Delay != 0 {
		t.Fatalf("write delayed by a read fault: %v", d.Delay)
	}
	for i := range 2 {
		if d := in.Before(readOp("a", 0)); d.Delay != 150*time.Millisecond || d.Err != nil || d.Drop {
			t.Fatalf("read %d: %+v", i, d)
		}
	}
	if d := in.Before(readOp("a", 0)); d.Delay != 0 {
		t.Fatalf("delay after the fault ran out: %v", d.Delay)
	}
	if s := in.Stats(); s.Delays != 2 || s.Errors != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestLatencyThenErrorCombine(t *testing.T) {
	in := New()
	mustAdd(t, in, Latency(time.Second))
	mustAdd(t, in, Throttle(Any, "", 1, ""))
	d := in.Before(readOp("a", 0))
	if d.Delay != time.Second || d.Err == nil {
		t.Fatalf("got %+v, want a delayed error", d)
	}
}

func TestDropConnections(t *testing.T) {
	in := New()
	mustAdd(t, in, DropConnections(2))
	for i := range 2 {
		if d := in.Before(Op{Kind: Meta, Shard: -1}); !d.Drop || d.Err != nil {
			t.Fatalf("request %d: %+v, want a drop", i, d)
		}
	}
	if d := in.Before(Op{Kind: Meta, Shard: -1}); d.Drop {
		t.Fatal("third request dropped")
	}
	if s := in.Stats(); s.Drops != 2 {
		t.Fatalf("stats %+v", s)
	}
}

func TestShardMatch(t *testing.T) {
	in := New()
	one := 1
	mustAdd(t, in, Fault{Match: Match{Shard: &one}, Status: 503})
	if d := in.Before(readOp("a", 0)); d.Err != nil {
		t.Fatalf("shard 0 failed: %v", d.Err)
	}
	if d := in.Before(readOp("a", 1)); d.Err == nil {
		t.Fatal("shard 1 did not fail")
	}
}

func TestRemoveAndClear(t *testing.T) {
	in := New()
	id := mustAdd(t, in, Throttle(Any, "", 0, ""))
	if d := in.Before(readOp("a", 0)); d.Err == nil {
		t.Fatal("fault not applied")
	}
	if !in.Remove(id) || in.Remove(id) {
		t.Fatal("Remove should succeed once")
	}
	if d := in.Before(readOp("a", 0)); d.Err != nil {
		t.Fatalf("removed fault applied: %v", d.Err)
	}
	mustAdd(t, in, DropConnections(0))
	in.ClearFaults()
	if d := in.Before(readOp("a", 0)); d.Drop {
		t.Fatal("cleared fault applied")
	}
}

func TestValidate(t *testing.T) {
	bad := []Fault{
		{},
		{Status: 200},
		{Status: 503, Drop: true},
		{Status: 503, Probability: 1.5},
		{Status: 503, Count: -1},
		{Delay: Duration(-time.Second)},
		{Status: 503, Match: Match{Kind: Kind(9)}},
	}
	in := New()
	for _, f := range bad {
		if _, err := in.Add(f); err == nil {
			t.Errorf("Add(%+v) accepted an invalid fault", f)
		}
	}
	if len(in.Faults()) != 0 {
		t.Fatal("invalid faults entered the plan")
	}
	if err := in.SetQuotas(Quotas{ShardReadQPS: -1}); err == nil {
		t.Fatal("negative quota accepted")
	}
}

// fakeClock drives the quota buckets deterministically.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newClocked(t *testing.T, q Quotas) (*Injector, *fakeClock) {
	t.Helper()
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	in := New()
	in.now = clk.now
	if err := in.SetQuotas(q); err != nil {
		t.Fatal(err)
	}
	return in, clk
}

func TestShardWriteQPSQuota(t *testing.T) {
	in, clk := newClocked(t, Quotas{ShardWriteQPS: 5})
	for i := range 5 {
		if d := in.Before(writeOp("a", 0)); d.Err != nil {
			t.Fatalf("write %d within quota refused: %v", i, d.Err)
		}
	}
	d := in.Before(writeOp("a", 0))
	if d.Err == nil || d.Err.Status != http.StatusForbidden || d.Err.Code != CodeShardWriteQuotaExceed {
		t.Fatalf("6th write in the same second: %+v, want 403 ShardWriteQuotaExceed", d.Err)
	}
	if d := in.Before(writeOp("a", 1)); d.Err != nil {
		t.Fatalf("another shard shares the bucket: %v", d.Err)
	}
	if d := in.Before(writeOp("a", -1)); d.Err != nil {
		t.Fatalf("a write with no shard was throttled by a shard quota: %v", d.Err)
	}
	clk.advance(200 * time.Millisecond) // one token back
	if d := in.Before(writeOp("a", 0)); d.Err != nil {
		t.Fatalf("write after refill refused: %v", d.Err)
	}
	if d := in.Before(writeOp("a", 0)); d.Err == nil {
		t.Fatal("bucket refilled more than one token in 200ms")
	}
	if s := in.Stats(); s.QuotaRejections != 2 || s.ByCode[CodeShardWriteQuotaExceed] != 2 {
		t.Fatalf("stats %+v", s)
	}
}

func TestShardWriteBytesQuota(t *testing.T) {
	in, clk := newClocked(t, Quotas{ShardWriteBytes: 1000})
	op := writeOp("a", 0)
	op.Bytes = 600
	if d := in.Before(op); d.Err != nil {
		t.Fatalf("first 600 B refused: %v", d.Err)
	}
	if d := in.Before(op); d.Err == nil || d.Err.Code != CodeShardWriteQuotaExceed {
		t.Fatalf("second 600 B in the same second: %+v", d.Err)
	}
	clk.advance(time.Second)
	big := op
	big.Bytes = 5000 // larger than the bucket: passes only when it is full
	if d := in.Before(big); d.Err != nil {
		t.Fatalf("oversized write with a full bucket refused: %v", d.Err)
	}
	if d := in.Before(op); d.Err == nil {
		t.Fatal("bucket not drained by the oversized write")
	}
}

func TestProjectWriteQuota(t *testing.T) {
	in, _ := newClocked(t, Quotas{ProjectWriteQPS: 2, ProjectWriteBytes: 10_000})
	for shard := range 2 {
		if d := in.Before(writeOp("a", shard)); d.Err != nil {
			t.Fatalf("write %d refused: %v", shard, d.Err)
		}
	}
	d := in.Before(writeOp("b", 5))
	if d.Err == nil || d.Err.Code != CodeWriteQuotaExceed || d.Err.Message != "Project write quota exceed: qps" {
		t.Fatalf("third project write: %+v", d.Err)
	}
	other := writeOp("a", 0)
	other.Project = "q"
	other.Bytes = 20_000
	if d := in.Before(other); d.Err != nil {
		t.Fatalf("oversized write with a full inflow bucket refused: %v", d.Err)
	}
	if d := in.Before(other); d.Err == nil || d.Err.Message != "Project write quota exceed: inflow" {
		t.Fatalf("inflow: %+v", d.Err)
	}
}

func TestShardReadQuotas(t *testing.T) {
	in, clk := newClocked(t, Quotas{ShardReadQPS: 100, ShardReadBytes: 1000})
	op := readOp("a", 3)
	if d := in.Before(op); d.Err != nil {
		t.Fatalf("first read refused: %v", d.Err)
	}
	in.AfterRead(op, 400)
	if d := in.Before(op); d.Err != nil {
		t.Fatalf("read with budget left refused: %v", d.Err)
	}
	in.AfterRead(op, 4000) // overdraws the shard
	d := in.Before(op)
	if d.Err == nil || d.Err.Status != http.StatusForbidden || d.Err.Code != CodeShardReadQuotaExceed {
		t.Fatalf("read after overdraw: %+v, want 403 ShardReadQuotaExceed", d.Err)
	}
	if d := in.Before(readOp("a", 4)); d.Err != nil {
		t.Fatalf("another shard refused: %v", d.Err)
	}
	clk.advance(1500 * time.Millisecond)
	if d := in.Before(op); d.Err != nil {
		t.Fatalf("read after the debt was paid refused: %v", d.Err)
	}
}

func TestProjectReadQuota(t *testing.T) {
	in, _ := newClocked(t, Quotas{ProjectReadQPS: 1})
	if d := in.Before(readOp("a", 0)); d.Err != nil {
		t.Fatal(d.Err)
	}
	if d := in.Before(readOp("b", 1)); d.Err == nil || d.Err.Code != CodeReadQuotaExceed {
		t.Fatalf("got %+v, want ReadQuotaExceed", d.Err)
	}
}

func TestWaitFor(t *testing.T) {
	in := New()
	mustAdd(t, in, Throttle(Write, "", 50, ""))
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 80 {
			in.Before(writeOp("a", 0))
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := in.WaitFor(ctx, func(s Stats) bool { return s.Errors >= 50 })
	if err != nil {
		t.Fatalf("WaitFor: %v (stats %+v)", err, s)
	}
	if s.Errors != 50 {
		t.Fatalf("errors %d, want 50", s.Errors)
	}

	short, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := in.WaitFor(short, func(s Stats) bool { return s.Errors > 1000 }); err == nil {
		t.Fatal("WaitFor returned nil for a condition that cannot hold")
	}
}

func TestResetClearsEverything(t *testing.T) {
	in := New()
	mustAdd(t, in, Throttle(Any, "", 0, ""))
	if err := in.SetQuotas(Quotas{ShardReadQPS: 1}); err != nil {
		t.Fatal(err)
	}
	in.Before(readOp("a", 0))
	in.Reset()
	if d := in.Before(readOp("a", 0)); d != (Decision{}) {
		t.Fatalf("after Reset: %+v", d)
	}
	if s := in.Stats(); s.Injected != 0 || len(s.ByCode) != 0 {
		t.Fatalf("counters after Reset: %+v", s)
	}
	if in.active.Load() {
		t.Fatal("fast path still active after Reset")
	}
}

// TestConcurrentUse exercises every entry point at once; run with -race.
func TestConcurrentUse(t *testing.T) {
	in := New()
	mustAdd(t, in, ServerErrors(0.1, 500))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				op := readOp("a", (g+i)%3)
				in.Before(op)
				in.AfterRead(op, 100)
				if i%100 == 0 {
					_ = in.SetQuotas(Quotas{ShardReadQPS: 1000})
					mustAdd(t, in, Latency(time.Millisecond))
					_ = in.State()
					in.ClearFaults()
				}
			}
		}()
	}
	wg.Wait()
}

func BenchmarkBeforeOff(b *testing.B) {
	in := New()
	op := readOp("a", 0)
	for b.Loop() {
		in.Before(op)
	}
}

func BenchmarkBeforeWithQuotaAndPlan(b *testing.B) {
	in := New()
	if err := in.SetQuotas(Quotas{ShardReadQPS: 1e12, ProjectReadQPS: 1e12}); err != nil {
		b.Fatal(err)
	}
	if _, err := in.Add(Fault{Match: Match{Logstore: "other"}, Status: 503}); err != nil {
		b.Fatal(err)
	}
	op := readOp("a", 0)
	for b.Loop() {
		in.Before(op)
	}
}
