package sls_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/connectors/sls"
	"github.com/slspipe/slspipe/emulator"
	"github.com/slspipe/slspipe/emulator/faults"
	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/internal/metricstest"
	"github.com/slspipe/slspipe/internal/slstest"
)

// sinkConfig is a sink configuration writing to logstore of srv, reached
// through its address, with a short linger and fast retries.
func sinkConfig(srv *emulator.Server, logstore string) config.SLSSink {
	return config.SLSSink{
		SLSAuth: config.SLSAuth{
			Endpoint: "http://" + srv.Addr(), Project: project,
			AccessKeyID:      config.NewSecret(emulator.DefaultAccessKeyID),
			AccessKeySecret:  config.NewSecret(emulator.DefaultAccessKeySecret),
			SignatureVersion: "v1",
		},
		Logstore:      logstore,
		IOThreads:     4,
		Linger:        config.Duration(20 * time.Millisecond),
		MaxBatchCount: 100,
		Compression:   "lz4",
		Retries:       10,
		BaseBackoff:   config.Duration(5 * time.Millisecond),
		MaxBackoff:    config.Duration(50 * time.Millisecond),
	}
}

// confirmed counts a sink's confirmations; done is closed once want have
// arrived.
type confirmed struct {
	mu         sync.Mutex
	ok, failed int
	want       int
	firstErr   error
	done       chan struct{}
}

func newConfirmed(want int) *confirmed { return &confirmed{want: want, done: make(chan struct{})} }

// Confirm implements engine.Confirmer.
func (c *confirmed) Confirm(n int, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.failed += n
		c.firstErr = err
	} else {
		c.ok += n
	}
	if c.ok+c.failed == c.want {
		close(c.done)
	}
}

func (c *confirmed) await(t *testing.T) {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(time.Minute):
		t.Fatal("records not all confirmed within a minute")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failed != 0 {
		t.Fatalf("%d of %d records failed: %v", c.failed, c.want, c.firstErr)
	}
}

// A sink and a dead-letter sink registered with one pipeline registry, as
// slspipe wires them, count what they store apart; the 503s injected on
// the sink's writes are counted as retries and lose nothing.
func TestSinkMetrics(t *testing.T) {
	const out, dlq, n, busy = "out", "dlq", 1000, 4
	srv, err := emulator.New(emulator.Config{Logstores: []emulator.LogstoreSpec{
		{Project: project, Logstore: out, Shards: 2},
		{Project: project, Logstore: dlq, Shards: 1},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	if _, err := srv.Faults().Add(faults.Fault{Match: faults.Match{Kind: faults.Write, Logstore: out}, Count: busy, Status: 503}); err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewRegistry()
	newSink := func(logstore, role string) *sls.Sink {
		s, err := sls.NewSink(sinkConfig(srv, logstore), slog.New(slog.DiscardHandler), "metrics",
			sls.WithRegisterer(prometheus.WrapRegistererWith(prometheus.Labels{"pipeline": "metrics", "role": role}, reg)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close(context.Background()) })
		return s
	}
	sink, deadLetter := newSink(out, "sink"), newSink(dlq, "dead_letter")

	recs := make([]engine.Record, n)
	for i := range recs {
		recs[i] = engine.Record{Fields: []engine.Field{
			{Key: []byte("seq"), Value: []byte(fmt.Sprint(i))},
			{Key: []byte("msg"), Value: []byte(fmt.Sprintf("request %d served", i))},
		}}
	}
	c, cd := newConfirmed(n), newConfirmed(10)
	if err := sink.Write(context.Background(), recs, c); err != nil {
		t.Fatal(err)
	}
	if err := deadLetter.Write(context.Background(), recs[:10], cd); err != nil {
		t.Fatal(err)
	}
	c.await(t)
	cd.await(t)
	for _, s := range []*sls.Sink{sink, deadLetter} {
		if err := s.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}

	if st := srv.Faults().Stats(); st.ByCode["ServerBusy"] != busy {
		t.Fatalf("faults injected: %+v, want %d 503s", st, busy)
	}
	stored := 0
	groups, err := slstest.ReadAll(sdkClient(srv), project, out)
	if err != nil {
		t.Fatal(err)
	}
	for _, gs := range groups {
		for _, g := range gs {
			stored += len(g.Logs)
		}
	}
	if stored != n {
		t.Fatalf("read back %d logs of %d written", stored, n)
	}

	want := []string{
		`slspipe_sls_sink_buffered_bytes{logstore="dlq",pipeline="metrics",project="demo",role="dead_letter"} 0`,
		`slspipe_sls_sink_buffered_bytes{logstore="out",pipeline="metrics",project="demo",role="sink"} 0`,
		`slspipe_sls_sink_logs_failed_total{logstore="dlq",pipeline="metrics",project="demo",role="dead_letter"} 0`,
		`slspipe_sls_sink_logs_failed_total{logstore="out",pipeline="metrics",project="demo",role="sink"} 0`,
		`slspipe_sls_sink_logs_total{logstore="dlq",pipeline="metrics",project="demo",role="dead_letter"} 10`,
		fmt.Sprintf(`slspipe_sls_sink_logs_total{logstore="out",pipeline="metrics",project="demo",role="sink"} %d`, n),
		fmt.Sprintf(`slspipe_sls_sink_retries_total{logstore="out",pipeline="metrics",project="demo",reason="ServerBusy",role="sink"} %d`, busy),
	}
	got := gatheredSeries(t, reg, "slspipe_sls_sink_buffered_bytes", "slspipe_sls_sink_logs_failed_total",
		"slspipe_sls_sink_logs_total", "slspipe_sls_sink_retries_total")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("metrics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Each 503 made one batch a retried one; none failed.
	batches := func(logstore, outcome string) float64 {
		return metricstest.Sample(t, reg, "slspipe_sls_sink_batches_total", "logstore", logstore, "outcome", outcome)
	}
	if ok, retried, failed := batches(out, "ok"), batches(out, "retried"), batches(out, "failed"); retried < 1 || retried > busy || failed != 0 || ok+retried < n/100 {
		t.Errorf("batches to %s: %v ok, %v retried, %v failed; want %d logs in batches of up to 100, %d retried at most", out, ok, retried, failed, n, busy)
	}
	if raw, comp := metricstest.Sample(t, reg, "slspipe_sls_sink_bytes_total", "role", "sink"), metricstest.Sample(t, reg, "slspipe_sls_sink_compressed_bytes_total", "role", "sink"); comp <= 0 || comp >= raw {
		t.Errorf("%v bytes stored as %v compressed", raw, comp)
	}
}

// gatheredSeries returns the series of the counters and gauges called
// names in g, one `name{labels} value` line each, sorted.
func gatheredSeries(t *testing.T, g prometheus.Gatherer, names ...string) []string {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		if !slices.Contains(names, mf.GetName()) {
			continue
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			out = append(out, fmt.Sprintf("%s{%s} %v", mf.GetName(), strings.Join(labels, ","), m.GetCounter().GetValue()+m.GetGauge().GetValue()))
		}
	}
	sort.Strings(out)
	return out
}
