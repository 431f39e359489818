package sls_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/connectors/sls"
	"github.com/slspipe/slspipe/emulator/faults"
	"github.com/slspipe/slspipe/engine/enginetest"
)

// TestSplitAndMergeWhileWriting splits and merges shards while a producer
// writes keyed records: every record arrives exactly once and each key's
// records arrive in the order written.
func TestSplitAndMergeWhileWriting(t *testing.T) {
	srv := startEmulator(t, 2)
	p := newProducer(srv)
	keys := keysN(24)
	p.fill(t, keys, 2, 3)
	sink := newOrderSink()
	r := startPipeline(t, newSource(t, sourceConfig(srv)), sink, enginetest.NewStore())

	ctx, stopWriting := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			p.fill(t, keys, 1, 2)
		}
	})
	eventually(t, "records flowing", func() bool { return sink.distinct() > p.total()/2 })
	children, err := srv.SplitShardInto(project, logstore, 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	before := p.total()
	eventually(t, "writes after the split", func() bool { return p.total() > before+200 })
	merged, err := srv.MergeShards(project, logstore, children[1])
	if err != nil {
		t.Fatal(err)
	}
	before = p.total()
	eventually(t, "writes after the merge", func() bool { return p.total() > before+200 })
	stopWriting()
	wg.Wait()
	eventually(t, "every record", func() bool { return sink.distinct() == p.total() })
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	sink.checkComplete(t, p, true)
	t.Logf("split 0 into %v, merged into %d; %d records", children, merged, p.total())
}

// TestRestartResumesFromCheckpoint stops a run and starts another with the
// same checkpoint store: nothing is lost and nothing committed is
// delivered again.
func TestRestartResumesFromCheckpoint(t *testing.T) {
	srv := startEmulator(t, 3)
	p := newProducer(srv)
	keys := keysN(9)
	p.fill(t, keys, 4, 5)
	store := enginetest.NewStore()
	sink1 := newOrderSink()
	r1 := startPipeline(t, newSource(t, sourceConfig(srv)), sink1, store)
	eventually(t, "first run", func() bool { return sink1.distinct() == p.total() })
	if err := r1.stop(t); err != nil {
		t.Fatal(err)
	}
	first := p.total()

	p.fill(t, keys, 3, 2)
	sink2 := newOrderSink()
	r2 := startPipeline(t, newSource(t, sourceConfig(srv)), sink2, store)
	eventually(t, "second run", func() bool { return sink2.distinct() == p.total()-first })
	if err := r2.stop(t); err != nil {
		t.Fatal(err)
	}
	if sink2.delivered() != p.total()-first {
		t.Fatalf("second run delivered %d records, want only the %d new ones", sink2.delivered(), p.total()-first)
	}
	for id := range sink2.count {
		if n := sink1.count[id]; n != 0 {
			t.Fatalf("%s delivered again after restart", id)
		}
	}
}

// TestInjectedFaultsLoseNothing reads with 10% throttling and 10% server
// errors on reads and metadata calls.
func TestInjectedFaultsLoseNothing(t *testing.T) {
	srv := startEmulator(t, 4)
	p := newProducer(srv)
	keys := keysN(16)
	p.fill(t, keys, 10, 5)
	in := srv.Faults()
	in.SetSeed(7)
	for _, f := range []faults.Fault{
		{Match: faults.Match{Kind: faults.Read}, Probability: 0.1, Status: 403, Code: faults.CodeShardReadQuotaExceed},
		{Match: faults.Match{Kind: faults.Read}, Probability: 0.1, Status: 500},
		{Match: faults.Match{Kind: faults.Meta}, Probability: 0.1, Status: 503},
	} {
		if _, err := in.Add(f); err != nil {
			t.Fatal(err)
		}
	}
	reg := prometheus.NewRegistry()
	cfg := sourceConfig(srv)
	cfg.MaxPerFetch = 5
	sink := newOrderSink()
	r := startPipeline(t, newSource(t, cfg, sls.WithRegisterer(reg)), sink, enginetest.NewStore())
	eventually(t, "every record", func() bool { return sink.distinct() == p.total() })
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	sink.checkComplete(t, p, true)
	st := in.Stats()
	if st.Injected == 0 {
		t.Fatalf("no fault was injected: %+v", st)
	}
	retries := counterSum(t, reg, "slspipe_sls_source_retries_total")
	t.Logf("faults injected: %+v; retries: %v", st, retries)
}

// TestCursorExpired makes the stored cursor of a one-shard logstore
// expire and checks each on_cursor_expired policy.
func TestCursorExpired(t *testing.T) {
	for _, policy := range []string{"begin", "end", "fail"} {
		t.Run(policy, func(t *testing.T) {
			srv := startEmulator(t, 1)
			p := newProducer(srv)
			p.fill(t, []string{"a"}, 3, 2)
			store := enginetest.NewStore()
			cfg := sourceConfig(srv)
			cfg.OnCursorExpired = policy
			sink1 := newOrderSink()
			r1 := startPipeline(t, newSource(t, cfg), sink1, store)
			eventually(t, "first run", func() bool { return sink1.distinct() == p.total() })
			if err := r1.stop(t); err != nil {
				t.Fatal(err)
			}
			// More data arrives, then everything so far expires: the
			// stored cursor now points before the oldest data.
			p.fill(t, []string{"b"}, 3, 2)
			if n, err := srv.ExpireBefore(project, logstore, 0, time.Now()); err != nil || n != 6 {
				t.Fatalf("ExpireBefore = %d, %v; want 6 groups", n, err)
			}
			p.fill(t, []string{"c"}, 2, 2) // after the expiry: c/0..c/3

			reg := prometheus.NewRegistry()
			sink2 := newOrderSink()
			r2 := startPipeline(t, newSource(t, cfg, sls.WithRegisterer(reg)), sink2, store)
			switch policy {
			case "begin":
				eventually(t, "data after the expiry", func() bool { return sink2.distinct() == 4 })
				if sink2.count["c/0"] != 1 || sink2.count["b/0"] != 0 {
					t.Fatalf("begin: got %v", sink2.count)
				}
			case "end":
				eventually(t, "data written after the restart", func() bool {
					p.write(t, "d", 1)
					return sink2.distinct() > 0
				})
				if sink2.count["c/0"] != 0 {
					t.Fatal("end: read data that was there before the restart")
				}
			case "fail":
				err := r2.wait(t)
				if err == nil || !strings.Contains(err.Error(), "expired") || !strings.Contains(err.Error(), "InvalidCursor") {
					t.Fatalf("fail: Run = %v, want an expired-cursor error", err)
				}
				t.Logf("fail policy error: %v", err)
			}
			_ = r2.stop(t)
			if got := counterSum(t, reg, "slspipe_sls_source_cursor_expired_total"); got != 1 {
				t.Fatalf("cursor_expired_total = %v, want 1", got)
			}
		})
	}
}

// counterSum returns the sum of a counter family's series.
func counterSum(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// TestBadInputFailsOnce checks that an unknown logstore, wrong credentials
// and an unreachable endpoint each end Run with one clear error, without
// retrying what cannot succeed.
func TestBadInputFailsOnce(t *testing.T) {
	srv := startEmulator(t, 2)
	cases := []struct {
		name   string
		mutate func(*config.SLSSource)
		want   []string
		retry  bool // retried before failing
	}{
		{"unknown logstore", func(c *config.SLSSource) { c.Logstores = []string{"nope"} },
			[]string{`"nope"`, srv.Addr(), "LogStoreNotExist"}, false},
		{"wrong credentials", func(c *config.SLSSource) { c.AccessKeySecret = config.NewSecret("wrong") },
			[]string{`"app"`, srv.Addr(), "401"}, false},
		{"unreachable endpoint", func(c *config.SLSSource) {
			c.Endpoint = "http://127.0.0.1:1"
			c.Retry.MaxRetries = 3
		}, []string{`"app"`, "127.0.0.1:1", "unreachable after 3 retries"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := sourceConfig(srv)
			tc.mutate(&cfg)
			reg := prometheus.NewRegistry()
			r := startPipeline(t, newSource(t, cfg, sls.WithRegisterer(reg)), newOrderSink())
			err := r.wait(t)
			if err == nil {
				t.Fatal("Run succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "wrong") || strings.Contains(err.Error(), "slspipe-local-secret") {
				t.Errorf("error shows a secret: %q", err)
			}
			n := counterSum(t, reg, "slspipe_sls_source_retries_total")
			if tc.retry != (n > 0) {
				t.Errorf("retries = %v, want retries %v", n, tc.retry)
			}
			t.Logf("%v", err)
		})
	}
}
