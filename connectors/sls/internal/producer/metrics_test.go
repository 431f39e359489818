package producer

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/internal/metricstest"
)

// Producers registering with one registry do not fail: those with the same
// labels add to the same series, a wrapping label keeps others apart.
func TestMetricsOfProducersSharingARegistry(t *testing.T) {
	const project, logstore = "p-shared", "out"
	srv := startEmulator(t, project, logstore, 1)
	cfg := sinkConfig(srv, project, logstore)
	reg := prometheus.NewRegistry()
	role := func(r string) Option {
		return WithRegisterer(prometheus.WrapRegistererWith(prometheus.Labels{"role": r}, reg))
	}
	producers := map[*Producer]int{
		newProducer(t, srv, cfg, nil, role("sink")):        10,
		newProducer(t, srv, cfg, nil, role("sink")):        20,
		newProducer(t, srv, cfg, nil, role("dead_letter")): 5,
	}
	c := newConfirmations()
	total := 0
	for p, n := range producers {
		recs := make([]engine.Record, n)
		for i := range recs {
			recs[i] = testRecord(i, time.Now())
		}
		if err := p.Write(context.Background(), recs, c); err != nil {
			t.Fatal(err)
		}
		total += n
	}
	c.expect(total)
	c.await(t, time.Minute)
	if got := metricstest.Sample(t, reg, "slspipe_sls_sink_max_memory_bytes", "role", "sink"); got != 2*float64(cfg.MaxMemory) {
		t.Errorf("max_memory_bytes of two producers %v, want %d", got, 2*cfg.MaxMemory)
	}
	for p := range producers {
		if err := p.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	for r, want := range map[string]float64{"sink": 30, "dead_letter": 5} {
		if got := metricstest.Sample(t, reg, "slspipe_sls_sink_logs_total", "role", r, "logstore", logstore); got != want {
			t.Errorf("logs_total{role=%q} %v, want %v", r, got, want)
		}
	}
	if got := metricstest.Sample(t, reg, "slspipe_sls_sink_max_memory_bytes"); got != 0 {
		t.Errorf("max_memory_bytes %v after every producer closed, want 0", got)
	}
}

// A collector of another kind under a sink metric's name fails New.
func TestMetricsNameTakenFailsNew(t *testing.T) {
	const project, logstore = "p-taken", "out"
	srv := startEmulator(t, project, logstore, 1)
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "slspipe_sls_sink_logs_total",
		Help: "Logs SLS confirmed stored (PutLogs answered 200).",
	}, []string{"project", "logstore"}))
	_, err := New(sinkConfig(srv, project, logstore), srv.HTTPClient(), WithLogger(quiet), WithRegisterer(reg))
	if err == nil || !strings.Contains(err.Error(), "register sls sink metrics") {
		t.Fatalf("New returned %v, want a registration error", err)
	}
}

func TestRetryReason(t *testing.T) {
	for _, tc := range []struct {
		se   *SendError
		want string
	}{
		{&SendError{Err: context.DeadlineExceeded}, "network"},
		{&SendError{Status: 403, Code: "WriteQuotaExceed"}, "WriteQuotaExceed"},
		{&SendError{Status: 502, Message: "<html>bad gateway</html>"}, "http_502"},
	} {
		if got := retryReason(tc.se); got != tc.want {
			t.Errorf("retryReason(%+v) = %q, want %q", tc.se, got, tc.want)
		}
	}
}
