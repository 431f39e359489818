package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/slspipe/slspipe/connectors/nats/natsserver"
)

// streamWatch reads a JetStream stream that another process writes.
type streamWatch struct {
	t    *testing.T
	name string
	nc   *nats.Conn
	js   jetstream.JetStream
}

// watchStream connects to the server at url; it reconnects on its own and
// is closed when the test ends.
func watchStream(t *testing.T, url, name string) *streamWatch {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return &streamWatch{t: t, name: name, nc: nc, js: js}
}

// msgs returns the stream's message count, 0 while it does not exist or
// the server is away.
func (w *streamWatch) msgs() uint64 {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := w.js.Stream(ctx, w.name)
	if err != nil {
		return 0
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0
	}
	return info.State.Msgs
}

// distinctIDs reads the whole stream and returns how many distinct
// Nats-Msg-Id headers it holds.
func (w *streamWatch) distinctIDs() int {
	w.t.Helper()
	ctx := context.Background()
	s, err := w.js.Stream(ctx, w.name)
	if err != nil {
		w.t.Fatal(err)
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		w.t.Fatal(err)
	}
	ids := map[string]struct{}{}
	for {
		batch, err := cons.Fetch(5000, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			w.t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			ids[m.Headers().Get("Nats-Msg-Id")] = struct{}{}
			n++
		}
		if n == 0 {
			return len(ids)
		}
	}
}

// startNATS starts an embedded JetStream server for one test, shut down when it ends.
func startNATS(t *testing.T) *natsserver.Server {
	t.Helper()
	ns, err := natsserver.Start(natsserver.Options{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	return ns
}
