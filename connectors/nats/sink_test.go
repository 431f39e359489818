package nats

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"

	"github.com/slspipe/slspipe/connectors/nats/natsserver"
	"github.com/slspipe/slspipe/engine"
)

func TestSinkJetStreamStoresEachRecordOnceAndDeduplicatesReplays(t *testing.T) {
	srv := startServer(t, natsserver.Options{})
	_, js := client(t, srv.URL())
	cfg := sinkConfig(srv.URL())
	cfg.Stream, cfg.CreateStream = "LOGS", true
	cfg.MaxInflight = 256
	cfg.Headers = map[string]string{"X-Pipeline": "p1"}
	s := newSink(t, cfg)

	recs := records(0, 3000, "web-1", "web-2", "db-1")
	c := newConfirmations()
	for i := 0; i < len(recs); i += 500 {
		if err := s.Write(context.Background(), recs[i:i+500], c); err != nil {
			t.Fatal(err)
		}
	}
	c.wait(t, len(recs))
	if ok, failed := c.counts(); ok != len(recs) || failed != 0 {
		t.Fatalf("confirmed %d ok, %d failed (%v); want %d ok", ok, failed, c.firstErr(), len(recs))
	}
	ids, msgs := storedIDs(t, js, "LOGS")
	expectIDsOnce(t, ids, recs)

	// Subject from the template, payload a JSON object of the fields,
	// configured headers.
	m := msgs[0]
	var body map[string]string
	if err := json.Unmarshal(m.Data(), &body); err != nil {
		t.Fatalf("payload %q is not a JSON object: %v", m.Data(), err)
	}
	if m.Subject() != "logs."+body["host"] {
		t.Errorf("message on %q with host %q, want subject logs.<host>", m.Subject(), body["host"])
	}
	if got := m.Headers().Get("X-Pipeline"); got != "p1" {
		t.Errorf("header X-Pipeline = %q, want p1", got)
	}

	// A replay of the same records (a restart from an older checkpoint) is
	// confirmed and adds nothing.
	replay := newConfirmations()
	if err := s.Write(context.Background(), recs, replay); err != nil {
		t.Fatal(err)
	}
	replay.wait(t, len(recs))
	if ok, _ := replay.counts(); ok != len(recs) {
		t.Fatalf("replay confirmed %d ok, want %d (%v)", ok, len(recs), replay.firstErr())
	}
	if n := msgCount(t, js, "LOGS"); n != uint64(len(recs)) {
		t.Fatalf("after the replay the stream holds %d messages, want %d", n, len(recs))
	}
	if peak := s.js.inflightPeak(); peak > cfg.MaxInflight {
		t.Fatalf("%d messages in flight, over max_inflight %d", peak, cfg.MaxInflight)
	}
}

func TestSinkSerializedSubjectAndPayload(t *testing.T) {
	srv := startServer(t, natsserver.Options{})
	_, js := client(t, srv.URL())
	createStream(t, js, "OUT", "out.>")
	cfg := sinkConfig(srv.URL())
	cfg.Subject = "out.default"
	s := newSink(t, cfg)
	recs := records(0, 2, "h")
	recs[0].Subject, recs[0].Payload = "out.custom", []byte("raw body")
	c := newConfirmations()
	_ = s.Write(context.Background(), recs, c)
	c.wait(t, 2)
	if ok, _ := c.counts(); ok != 2 {
		t.Fatalf("confirmed %d ok (%v)", ok, c.firstErr())
	}
	_, msgs := storedIDs(t, js, "OUT")
	if msgs[0].Subject() != "out.custom" || string(msgs[0].Data()) != "raw body" {
		t.Errorf("serialized record stored as %q %q", msgs[0].Subject(), msgs[0].Data())
	}
	if msgs[1].Subject() != "out.default" || string(msgs[1].Data()) != `{"host":"h","seq":"1"}` {
		t.Errorf("plain record stored as %q %q", msgs[1].Subject(), msgs[1].Data())
	}
}

func TestSinkSurvivesServerOutage(t *testing.T) {
	srv := startServer(t, natsserver.Options{})
	_, js := client(t, srv.URL())
	createStream(t, js, "LOGS", "logs.>")
	cfg := sinkConfig(srv.URL())
	cfg.MaxInflight = 64
	s := newSink(t, cfg)

	recs := records(0, 5000, "a", "b")
	c := newConfirmations()
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; i < len(recs); i += 100 {
			_ = s.Write(context.Background(), recs[i:i+100], c)
		}
	})
	// Stop the server mid-run, wait until the sink notices, start it again.
	c.wait(t, 1000)
	srv.Stop()
	eventually(t, "the sink to notice the outage", func() bool { return s.Ready(context.Background()) != nil })
	// Writes go on while the server is away: they fill the window and block.
	eventually(t, "the window to fill during the outage", func() bool { return s.js.inflightNow() == cfg.MaxInflight })
	okDuringOutage, _ := c.counts()
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	c.wait(t, len(recs))
	ok, failed := c.counts()
	if ok != len(recs) || failed != 0 {
		t.Fatalf("confirmed %d ok, %d failed (%v); want all %d ok", ok, failed, c.firstErr(), len(recs))
	}
	if okDuringOutage >= len(recs) {
		t.Fatalf("everything was confirmed before the outage; the test proves nothing")
	}
	_, js2 := client(t, srv.URL())
	ids, msgs := storedIDs(t, js2, "LOGS")
	expectIDsOnce(t, ids, recs)
	// Republished in publish order, and new records held back until then: the
	// stream keeps the records' order across the outage.
	last := -1
	for _, m := range msgs {
		var body struct{ Seq string }
		if err := json.Unmarshal(m.Data(), &body); err != nil {
			t.Fatal(err)
		}
		seq, _ := strconv.Atoi(body.Seq)
		if seq < last {
			t.Fatalf("record %d stored after record %d", seq, last)
		}
		last = seq
	}
	if peak := s.js.inflightPeak(); peak > cfg.MaxInflight {
		t.Fatalf("%d messages in flight, over max_inflight %d", peak, cfg.MaxInflight)
	}
	if err := s.Ready(context.Background()); err != nil {
		t.Fatalf("sink not ready after the restart: %v", err)
	}
}

func TestSinkMissingStreamIsAnErrorAtStart(t *testing.T) {
	srv := startServer(t, natsserver.Options{})
	cfg := sinkConfig(srv.URL())
	cfg.Stream = "NOPE"
	_, err := NewSink(context.Background(), cfg, WithLogger(quiet))
	if err == nil || !strings.Contains(err.Error(), `stream "NOPE" does not exist`) {
		t.Fatalf("NewSink = %v, want a missing stream error", err)
	}
}

func TestSinkStaticSubjectWithoutStreamIsAnErrorAtStart(t *testing.T) {
	srv := startServer(t, natsserver.Options{})
	cfg := sinkConfig(srv.URL())
	cfg.Subject = "nowhere.x"
	_, err := NewSink(context.Background(), cfg, WithLogger(quiet))
	if err == nil || !strings.Contains(err.Error(), `no JetStream stream captures subject "nowhere.x"`) {
		t.Fatalf("NewSink = %v, want a missing stream error", err)
	}
}

func TestSinkNoStreamForSubjectFailsTheRecords(t *testing.T) {
	srv := startServer(t, natsserver.Options{})
	cfg := sinkConfig(srv.URL())
	cfg.Subject = "nowhere.{{host}}"
	s := newSink(t, cfg)
	c := newConfirmations()
	_ = s.Write(context.Background(), records(0, 3, "x"), c)
	c.wait(t, 3)
	ok, failed := c.counts()
	if ok != 0 || failed != 3 {
		t.Fatalf("confirmed %d ok, %d failed; want 3 failed", ok, failed)
	}
	if err := c.firstErr(); !strings.Contains(err.Error(), `no JetStream stream captures subject "nowhere.x"`) {
		t.Fatalf("error %q does not say that no stream captures the subject", err)
	}
}

func TestSinkMissingTemplateFieldFailsTheRecord(t *testing.T) {
	srv := startServer(t, natsserver.Options{})
	_, js := client(t, srv.URL())
	createStream(t, js, "LOGS", "logs.>")
	s := newSink(t, sinkConfig(srv.URL()))
	recs := records(0, 2, "h")
	recs[1].Fields = recs[1].Fields[1:] // no host
	c := newConfirmations()
	_ = s.Write(context.Background(), recs, c)
	c.wait(t, 2)
	if ok, failed := c.counts(); ok != 1 || failed != 1 {
		t.Fatalf("confirmed %d ok, %d failed; want 1 and 1", ok, failed)
	}
	if err := c.firstErr(); !strings.Contains(err.Error(), `no value for field "host"`) {
		t.Fatalf("error %q does not name the missing field", err)
	}
}

func TestSinkPermissionDenied(t *testing.T) {
	srv := startServer(t, natsserver.Options{Configure: func(o *server.Options) {
		o.Users = []*server.User{{
			Username: "writer", Password: "s3cret",
			Permissions: &server.Permissions{
				Publish:   &server.SubjectPermission{Allow: []string{"$JS.API.>", "allowed.>"}},
				Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}},
			},
		}, {Username: "admin", Password: "admin"}}
	}})
	_, js := client(t, srv.URL(), natsgo.UserInfo("admin", "admin"))
	createStream(t, js, "ALL", "allowed.>", "denied.>")
	cfg := sinkConfig(srv.URL())
	cfg.Subject = "allowed.{{host}}"
	cfg.User = "writer"
	cfg.Password = configSecret("s3cret")
	s := newSink(t, cfg)

	recs := records(0, 4, "h")
	recs[2].Subject = "denied.x"
	c := newConfirmations()
	_ = s.Write(context.Background(), recs, c)
	c.wait(t, 4)
	ok, failed := c.counts()
	if ok != 3 || failed != 1 {
		t.Fatalf("confirmed %d ok, %d failed; want 3 ok and the denied one failed", ok, failed)
	}
	err := c.firstErr()
	if !strings.Contains(err.Error(), `permission denied publishing to subject "denied.x"`) {
		t.Fatalf("error %q does not say which subject was denied", err)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("error %q leaks the password", err)
	}
}

func TestSinkMessageOverMaxPayload(t *testing.T) {
	srv := startServer(t, natsserver.Options{MaxPayload: 1024})
	_, js := client(t, srv.URL())
	createStream(t, js, "LOGS", "logs.>")
	s := newSink(t, sinkConfig(srv.URL()))
	recs := records(0, 2, "h")
	recs[0].Payload = make([]byte, 2000)
	c := newConfirmations()
	_ = s.Write(context.Background(), recs, c)
	c.wait(t, 2)
	if ok, failed := c.counts(); ok != 1 || failed != 1 {
		t.Fatalf("confirmed %d ok, %d failed; want the big one failed", ok, failed)
	}
	if err := c.firstErr(); !strings.Contains(err.Error(), "max_payload of 1024 bytes") || !strings.Contains(err.Error(), `"logs.h"`) {
		t.Fatalf("error %q does not name the limit and the subject", err)
	}
}

func TestSinkUnreachableServerIsAnErrorAtStart(t *testing.T) {
	srv := startServer(t, natsserver.Options{})
	url := srv.URL()
	srv.Stop()
	_, err := NewSink(context.Background(), sinkConfig(url), WithLogger(quiet))
	if err == nil || !strings.Contains(err.Error(), "connect to "+url) {
		t.Fatalf("NewSink = %v, want a connection error naming %s", err, url)
	}
}

func TestSinkCoreModeConfirmsAfterFlush(t *testing.T) {
	srv := startServer(t, natsserver.Options{})
	nc, _ := client(t, srv.URL())
	got := make(chan *natsgo.Msg, 1000)
	sub, err := nc.ChanSubscribe("core.>", got)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	cfg := sinkConfig(srv.URL())
	cfg.Mode, cfg.Subject = "core", "core.{{host}}"
	s := newSink(t, cfg)
	recs := records(0, 500, "x", "y")
	c := newConfirmations()
	if err := s.Write(context.Background(), recs, c); err != nil {
		t.Fatal(err)
	}
	// Core mode confirms inside Write, after the flush.
	if ok, failed := c.counts(); ok != 500 || failed != 0 {
		t.Fatalf("after Write: %d ok, %d failed; want 500 ok", ok, failed)
	}
	seen := map[string]bool{}
	for len(seen) < len(recs) {
		m := <-got
		seen[m.Header.Get("Nats-Msg-Id")] = true
	}
	for i := range recs {
		if !seen[recs[i].ID()] {
			t.Fatalf("record %s not received", recs[i].ID())
		}
	}
}

var _ engine.Sink = (*Sink)(nil)
var _ engine.ReadinessChecker = (*Sink)(nil)

// signalHandler is a slog handler that reports each message logged.
type signalHandler struct{ msgs chan string }

func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h signalHandler) Handle(_ context.Context, r slog.Record) error {
	select {
	case h.msgs <- r.Message:
	default:
	}
	return nil
}
func (h signalHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h signalHandler) WithGroup(string) slog.Handler      { return h }

func TestSinkCoreModeRetriesUntilTheServerIsBack(t *testing.T) {
	srv := startServer(t, natsserver.Options{})
	cfg := sinkConfig(srv.URL())
	cfg.Mode, cfg.Subject = "core", "core.x"
	logs := make(chan string, 100)
	s := newSink(t, cfg, WithLogger(slog.New(signalHandler{logs})))

	srv.Stop()
	eventually(t, "the sink to notice the outage", func() bool { return s.Ready(context.Background()) != nil })
	c := newConfirmations()
	var wg sync.WaitGroup
	wg.Go(func() { _ = s.Write(context.Background(), records(0, 10, "h"), c) })
	for msg := range logs {
		if strings.Contains(msg, "core publish failed, retrying") {
			break
		}
	}
	if ok, failed := c.counts(); ok+failed != 0 {
		t.Fatalf("confirmed %d ok, %d failed while the server was down", ok, failed)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if ok, failed := c.counts(); ok != 10 || failed != 0 {
		t.Fatalf("after the restart: %d ok, %d failed (%v); want 10 ok", ok, failed, c.firstErr())
	}
}

// A publish whose acknowledgement never comes is published again with the
// same Nats-Msg-Id. The "stream" here is a responder that ignores the first
// copy of every message.
func TestSinkRepublishesWhenTheAcknowledgementTimesOut(t *testing.T) {
	srv := startServer(t, natsserver.Options{})
	nc, _ := client(t, srv.URL())
	var mu sync.Mutex
	seen := map[string]int{}
	sub, err := nc.Subscribe("fake.>", func(m *natsgo.Msg) {
		id := m.Header.Get("Nats-Msg-Id")
		mu.Lock()
		seen[id]++
		n := seen[id]
		mu.Unlock()
		if n >= 2 {
			_ = m.Respond([]byte(`{"stream":"FAKE","seq":1}`))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	cfg := sinkConfig(srv.URL())
	cfg.Subject = "fake.{{host}}"
	s := newSink(t, cfg, WithAckTimeout(300*time.Millisecond))
	recs := records(0, 20, "h")
	c := newConfirmations()
	_ = s.Write(context.Background(), recs, c)
	c.wait(t, len(recs))
	if ok, failed := c.counts(); ok != len(recs) || failed != 0 {
		t.Fatalf("confirmed %d ok, %d failed (%v)", ok, failed, c.firstErr())
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range recs {
		if n := seen[recs[i].ID()]; n != 2 {
			t.Fatalf("record %s published %d times, want twice (once more after the timeout)", recs[i].ID(), n)
		}
	}
}

func TestSinkCloseReleasesABlockedWriter(t *testing.T) {
	srv := startServer(t, natsserver.Options{})
	_, js := client(t, srv.URL())
	createStream(t, js, "LOGS", "logs.>")
	cfg := sinkConfig(srv.URL())
	cfg.MaxInflight = 4
	s := newSink(t, cfg)
	srv.Stop()
	eventually(t, "the sink to notice the outage", func() bool { return s.Ready(context.Background()) != nil })
	c := newConfirmations()
	var wg sync.WaitGroup
	wg.Go(func() { _ = s.Write(context.Background(), records(0, 10, "h"), c) })
	eventually(t, "the window to fill", func() bool { return s.js.inflightNow() == 4 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	ok, failed := c.counts()
	if ok != 0 || failed != 6 {
		t.Fatalf("after Close: %d ok, %d failed; want the 6 unpublished records failed and 4 left unconfirmed", ok, failed)
	}
	if err := c.firstErr(); !strings.Contains(err.Error(), "sink closed") {
		t.Fatalf("error %q does not say the sink closed", err)
	}
}
