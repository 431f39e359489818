package nats

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/slspipe/slspipe/connectors/nats/natsserver"
	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/engine/enginetest"
)

// Both benchmarks publish b.N messages of benchPayload bytes with unique
// Nats-Msg-Ids to a file-stored stream on an embedded server, with at most
// benchWindow awaiting their acknowledgement, and wait for every
// acknowledgement. Compare their msgs/s.
const (
	benchPayload = 256
	benchWindow  = 4096
	benchBatch   = 500
)

func benchServer(b *testing.B) (*natsserver.Server, jetstream.JetStream) {
	srv := startServer(b, natsserver.Options{})
	_, js := client(b, srv.URL())
	createStream(b, js, "BENCH", "bench.>")
	return srv, js
}

func benchData() []byte {
	p := make([]byte, benchPayload)
	for i := range p {
		p[i] = 'a' + byte(i%26)
	}
	return p
}

// BenchmarkRawJetStreamAsync is the plain nats.go program a user would
// write: asynchronous publishes with Msg-Ids under a bounded window.
func BenchmarkRawJetStreamAsync(b *testing.B) {
	srv, _ := benchServer(b)
	nc, err := natsgo.Connect(srv.URL())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(benchWindow))
	if err != nil {
		b.Fatal(err)
	}
	data := benchData()
	var id []byte
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id = strconv.AppendInt(append(id[:0], "raw:0:c:"...), int64(i), 10)
		m := &natsgo.Msg{Subject: "bench.raw", Data: data, Header: natsgo.Header{jetstream.MsgIDHeader: []string{string(id)}}}
		_, err := js.PublishMsgAsync(m)
		for errors.Is(err, jetstream.ErrTooManyStalledMsgs) { // the call waited; try again
			_, err = js.PublishMsgAsync(m)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		b.Fatal("acknowledgements did not complete")
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkSinkJetStream drives the sink directly with batches of records
// carrying serialized payloads, as the engine does.
func BenchmarkSinkJetStream(b *testing.B) {
	srv, _ := benchServer(b)
	cfg := sinkConfig(srv.URL())
	cfg.Subject = "bench.sink"
	cfg.MaxInflight = benchWindow
	s := newSink(b, cfg)
	data := benchData()
	recs := make([]engine.Record, b.N)
	for i := range recs {
		recs[i] = engine.Record{Payload: data, Identity: engine.Identity{Logstore: "sink", Cursor: "c" + strconv.Itoa(i/benchBatch), Index: i % benchBatch}}
	}
	c := newConfirmations()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < len(recs); i += benchBatch {
		if err := s.Write(context.Background(), recs[i:min(i+benchBatch, len(recs))], c); err != nil {
			b.Fatal(err)
		}
	}
	c.wait(b, b.N)
	b.StopTimer()
	if ok, _ := c.counts(); ok != b.N {
		b.Fatalf("confirmed %d of %d: %v", ok, b.N, c.firstErr())
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkPipelineJetStream runs the whole engine path: an in-memory
// source of 4 shards, no stages, the sink encoding each record's fields as
// a JSON payload (about 230 bytes), checkpoints committed.
func BenchmarkPipelineJetStream(b *testing.B) {
	srv, _ := benchServer(b)
	cfg := sinkConfig(srv.URL())
	cfg.Subject = "bench.pipeline"
	cfg.MaxInflight = benchWindow
	s := newSink(b, cfg)
	const shards, perBatch = 4, benchBatch
	batches := (b.N + shards*perBatch - 1) / (shards * perBatch)
	src := enginetest.NewSource(enginetest.SourceConfig{Shards: shards, Batches: batches, Records: perBatch, BodySize: 200})
	p, err := engine.New("bench", src, nil, s, engine.NewConfig().WithCommitters(enginetest.NewStore()).WithLogger(quiet))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	if err := p.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(src.Total())/b.Elapsed().Seconds(), "msgs/s")
}
