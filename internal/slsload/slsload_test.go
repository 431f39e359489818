package slsload_test

import (
	"context"
	"testing"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/slspipe/slspipe/connectors/generate"
	"github.com/slspipe/slspipe/emulator"
	"github.com/slspipe/slspipe/internal/slsload"
	"github.com/slspipe/slspipe/internal/slstest"
)

// TestLoaderWritesEveryRecord loads generated records into the emulator and
// reads every shard back with the SDK: all records arrive, spread by key.
func TestLoaderWritesEveryRecord(t *testing.T) {
	ctx := context.Background()
	srv, err := emulator.New(emulator.Config{Logstores: []emulator.LogstoreSpec{{Project: "demo", Logstore: "nginx", Shards: 4}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	client := sls.CreateNormalInterface(srv.Addr(), emulator.DefaultAccessKeyID, emulator.DefaultAccessKeySecret, "")
	client.SetHTTPClient(srv.HTTPClient())

	gen, err := generate.New(generate.Config{Shards: 3, Count: 3000, BatchSize: 50, Start: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	l := slsload.New(client, "demo", "nginx", "request_id")
	if err := l.Run(ctx, gen); err != nil {
		t.Fatal(err)
	}
	if l.Records() != 3000 {
		t.Fatalf("loader reports %d records, want 3000", l.Records())
	}

	groups, err := slstest.ReadAll(client, "demo", "nginx")
	if err != nil {
		t.Fatal(err)
	}
	total, shardsWithData := 0, 0
	for _, gs := range groups {
		n := 0
		for _, g := range gs {
			for _, log := range g.Logs {
				if len(log.Contents) != 10 {
					t.Fatalf("log with %d contents, want 10", len(log.Contents))
				}
				n++
			}
		}
		total += n
		if n > 0 {
			shardsWithData++
		}
	}
	if total != 3000 || shardsWithData < 2 {
		t.Fatalf("read back %d logs over %d shards, want 3000 over several", total, shardsWithData)
	}
}
