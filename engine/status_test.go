package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/engine/enginetest"
)

func TestStatusFollowsARun(t *testing.T) {
	sink := enginetest.NewSink(enginetest.SinkConfig{Stalled: true})
	src := enginetest.NewSource(enginetest.SourceConfig{Shards: 2, Batches: 3, Records: 2})
	p := mustNew(t, src, []engine.StageFactory{identity}, sink, testConfig(enginetest.NewStore()))
	if st := p.Status(0).State; st != "not_started" {
		t.Fatalf("state before Run = %q, want not_started", st)
	}
	done := start(t, context.Background(), p)
	waitFor(t, "both shards holding batches", func() bool {
		s := p.Status(0)
		n := 0
		for _, sh := range s.Shards {
			if sh.PendingBatches > 0 {
				n++
			}
		}
		return s.State == "running" && n == 2
	})
	s := p.Status(0)
	if s.Shards[0].Shard != 0 || s.Shards[1].Shard != 1 || s.Shards[0].State != engine.ShardReading {
		t.Fatalf("shards = %+v, want shards 0 and 1 reading, in order", s.Shards)
	}
	if s.Memory.InUseBytes <= 0 || s.Memory.BudgetBytes != engine.DefaultMaxInflightBytes {
		t.Errorf("memory = %+v, want bytes in use of the default budget while the sink stalls", s.Memory)
	}
	sink.Resume()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	s = p.Status(0)
	if s.State != "stopped" || s.StoppedAt.IsZero() || s.StartedAt.IsZero() {
		t.Fatalf("after Run: state %q, started %v, stopped %v; want stopped with both times", s.State, s.StartedAt, s.StoppedAt)
	}
	if s.Totals.RecordsIn != 12 || s.Totals.RecordsOut != 12 || s.Totals.RecordsWritten != 12 {
		t.Errorf("totals = %+v, want 12 in, written and out", s.Totals)
	}
	if len(s.Steps) != 1 || s.Steps[0].Name != "identity" || s.Steps[0].RecordsIn != 12 || s.Steps[0].NsPerRecord <= 0 {
		t.Errorf("steps = %+v, want identity with 12 records and a time per record", s.Steps)
	}
	if len(s.Samples) == 0 {
		t.Fatal("no sample after a run")
	}
	var in float64
	for _, smp := range s.Samples {
		in += smp.In
	}
	if in <= 0 {
		t.Errorf("samples %+v show no records in", s.Samples)
	}
	if later := p.Status(s.Samples[len(s.Samples)-1].T); len(later.Samples) != 0 {
		t.Errorf("since the last sample: %d samples, want none", len(later.Samples))
	}
}

func TestStatusHTTP(t *testing.T) {
	src := enginetest.NewSource(enginetest.SourceConfig{Shards: 1, Batches: 2, Records: 2})
	p := mustNew(t, src, nil, enginetest.NewSink(enginetest.SinkConfig{}), testConfig(nil))
	if err := <-start(t, context.Background(), p); err != nil {
		t.Fatal(err)
	}
	h := p.Handler()
	code, body := get(t, h, "/api/status")
	var s engine.Status
	if err := json.Unmarshal([]byte(body), &s); code != http.StatusOK || err != nil {
		t.Fatalf("/api/status = %d %v: %s", code, err, body)
	}
	if s.Pipeline != pipelineName || s.State != "stopped" || len(s.Shards) != 1 || s.Shards[0].CommittedCursor == "" {
		t.Errorf("/api/status = %+v, want the stopped pipeline with its committed shard", s)
	}
	if code, body := get(t, h, "/api/status?since=yesterday"); code != http.StatusBadRequest || !strings.Contains(body, "since") {
		t.Errorf("/api/status?since=yesterday = %d %q, want 400 naming since", code, body)
	}
	if code, body := get(t, h, "/"); code != http.StatusOK || !strings.Contains(body, "<svg") || strings.Contains(body, "http://") && strings.Contains(body, "<script src") {
		t.Errorf("/ = %d, want the self-contained page", code)
	}
	if code, _ := get(t, h, "/nothing-here"); code != http.StatusNotFound {
		t.Errorf("/nothing-here = %d, want 404", code)
	}
}

func TestStatusKeepsLatestDeadLetters(t *testing.T) {
	srcCfg := enginetest.SourceConfig{Shards: 2, Batches: 40, Records: 10}
	sink := enginetest.NewSink(enginetest.SinkConfig{})
	dlq := enginetest.NewSink(enginetest.SinkConfig{})
	bad := func(seq int) bool { return seq%10 == 3 }
	cfg := testConfig(nil).WithErrorPolicy(engine.OnErrorDeadLetter).WithDeadLetter(dlq)
	p := mustNew(t, enginetest.NewSource(srcCfg), []engine.StageFactory{rejectSeq("validate", bad)}, sink, cfg)
	if err := <-start(t, context.Background(), p); err != nil {
		t.Fatal(err)
	}
	s := p.Status(0)
	if s.DeadLetters.Total != 80 || s.Totals.DeadLettered != 80 || s.Steps[0].DeadLettered != 80 {
		t.Fatalf("dead letters total %d, totals %d, step %d; want 80", s.DeadLetters.Total, s.Totals.DeadLettered, s.Steps[0].DeadLettered)
	}
	if len(s.DeadLetters.Recent) != 50 {
		t.Fatalf("%d recent dead letters, want the latest 50", len(s.DeadLetters.Recent))
	}
	for _, d := range s.DeadLetters.Recent {
		if d.Stage != "validate" || d.Logstore != "mem" || d.Cursor == "" || d.Index != 3 ||
			!strings.HasPrefix(d.Reason, "seq ") || !strings.HasSuffix(d.Reason, "3 is bad") || d.Time.IsZero() {
			t.Fatalf("dead letter entry %+v, want stage, position and reason", d)
		}
	}
	last := s.DeadLetters.Recent[49]
	if last.Time.Before(s.DeadLetters.Recent[0].Time) {
		t.Errorf("recent dead letters are not oldest first")
	}
}

// failingSink fails writes with an error quoting a URL with a password.
type failingSink struct{}

func (failingSink) Write(context.Context, []engine.Record, engine.Confirmer) error {
	return errors.New("publish to nats://app:hunter2@nats.internal:4222: connection refused")
}

func TestStatusOfAFailedPipelineHidesCredentials(t *testing.T) {
	src := enginetest.NewSource(enginetest.SourceConfig{Shards: 1, Batches: 2, Records: 2})
	p := mustNew(t, src, nil, failingSink{}, testConfig(nil))
	if err := <-start(t, context.Background(), p); err == nil {
		t.Fatal("Run succeeded with a failing sink")
	}
	s := p.Status(0)
	if s.State != "failed" || !strings.Contains(s.Error, "connection refused") {
		t.Fatalf("state %q, error %q; want failed with the cause", s.State, s.Error)
	}
	body, _ := json.Marshal(s)
	if strings.Contains(string(body), "hunter2") {
		t.Fatalf("status shows the password: %s", s.Error)
	}
	if !strings.Contains(s.Error, "nats://REDACTED@nats.internal:4222") {
		t.Errorf("error %q, want the URL with its credentials redacted", s.Error)
	}
}

// reportingSource is an enginetest source that also reports its shards,
// as a consumer-group source does.
type reportingSource struct {
	*enginetest.Source
	got chan []engine.ShardStatus
}

func (r reportingSource) ReportShards(shards []engine.ShardStatus) []engine.ShardStatus {
	select {
	case r.got <- append([]engine.ShardStatus(nil), shards...):
	default:
	}
	behind := int64(7)
	for i := range shards {
		shards[i].Owner, shards[i].BehindGroups = "replica-a", &behind
	}
	return append(shards, engine.ShardStatus{Logstore: "mem", Shard: 9, State: engine.ShardElsewhere, Owner: "replica-b"})
}

func TestStatusAsksTheSourceAboutShards(t *testing.T) {
	src := reportingSource{enginetest.NewSource(enginetest.SourceConfig{Shards: 3, Batches: 2, Records: 1}), make(chan []engine.ShardStatus, 1)}
	p := mustNew(t, src, nil, enginetest.NewSink(enginetest.SinkConfig{}), testConfig(nil))
	if err := <-start(t, context.Background(), p); err != nil {
		t.Fatal(err)
	}
	s := p.Status(0)
	engineView := <-src.got
	if len(engineView) != 3 || engineView[0].CommittedCursor == "" || engineView[2].Shard != 2 {
		t.Fatalf("source got %+v, want the 3 open shards with their committed cursors, sorted", engineView)
	}
	var rows []string
	for _, sh := range s.Shards {
		b := "-"
		if sh.BehindGroups != nil {
			b = fmt.Sprint(*sh.BehindGroups)
		}
		rows = append(rows, fmt.Sprintf("%d %s %s %s", sh.Shard, sh.State, sh.Owner, b))
	}
	want := "0 reading replica-a 7|1 reading replica-a 7|2 reading replica-a 7|9 elsewhere replica-b -"
	if got := strings.Join(rows, "|"); got != want {
		t.Errorf("shards = %s, want %s", got, want)
	}
}
