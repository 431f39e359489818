package sls_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdk "github.com/aliyun/aliyun-log-go-sdk"
	consumer "github.com/aliyun/aliyun-log-go-sdk/consumer"
	gokitlog "github.com/go-kit/kit/log"
	"github.com/gogo/protobuf/proto"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/emulator"
	"github.com/slspipe/slspipe/engine"
)

// Benchmark data: 4 shards, each with benchGroups log groups of benchLogs
// nginx-like logs of 10 fields.
const (
	benchShards = 4
	benchGroups = 200
	benchLogs   = 256
)

var (
	benchOnce sync.Once
	benchSrv  *emulator.Server
	benchStop time.Time
)

// benchEmulator preloads the benchmark data once, into an emulator that
// runs in this process, and returns it with a stop time after the data.
func benchEmulator(b *testing.B) (*emulator.Server, time.Time) {
	benchOnce.Do(func() {
		srv, err := emulator.New(emulator.Config{Logstores: []emulator.LogstoreSpec{{Project: project, Logstore: logstore, Shards: benchShards}}})
		if err != nil {
			b.Fatal(err)
		}
		if err := srv.Start(context.Background(), "127.0.0.1:0"); err != nil {
			b.Fatal(err)
		}
		c := sdkClient(srv)
		now := uint32(time.Now().Unix())
		for g := range benchGroups * benchShards {
			lg := &sdk.LogGroup{Topic: proto.String("nginx"), Source: proto.String("10.0.0.1")}
			for i := range benchLogs {
				l := &sdk.Log{Time: proto.Uint32(now), TimeNs: proto.Uint32(uint32(i))}
				for _, kv := range [][2]string{
					{"remote", "192.168.1.20"}, {"method", "GET"}, {"status", "200"},
					{"path", "/api/v1/items/" + strconv.Itoa(g*benchLogs+i)}, {"bytes", strconv.Itoa(i * 131 % 65536)},
					{"ua", "Mozilla/5.0 (X11; Linux x86_64)"}, {"referer", "https://www.example.com/"},
					{"latency_ms", strconv.Itoa(i % 250)}, {"host", "www.example.com"}, {"seq", strconv.Itoa(g*benchLogs + i)},
				} {
					l.Contents = append(l.Contents, &sdk.LogContent{Key: proto.String(kv[0]), Value: proto.String(kv[1])})
				}
				lg.Logs = append(lg.Logs, l)
			}
			if err := c.PutLogs(project, logstore, lg); err != nil {
				b.Fatal(err)
			}
		}
		benchSrv, benchStop = srv, nextSecond()
		time.Sleep(time.Until(benchStop.Add(1100 * time.Millisecond)))
	})
	if benchSrv == nil {
		b.Fatal("benchmark data not loaded")
	}
	return benchSrv, benchStop
}

const benchTotal = benchShards * benchGroups * benchLogs

// nullSink confirms every write at once.
type nullSink struct{ n atomic.Int64 }

func (s *nullSink) Write(_ context.Context, recs []engine.Record, c engine.Confirmer) error {
	s.n.Add(int64(len(recs)))
	c.Confirm(len(recs), nil)
	return nil
}

// BenchmarkSourceVsConsumerLibrary reads the same preloaded logstore from
// its beginning to its end with slspipe's source driving the engine into a
// null confirming sink, and with the official consumer library and a no-op
// processor, alternating the two in every op so that both see the same
// machine load. The emulator runs in the benchmark's process, sharing its
// CPUs with both readers alike. It reports the logs/s of each and their
// ratio.
func BenchmarkSourceVsConsumerLibrary(b *testing.B) {
	srv, stop := benchEmulator(b)
	var ours, theirs time.Duration
	b.ResetTimer()
	for i := range b.N {
		ours += readWithSource(b, srv, stop)
		theirs += readWithLibrary(b, srv, i)
	}
	total := float64(benchTotal) * float64(b.N)
	b.ReportMetric(total/ours.Seconds(), "slspipe-logs/s")
	b.ReportMetric(total/theirs.Seconds(), "library-logs/s")
	b.ReportMetric(theirs.Seconds()/ours.Seconds(), "ratio")
}

// readWithSource reads every log with the slspipe source and engine.
func readWithSource(b *testing.B, srv *emulator.Server, stop time.Time) time.Duration {
	cfg := sourceConfig(srv)
	cfg.MaxPerFetch = 1000
	cfg.StopTime = config.Timestamp{Time: stop}
	start := time.Now()
	src := newSource(b, cfg)
	sink := &nullSink{}
	p, err := engine.New("bench", src, nil, sink, engine.NewConfig().WithCheckpointInterval(time.Second).WithLogger(quietLogger))
	if err != nil {
		b.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	d := time.Since(start)
	if got := sink.n.Load(); got != benchTotal {
		b.Fatalf("read %d logs, want %d", got, benchTotal)
	}
	return d
}

// readWithLibrary reads every log with the consumer library, in a new
// consumer group each time.
func readWithLibrary(b *testing.B, srv *emulator.Server, i int) time.Duration {
	var n atomic.Int64
	done := make(chan struct{})
	var once sync.Once
	start := time.Now()
	w := consumer.InitConsumerWorkerWithCheckpointTracker(consumer.LogHubConfig{
		Endpoint:                  srv.Addr(),
		AccessKeyID:               emulator.DefaultAccessKeyID,
		AccessKeySecret:           emulator.DefaultAccessKeySecret,
		Project:                   project,
		Logstore:                  logstore,
		ConsumerGroupName:         fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), i),
		ConsumerName:              "bench",
		CursorPosition:            consumer.BEGIN_CURSOR,
		HeartbeatIntervalInSecond: 1,
		DataFetchIntervalInMs:     50,
		MaxFetchLogGroupCount:     1000,
		HTTPClient:                srv.HTTPClient(),
		Logger:                    gokitlog.NewNopLogger(),
		AutoCommitDisabled:        true,
	}, func(_ int, gl *sdk.LogGroupList, _ consumer.CheckPointTracker) (string, error) {
		c := 0
		for _, g := range gl.LogGroups {
			c += len(g.Logs)
		}
		if n.Add(int64(c)) >= benchTotal {
			once.Do(func() { close(done) })
		}
		return "", nil
	})
	w.Start()
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("consumer library read %d of %d logs", n.Load(), benchTotal)
	}
	d := time.Since(start)
	w.StopAndWait()
	return d
}
