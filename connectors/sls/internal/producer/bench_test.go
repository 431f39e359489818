package producer

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdk "github.com/aliyun/aliyun-log-go-sdk"
	sdkproducer "github.com/aliyun/aliyun-log-go-sdk/producer"
	gokitlog "github.com/go-kit/kit/log"
	"github.com/gogo/protobuf/proto"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/emulator"
	"github.com/slspipe/slspipe/engine"
)

// The benchmarks share one emulator and one set of records, so that the
// official producer library and the sink are measured under the same
// conditions in the same run. The library runs first, on the emptier
// emulator.
const benchProject, benchLogstore = "bench", "events"

var bench struct {
	once sync.Once
	srv  *emulator.Server
	recs []engine.Record // 10 fields, about 200 bytes each
	err  error
}

func benchEnv(b *testing.B) (*emulator.Server, []engine.Record) {
	b.Helper()
	bench.once.Do(func() {
		bench.srv, bench.err = emulator.New(emulator.Config{
			Logstores: []emulator.LogstoreSpec{{Project: benchProject, Logstore: benchLogstore, Shards: 4}},
			Logger:    quiet,
		})
		if bench.err == nil {
			bench.err = bench.srv.Start(context.Background(), "127.0.0.1:0")
		}
		bench.recs = benchRecords()
	})
	if bench.err != nil {
		b.Fatal(bench.err)
	}
	return bench.srv, bench.recs
}

// benchRecords returns the records both benchmarks write: one group shape
// (topic, source, no tags) for both producers.
func benchRecords() []engine.Record {
	now := time.Now()
	recs := make([]engine.Record, 4096)
	for i := range recs {
		recs[i] = testRecord(i, now)
		recs[i].Tags = nil
		recs[i].Topic, recs[i].Source = "bench", "10.0.0.1"
	}
	return recs
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bench.srv != nil {
		_ = bench.srv.Close()
	}
	os.Exit(code)
}

// Settings shared by both producers.
const (
	benchThreads    = 8
	benchLinger     = 100 * time.Millisecond
	benchBatchCount = 4096
	benchBatchBytes = 3 << 20
	benchWriteSize  = 1000 // records per engine batch
)

// reportRates reports logs per second and CPU (client and emulator, which
// share the process) per log.
func reportRates(b *testing.B, cpu time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logs/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/log")
}

// libraryCallback counts the official producer's callbacks.
type libraryCallback struct {
	ok, failed atomic.Int64
	changed    chan struct{} // signalled after each callback
}

func newLibraryCallback() *libraryCallback {
	return &libraryCallback{changed: make(chan struct{}, 1)}
}

func (c *libraryCallback) Success(*sdkproducer.Result) { c.ok.Add(1); c.signal() }
func (c *libraryCallback) Fail(*sdkproducer.Result)    { c.failed.Add(1); c.signal() }

func (c *libraryCallback) signal() {
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// await waits until n callbacks have arrived.
func (c *libraryCallback) await(b *testing.B, n int64) {
	deadline := time.After(2 * time.Minute)
	for c.ok.Load()+c.failed.Load() < n {
		select {
		case <-c.changed:
		case <-deadline:
			b.Fatalf("%d of %d callbacks", c.ok.Load()+c.failed.Load(), n)
		}
	}
}

// toLog converts a record as a sink built on the library would.
func toLog(r *engine.Record) *sdk.Log {
	l := &sdk.Log{Time: proto.Uint32(uint32(r.Time.Sec)), TimeNs: proto.Uint32(r.Time.Nsec),
		Contents: make([]*sdk.LogContent, len(r.Fields))}
	for i, f := range r.Fields {
		l.Contents[i] = &sdk.LogContent{Key: proto.String(string(f.Key)), Value: proto.String(string(f.Value))}
	}
	return l
}

// BenchmarkProducerLibrary writes b.N records through the official producer
// library with the same settings: one callback per log (per-log), as the
// Flink sink sends, or per engine batch (per-list).
func BenchmarkProducerLibrary(b *testing.B) {
	for _, mode := range []string{"per-log", "per-list"} {
		b.Run(mode, func(b *testing.B) {
			srv, recs := benchEnv(b)
			hc := srv.HTTPClient()
			pc := sdkproducer.GetDefaultProducerConfig()
			pc.Endpoint = srv.Addr()
			pc.AccessKeyID, pc.AccessKeySecret = emulator.DefaultAccessKeyID, emulator.DefaultAccessKeySecret
			pc.HTTPClient = hc
			pc.Logger = gokitlog.NewNopLogger()
			pc.DisableRuntimeMetrics = true
			pc.LingerMs = int64(benchLinger / time.Millisecond)
			pc.MaxIoWorkerCount = benchThreads
			pc.MaxBatchCount = benchBatchCount
			pc.MaxBatchSize = benchBatchBytes
			p, err := sdkproducer.NewProducer(pc)
			if err != nil {
				b.Fatal(err)
			}
			p.Start()
			// The library fills in its HTTP client lazily and unsafely: one
			// completed send first makes later uses reads.
			warm := newLibraryCallback()
			if err := p.SendLogWithCallBack(benchProject, benchLogstore, "bench", "10.0.0.1", toLog(&recs[0]), warm); err != nil {
				b.Fatal(err)
			}
			warm.await(b, 1)
			if warm.failed.Load() != 0 {
				b.Fatal("warm-up send failed")
			}

			cb := newLibraryCallback()
			calls := int64(0)
			b.ReportAllocs()
			b.ResetTimer()
			cpu := processCPU()
			for i := 0; i < b.N; i += benchWriteSize {
				n := min(benchWriteSize, b.N-i)
				off := i % (len(recs) - benchWriteSize)
				if mode == "per-log" {
					for k := range n {
						if err := p.SendLogWithCallBack(benchProject, benchLogstore, "bench", "10.0.0.1", toLog(&recs[off+k]), cb); err != nil {
							b.Fatal(err)
						}
						calls++
					}
					continue
				}
				list := make([]*sdk.Log, n)
				for k := range n {
					list[k] = toLog(&recs[off+k])
				}
				if err := p.SendLogListWithCallBack(benchProject, benchLogstore, "bench", "10.0.0.1", list, cb); err != nil {
					b.Fatal(err)
				}
				calls++
			}
			cb.await(b, calls)
			b.StopTimer()
			cpu = processCPU() - cpu
			p.SafeClose()
			hc.CloseIdleConnections()
			if f := cb.failed.Load(); f != 0 {
				b.Fatalf("%d callbacks failed", f)
			}
			reportRates(b, cpu)
		})
	}
}

// BenchmarkSLSSink writes b.N records through Producer.Write in engine-sized
// batches from two goroutines and waits for every confirmation.
func BenchmarkSLSSink(b *testing.B) {
	srv, recs := benchEnv(b)
	cfg := sinkConfig(srv, benchProject, benchLogstore)
	cfg.IOThreads, cfg.Linger = benchThreads, config.Duration(benchLinger)
	cfg.MaxBatchCount, cfg.MaxBatchBytes = benchBatchCount, benchBatchBytes
	hc := srv.HTTPClient()
	p, err := New(cfg, hc, WithLogger(quiet))
	if err != nil {
		b.Fatal(err)
	}
	c := newConfirmations()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for {
				i := int(next.Add(benchWriteSize)) - benchWriteSize
				if i >= b.N {
					return
				}
				n := min(benchWriteSize, b.N-i)
				off := i % (len(recs) - benchWriteSize)
				if err := p.Write(context.Background(), recs[off:off+n], c); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := p.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	c.expect(b.N)
	c.await(b, time.Minute)
	b.StopTimer()
	if f := c.failed.Load(); f != 0 {
		b.Fatalf("%d records failed: %v", f, c.errors()[0])
	}
	reportRates(b, processCPU()-cpu)
	hc.CloseIdleConnections()
}
