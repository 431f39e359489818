package nats_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/connectors/nats"
	"github.com/slspipe/slspipe/connectors/nats/natsserver"
	"github.com/slspipe/slspipe/engine"
)

type printConfirmer struct{ done chan struct{} }

func (c printConfirmer) Confirm(n int, err error) {
	fmt.Println("confirmed", n, "records, error:", err)
	close(c.done)
}

// Publishing records to a JetStream stream created on demand, on an
// embedded server.
func ExampleNewSink() {
	srv, err := natsserver.Start(natsserver.Options{})
	if err != nil {
		panic(err)
	}
	defer srv.Shutdown()

	ctx := context.Background()
	sink, err := nats.NewSink(ctx, config.NATSSink{
		NATSConn:        config.NATSConn{URL: srv.URL()},
		Mode:            "jetstream",
		Subject:         "logs.{{host}}",
		Stream:          "LOGS",
		CreateStream:    true,
		DuplicateWindow: config.Duration(120e9),
		MaxInflight:     1024,
	}, nats.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		panic(err)
	}
	defer sink.Close()

	recs := make([]engine.Record, 3)
	for i := range recs {
		recs[i] = engine.Record{
			Fields:   []engine.Field{{Key: []byte("host"), Value: []byte("web-" + strconv.Itoa(i))}},
			Identity: engine.Identity{Logstore: "access", Cursor: "MTAw", Index: i},
		}
	}
	c := printConfirmer{done: make(chan struct{})}
	if err := sink.Write(ctx, recs, c); err != nil {
		panic(err)
	}
	<-c.done
	// Output:
	// confirmed 3 records, error: <nil>
}
