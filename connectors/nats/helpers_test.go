package nats

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/connectors/nats/natsserver"
	"github.com/slspipe/slspipe/engine"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// startServer runs an embedded JetStream server for the test.
func startServer(t testing.TB, opts natsserver.Options) *natsserver.Server {
	t.Helper()
	if opts.StoreDir == "" {
		opts.StoreDir = t.TempDir()
	}
	s, err := natsserver.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

// client connects a plain client to url.
func client(t testing.TB, url string, opts ...natsgo.Option) (*natsgo.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := natsgo.Connect(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

func createStream(t testing.TB, js jetstream.JetStream, name string, subjects ...string) jetstream.Stream {
	t.Helper()
	st, err := js.CreateStream(context.Background(), jetstream.StreamConfig{
		Name: name, Subjects: subjects, Storage: jetstream.FileStorage, Duplicates: 10 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// sinkConfig is a JetStream sink configuration with the loader's defaults.
func sinkConfig(url string) config.NATSSink {
	return config.NATSSink{
		NATSConn:        config.NATSConn{URL: url},
		Mode:            "jetstream",
		Subject:         "logs.{{host}}",
		DuplicateWindow: config.Duration(10 * time.Minute),
		MaxInflight:     4096,
	}
}

func newSink(t testing.TB, cfg config.NATSSink, opts ...Option) *Sink {
	t.Helper()
	s, err := NewSink(context.Background(), cfg, append([]Option{WithLogger(quiet)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// records returns n records of shard 0 starting at cursor index from, with
// fields host (one of hosts) and seq.
func records(from, n int, hosts ...string) []engine.Record {
	recs := make([]engine.Record, n)
	for i := range recs {
		k := from + i
		recs[i] = engine.Record{
			Fields: []engine.Field{
				{Key: []byte("host"), Value: []byte(hosts[k%len(hosts)])},
				{Key: []byte("seq"), Value: []byte(strconv.Itoa(k))},
			},
			Identity: engine.Identity{Logstore: "ls", Shard: 0, Cursor: "c" + strconv.Itoa(k/100), Index: k % 100},
		}
	}
	return recs
}

// confirmations records what a sink confirmed.
type confirmations struct {
	mu     sync.Mutex
	ok     int
	failed int
	errs   []error
	calls  int
	signal chan struct{}
}

func newConfirmations() *confirmations { return &confirmations{signal: make(chan struct{}, 1)} }

func (c *confirmations) Confirm(n int, err error) {
	c.mu.Lock()
	c.calls++
	if err != nil {
		c.failed += n
		c.errs = append(c.errs, err)
	} else {
		c.ok += n
	}
	c.mu.Unlock()
	select {
	case c.signal <- struct{}{}:
	default:
	}
}

func (c *confirmations) counts() (ok, failed int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ok, c.failed
}

func (c *confirmations) firstErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.errs) == 0 {
		return nil
	}
	return c.errs[0]
}

// wait waits until ok+failed reaches n.
func (c *confirmations) wait(t testing.TB, n int) {
	t.Helper()
	deadline := time.NewTimer(60 * time.Second)
	defer deadline.Stop()
	for {
		ok, failed := c.counts()
		if ok+failed >= n {
			return
		}
		select {
		case <-c.signal:
		case <-deadline.C:
			t.Fatalf("waited 60s for %d confirmations, have %d ok and %d failed (first error: %v)", n, ok, failed, c.firstErr())
		}
	}
}

// eventually polls cond until it holds; what is awaited is an external
// event (a server state) that offers no notification.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// storedIDs reads every message of a stream and counts its Nats-Msg-Ids.
func storedIDs(t testing.TB, js jetstream.JetStream, stream string) (map[string]int, []jetstream.Msg) {
	t.Helper()
	ctx := context.Background()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := int(info.State.Msgs)
	ids := make(map[string]int, n)
	var msgs []jetstream.Msg
	if n == 0 {
		return ids, nil
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for len(msgs) < n {
		batch, err := cons.Fetch(n-len(msgs), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for m := range batch.Messages() {
			ids[m.Headers().Get(jetstream.MsgIDHeader)]++
			msgs = append(msgs, m)
			got++
		}
		if got == 0 {
			t.Fatalf("read %d of %d messages of stream %s: %v", len(msgs), n, stream, batch.Error())
		}
	}
	return ids, msgs
}

func expectIDsOnce(t testing.TB, ids map[string]int, recs []engine.Record) {
	t.Helper()
	if len(ids) != len(recs) {
		t.Errorf("stream holds %d distinct ids, want %d", len(ids), len(recs))
	}
	for i := range recs {
		id := recs[i].ID()
		if ids[id] != 1 {
			t.Fatalf("id %s stored %d times, want once", id, ids[id])
		}
	}
}

func msgCount(t testing.TB, js jetstream.JetStream, stream string) uint64 {
	t.Helper()
	st, err := js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func configSecret(v string) config.Secret { return config.NewSecret(v) }
