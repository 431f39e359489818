package producer_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/connectors/sls/internal/producer"
	"github.com/slspipe/slspipe/emulator"
	"github.com/slspipe/slspipe/engine"
)

// counter is an engine.Confirmer that counts stored and failed records.
type counter struct{ stored, failed atomic.Int64 }

func (c *counter) Confirm(n int, err error) {
	if err != nil {
		c.failed.Add(int64(n))
		return
	}
	c.stored.Add(int64(n))
}

// Write records to a logstore of a local emulator and close the producer,
// which flushes and confirms everything.
func Example() {
	srv, err := emulator.New(emulator.Config{Logstores: []emulator.LogstoreSpec{{Project: "demo", Logstore: "out", Shards: 2}}})
	if err != nil {
		panic(err)
	}
	if err := srv.Start(context.Background(), "127.0.0.1:0"); err != nil {
		panic(err)
	}
	defer srv.Close()

	p, err := producer.New(config.SLSSink{
		SLSAuth: config.SLSAuth{
			Endpoint: "http://" + srv.Addr(), Project: "demo",
			AccessKeyID:     config.NewSecret(emulator.DefaultAccessKeyID),
			AccessKeySecret: config.NewSecret(emulator.DefaultAccessKeySecret),
		},
		Logstore:    "out",
		Partitioner: "field", PartitionField: "host",
		Topic: "demo",
	}, srv.HTTPClient())
	if err != nil {
		panic(err)
	}
	c := &counter{}
	now := engine.TimestampOf(time.Now())
	recs := []engine.Record{
		{Time: now, Fields: []engine.Field{{Key: []byte("host"), Value: []byte("web-1")}, {Key: []byte("msg"), Value: []byte("hello")}}},
		{Time: now, Fields: []engine.Field{{Key: []byte("host"), Value: []byte("web-2")}, {Key: []byte("msg"), Value: []byte("world")}}},
	}
	if err := p.Write(context.Background(), recs, c); err != nil {
		panic(err)
	}
	if err := p.Close(context.Background()); err != nil {
		panic(err)
	}
	fmt.Printf("stored %d, failed %d\n", c.stored.Load(), c.failed.Load())
	// Output: stored 2, failed 0
}
