package nats

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/slspipe/slspipe/connectors/nats/natsserver"
	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/engine/enginetest"
)

// TestSourceFailsOnMessageWithoutMetadata hands the source's pull request a
// message whose JetStream metadata does not parse (published straight to
// the request's reply inbox, the one way a client can produce one against a
// real server). The client library ends such a fetch with an error after
// handing the message over; the source must stop the pipeline with an
// error naming the stream and the subject, not drop the message and fetch
// on, since the next batch's cumulative acknowledgement would cover it.
func TestSourceFailsOnMessageWithoutMetadata(t *testing.T) {
	srv := startServer(t, natsserver.Options{})
	nc, js := client(t, srv.URL())
	createStream(t, js, "IN", "in.>")

	// Answer the source's first pull request with a forged message.
	injected := make(chan struct{})
	sub, err := nc.Subscribe("$JS.API.CONSUMER.MSG.NEXT.IN.slspipe-test", func(m *natsgo.Msg) {
		select {
		case <-injected:
			return
		default:
		}
		close(injected)
		_ = nc.PublishMsg(&natsgo.Msg{Subject: m.Reply, Data: []byte("forged")})
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	src := newSource(t, sourceConfig(srv.URL()))
	sink := enginetest.NewSink(enginetest.SinkConfig{})
	defer sink.Close()
	p, err := engine.New("nats-src", src, nil, sink, engine.NewConfig().WithCommitters(src).
		WithCheckpointInterval(20*time.Millisecond).WithShutdownTimeout(time.Second).WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = p.Run(ctx)
	if err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the pipeline ran on past a message without metadata: %v", err)
	}
	for _, want := range []string{`stream "IN"`, `subject "_INBOX.`, "metadata does not parse"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	t.Logf("pipeline error: %v", err)
	if n := sink.Stored(); n != 0 {
		t.Errorf("%d records delivered", n)
	}
}

// fakeMsg is a jetstream.Msg whose metadata is given; it records
// acknowledgements.
type fakeMsg struct {
	jetstream.Msg // nil: methods not overridden must not be called
	seq           uint64
	subject       string
	metaErr       error
	acked         bool
}

func (m *fakeMsg) Metadata() (*jetstream.MsgMetadata, error) {
	if m.metaErr != nil {
		return nil, m.metaErr
	}
	return &jetstream.MsgMetadata{Sequence: jetstream.SequencePair{Stream: m.seq}, Timestamp: time.Unix(1, 0)}, nil
}
func (m *fakeMsg) Data() []byte                    { return []byte("x") }
func (m *fakeMsg) Headers() natsgo.Header          { return nil }
func (m *fakeMsg) Subject() string                 { return m.subject }
func (m *fakeMsg) Reply() string                   { return "$JS.ACK.broken" }
func (m *fakeMsg) Ack() error                      { m.acked = true; return nil }
func (m *fakeMsg) DoubleAck(context.Context) error { m.acked = true; return nil }

// TestBatchRefusesMessageWithoutMetadata: a message between two good ones
// whose metadata does not parse (or names sequence 0) makes the batch fail,
// and nothing is acknowledged or marked for a later acknowledgement that
// would cover it.
func TestBatchRefusesMessageWithoutMetadata(t *testing.T) {
	for name, bad := range map[string]*fakeMsg{
		"unparsable": {subject: "in.bad", metaErr: jetstream.ErrNotJSMessage},
		"sequence 0": {subject: "in.bad", seq: 0},
	} {
		t.Run(name, func(t *testing.T) {
			s := &Source{cfg: sourceConfig(""), key: engine.ShardKey{Logstore: "nats:IN/slspipe-test"}}
			msgs := []jetstream.Msg{&fakeMsg{seq: 1, subject: "in.a"}, bad, &fakeMsg{seq: 3, subject: "in.c"}}
			next := uint64(0)
			b, last, err := s.batch(msgs, 0, &next)
			if err == nil || b != nil || last != nil {
				t.Fatalf("batch = %v, %v, %v; want an error", b, last, err)
			}
			for _, want := range []string{`stream "IN"`, `subject "in.bad"`, "$JS.ACK.broken"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			for i, m := range msgs {
				if m.(*fakeMsg).acked {
					t.Errorf("message %d acknowledged", i)
				}
			}
			if next != 0 {
				t.Errorf("next = %d, want it unchanged", next)
			}
		})
	}
}

// TestSourceOriginChangesWithTheStream: the source names its shard's
// origin by the stream's creation time, which survives a restart of the
// source and changes when the stream is created again.
func TestSourceOriginChangesWithTheStream(t *testing.T) {
	srv := startServer(t, natsserver.Options{})
	_, js := client(t, srv.URL())
	createStream(t, js, "IN", "in.>")
	first := newSource(t, sourceConfig(srv.URL()))
	origin := first.Origin(first.Shard().Logstore)
	if !strings.HasPrefix(origin, "jetstream://IN?created=") {
		t.Fatalf("origin %q", origin)
	}
	if o := first.Origin("nats:OTHER/x"); o != "" {
		t.Fatalf("origin of another logstore: %q", o)
	}
	if again := newSource(t, sourceConfig(srv.URL())); again.Origin(again.Shard().Logstore) != origin {
		t.Fatalf("the same stream has origin %q, then %q", origin, again.Origin(again.Shard().Logstore))
	}
	if err := js.DeleteStream(context.Background(), "IN"); err != nil {
		t.Fatal(err)
	}
	createStream(t, js, "IN", "in.>")
	if recreated := newSource(t, sourceConfig(srv.URL())); recreated.Origin(recreated.Shard().Logstore) == origin {
		t.Fatalf("a stream created again keeps origin %q", origin)
	}
}

var _ engine.Origins = (*Source)(nil)
