package engine_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/engine/enginetest"
)

// readySink is a sink whose readiness the test controls.
type readySink struct {
	*enginetest.Sink
	err error
}

func (s *readySink) Ready(context.Context) error { return s.err }

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

func TestHandlerHealthReadinessAndMetrics(t *testing.T) {
	sink := &readySink{Sink: enginetest.NewSink(enginetest.SinkConfig{Stalled: true})}
	src := enginetest.NewSource(enginetest.SourceConfig{Shards: 2, Batches: 3, Records: 2})
	p := mustNew(t, src, []engine.StageFactory{identity}, sink, testConfig(enginetest.NewStore()))
	h := p.Handler()

	if code, _ := get(t, h, "/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz = %d before start, want 200", code)
	}
	if code, _ := get(t, h, "/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz = %d before start, want 503", code)
	}
	done := start(t, context.Background(), p)
	waitFor(t, "readiness", func() bool { code, _ := get(t, h, "/readyz"); return code == http.StatusOK })
	sink.err = errors.New("nats: no servers available")
	if code, body := get(t, h, "/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "no servers") {
		t.Fatalf("/readyz with a disconnected sink = %d %q, want 503 with the cause", code, body)
	}
	sink.err = nil
	sink.Resume()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	_, metrics := get(t, h, "/metrics")
	for _, want := range []string{
		`slspipe_stage_records_in_total{pipeline="test",stage="identity"} 12`,
		`slspipe_stage_records_out_total{pipeline="test",stage="identity"} 12`,
		`slspipe_sink_records_written_total{pipeline="test"} 12`,
		`slspipe_sink_records_confirmed_total{pipeline="test"} 12`,
		`slspipe_source_records_total{pipeline="test"} 12`,
		`slspipe_batch_latency_seconds_count{pipeline="test"} 6`,
		`slspipe_sink_confirm_latency_seconds_count{pipeline="test"} 6`,
		`slspipe_stage_ns_per_record_count{pipeline="test",stage="identity"} 6`,
		`slspipe_shard_committed_cursor_time_seconds{logstore="mem",pipeline="test",shard="1"} 1.700000002e+09`,
		`slspipe_shard_lag_seconds{logstore="mem",pipeline="test",shard="0"}`,
		`slspipe_inflight_bytes{pipeline="test"} 0`,
		`go_goroutines`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if code, _ := get(t, h, "/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz = %d after the pipeline stopped, want 503", code)
	}
}
