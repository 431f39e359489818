package nats

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/connectors/nats/natsserver"
	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/engine/enginetest"
)

func sourceConfig(url string) config.NATSSource {
	return config.NATSSource{
		NATSConn: config.NATSConn{URL: url},
		Stream:   "IN",
		Durable:  "slspipe-test",
		Batch:    100,
		AckWait:  config.Duration(30 * time.Second),
	}
}

// publishN stores n messages "m<i>" on in.<i%3>.
func publishN(t testing.TB, js jetstream.JetStream, n int) {
	t.Helper()
	for i := range n {
		if _, err := js.PublishAsync("in."+strconv.Itoa(i%3), []byte("m"+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(30 * time.Second):
		t.Fatal("publishing did not complete")
	}
}

func newSource(t testing.TB, cfg config.NATSSource) *Source {
	t.Helper()
	s, err := NewSource(context.Background(), cfg, WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// runPipeline runs src into sink until stop is called; stop returns Run's
// error.
func runPipeline(t testing.TB, src *Source, sink engine.Sink) (stop func() error) {
	t.Helper()
	cfg := engine.NewConfig().WithCommitters(src).WithCheckpointInterval(20 * time.Millisecond).
		WithShutdownTimeout(time.Second).WithLogger(quiet)
	p, err := engine.New("nats-src", src, nil, sink, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	return func() error {
		cancel()
		return <-done
	}
}

func ackFloor(t testing.TB, js jetstream.JetStream) uint64 {
	t.Helper()
	c, err := js.Consumer(context.Background(), "IN", "slspipe-test")
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.AckFloor.Stream
}

func TestSourceDeliversEveryMessageAndAcksAfterCommit(t *testing.T) {
	srv := startServer(t, natsserver.Options{})
	_, js := client(t, srv.URL())
	createStream(t, js, "IN", "in.>")
	const n = 1000
	publishN(t, js, n)

	src := newSource(t, sourceConfig(srv.URL()))
	sink := enginetest.NewSink(enginetest.SinkConfig{Async: true, Seed: 7})
	defer sink.Close()
	stop := runPipeline(t, src, sink)
	eventually(t, "every message in the sink", func() bool { return sink.Stored() == n })
	eventually(t, "the consumer to be acknowledged up to the end", func() bool { return ackFloor(t, js) == n })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for seq := 1; seq <= n; seq++ {
		id := src.Shard().Logstore + ":0:" + strconv.Itoa(seq) + ":0:0"
		r, ok := sink.Record(id)
		if !ok {
			t.Fatalf("message %d not delivered", seq)
		}
		if want := "m" + strconv.Itoa(seq-1); string(r.Payload) != want {
			t.Fatalf("message %d payload %q, want %q", seq, r.Payload, want)
		}
		if v, _ := r.Get("message"); string(v) != string(r.Payload) || r.Topic != "in."+strconv.Itoa((seq-1)%3) {
			t.Fatalf("message %d: field message %q, topic %q", seq, v, r.Topic)
		}
	}
	for id, c := range sink.Counts() {
		if c != 1 {
			t.Fatalf("record %s confirmed %d times", id, c)
		}
	}
}

func TestSourceRedeliversWhatWasNotConfirmed(t *testing.T) {
	srv := startServer(t, natsserver.Options{})
	_, js := client(t, srv.URL())
	createStream(t, js, "IN", "in.>")
	const n = 1000
	publishN(t, js, n)

	// First run: the sink takes 300 records, then hangs; the pipeline is
	// stopped before it confirms the rest.
	src1 := newSource(t, sourceConfig(srv.URL()))
	stalled := enginetest.NewSink(enginetest.SinkConfig{StallAfter: 300})
	stop := runPipeline(t, src1, stalled)
	eventually(t, "the first records acknowledged", func() bool { return ackFloor(t, js) >= 300 })
	eventually(t, "the sink to hold further writes", func() bool { return stalled.Accepted() > 300 })
	if err := stop(); err != nil && !errors.Is(err, context.Canceled) {
		t.Logf("first run ended with %v", err)
	}
	floor := ackFloor(t, js)
	if floor >= n {
		t.Fatalf("everything acknowledged although the sink confirmed only %d records", stalled.Stored())
	}
	if floor > uint64(stalled.Stored()) {
		t.Fatalf("acknowledged up to %d but the sink confirmed only %d", floor, stalled.Stored())
	}
	_ = src1.Close()

	// Second run, a new process: everything not acknowledged comes again.
	src2 := newSource(t, sourceConfig(srv.URL()))
	sink := enginetest.NewSink(enginetest.SinkConfig{})
	stop = runPipeline(t, src2, sink)
	eventually(t, "the rest delivered", func() bool { return sink.Stored() >= n-int(floor) })
	eventually(t, "everything acknowledged", func() bool { return ackFloor(t, js) == n })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for seq := 1; seq <= n; seq++ {
		id := src2.Shard().Logstore + ":0:" + strconv.Itoa(seq) + ":0:0"
		_, first := stalled.Record(id)
		_, second := sink.Record(id)
		if !first && !second {
			t.Fatalf("message %d lost", seq)
		}
		if uint64(seq) > floor && !second {
			t.Fatalf("unacknowledged message %d not redelivered", seq)
		}
	}
}

func TestSourceSkipsRedeliveriesOfMessagesInFlight(t *testing.T) {
	srv := startServer(t, natsserver.Options{})
	_, js := client(t, srv.URL())
	createStream(t, js, "IN", "in.>")
	const n = 200
	publishN(t, js, n)

	cfg := sourceConfig(srv.URL())
	cfg.AckWait = config.Duration(time.Second)
	src := newSource(t, cfg)
	sink := enginetest.NewSink(enginetest.SinkConfig{Stalled: true})
	stop := runPipeline(t, src, sink)
	// Hold everything until the server has redelivered (ack_wait expired).
	cons, err := js.Consumer(context.Background(), "IN", "slspipe-test")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "a redelivery", func() bool {
		info, err := cons.Info(context.Background())
		return err == nil && info.NumRedelivered > 0
	})
	sink.Resume()
	eventually(t, "every message in the sink", func() bool { return sink.Stored() == n })
	eventually(t, "everything acknowledged", func() bool { return ackFloor(t, js) == n })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for id, c := range sink.Counts() {
		if c != 1 {
			t.Fatalf("record %s written %d times", id, c)
		}
	}
}

func TestSourceMissingStream(t *testing.T) {
	srv := startServer(t, natsserver.Options{})
	_, err := NewSource(context.Background(), sourceConfig(srv.URL()), WithLogger(quiet))
	if err == nil || err.Error() != `nats source: stream "IN" does not exist` {
		t.Fatalf("NewSource = %v, want a missing stream error", err)
	}
}

var (
	_ engine.Source    = (*Source)(nil)
	_ engine.Committer = (*Source)(nil)
)
