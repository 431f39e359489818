package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/emulator"
	"github.com/slspipe/slspipe/engine"
)

// An SLS sink and an SLS dead-letter sink writing to the same logstore
// both register their metrics with the pipeline's registry, told apart by
// role; the logs the sink stored are counted.
func TestSLSSinkAndDeadLetterMetrics(t *testing.T) {
	srv, err := emulator.New(emulator.Config{Logstores: []emulator.LogstoreSpec{{Project: "demo", Logstore: "out", Shards: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	const n = 300
	sls := fmt.Sprintf(`
  sls:
    endpoint: http://%s
    project: demo
    logstore: out
    access_key_id: %s
    access_key_secret: %s
    linger: 10ms`, srv.Addr(), emulator.DefaultAccessKeyID, emulator.DefaultAccessKeySecret)
	path := writeFile(t, "pipeline.yaml", fmt.Sprintf(`version: 1
name: wired
source:
  generate: {count: %d}
checkpoint:
  path: %s
on_error: dead_letter
sink:%s
dead_letter:%s
`, n, filepath.Join(t.TempDir(), "state.db"), sls, sls))
	p, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var reg *prometheus.Registry
	logger := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := runLoaded(ctx, p, logger, io.Discard, func(_ *engine.Pipeline, r *prometheus.Registry) { reg = r }); err != nil {
		t.Fatal(err)
	}

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "slspipe_sls_sink_logs_total" && mf.GetName() != "slspipe_sls_sink_max_memory_bytes" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["pipeline"] != "wired" || labels["project"] != "demo" || labels["logstore"] != "out" {
				t.Errorf("%s has labels %v", mf.GetName(), labels)
			}
			got[mf.GetName()+"/"+labels["role"]] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	want := map[string]float64{
		"slspipe_sls_sink_logs_total/sink":        n,
		"slspipe_sls_sink_logs_total/dead_letter": 0,
		// Both series exist; each producer took its budget back when the run ended.
		"slspipe_sls_sink_max_memory_bytes/sink":        0,
		"slspipe_sls_sink_max_memory_bytes/dead_letter": 0,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("series %v, want %v", got, want)
	}
}
