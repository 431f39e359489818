package sls_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	sdk "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/gogo/protobuf/proto"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/connectors/sls"
	"github.com/slspipe/slspipe/emulator"
	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/engine/enginetest"
)

const (
	project  = "demo"
	logstore = "app"
)

// startEmulator serves an emulator with one logstore of n shards.
func startEmulator(t testing.TB, shards int) *emulator.Server {
	t.Helper()
	srv, err := emulator.New(emulator.Config{Logstores: []emulator.LogstoreSpec{{Project: project, Logstore: logstore, Shards: shards}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// sourceConfig is a source configuration for srv, reached through its
// address as a user would give it ("http://127.0.0.1:port").
func sourceConfig(srv *emulator.Server) config.SLSSource {
	return config.SLSSource{
		SLSAuth: config.SLSAuth{
			Endpoint: "http://" + srv.Addr(), Project: project,
			AccessKeyID:      config.NewSecret(emulator.DefaultAccessKeyID),
			AccessKeySecret:  config.NewSecret(emulator.DefaultAccessKeySecret),
			SignatureVersion: "v1",
		},
		Logstores:              []string{logstore},
		StartPosition:          config.Position{Mode: config.PositionBegin},
		DefaultPosition:        config.Position{Mode: config.PositionBegin},
		FetchInterval:          config.Duration(20 * time.Millisecond),
		MaxPerFetch:            50,
		ShardDiscoveryInterval: config.Duration(100 * time.Millisecond),
		Compression:            "lz4",
		GroupMode:              "standalone",
		ConsumerName:           "test",
		HeartbeatInterval:      config.Duration(200 * time.Millisecond),
		HeartbeatTimeout:       config.Duration(2 * time.Second),
		Ordered:                true,
		OnCursorExpired:        "begin",
		Retry:                  config.Retry{BaseBackoff: config.Duration(5 * time.Millisecond), MaxBackoff: config.Duration(50 * time.Millisecond), MaxRetries: 30},
	}
}

// sdkClient is the unmodified SDK client pointed at srv.
func sdkClient(srv *emulator.Server) sdk.ClientInterface {
	c := sdk.CreateNormalInterface(srv.Addr(), emulator.DefaultAccessKeyID, emulator.DefaultAccessKeySecret, "")
	c.SetHTTPClient(srv.HTTPClient())
	return c
}

// hashKey is the SLS hash key of a record key.
func hashKey(key string) string {
	h := md5.Sum([]byte(key))
	return hex.EncodeToString(h[:])
}

// producer writes logs with a key and a per-key sequence number through
// the SDK's PostLogStoreLogs, routing by the key's hash.
type producer struct {
	c    sdk.ClientInterface
	mu   sync.Mutex
	next map[string]int
}

func newProducer(srv *emulator.Server) *producer {
	return &producer{c: sdkClient(srv), next: map[string]int{}}
}

// write posts one log group of n logs for key.
func (p *producer) write(t testing.TB, key string, n int) {
	t.Helper()
	p.mu.Lock()
	seq := p.next[key]
	p.next[key] = seq + n
	p.mu.Unlock()
	now := uint32(time.Now().Unix())
	g := &sdk.LogGroup{Topic: proto.String("t"), Source: proto.String("10.0.0.1"),
		LogTags: []*sdk.LogTag{{Key: proto.String("__tag__:k"), Value: proto.String(key)}}}
	for i := range n {
		g.Logs = append(g.Logs, &sdk.Log{Time: proto.Uint32(now), TimeNs: proto.Uint32(uint32(i)), Contents: []*sdk.LogContent{
			{Key: proto.String("key"), Value: proto.String(key)},
			{Key: proto.String("seq"), Value: proto.String(strconv.Itoa(seq + i))},
			{Key: proto.String("body"), Value: proto.String("GET /api/v1/items HTTP/1.1 200 1234")},
		}})
	}
	hk := hashKey(key)
	if err := p.c.PostLogStoreLogs(project, logstore, g, &hk); err != nil {
		t.Errorf("PostLogStoreLogs %s: %v", key, err)
	}
}

// total returns how many logs were written.
func (p *producer) total() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, v := range p.next {
		n += v
	}
	return n
}

// fill writes groups groups of n logs for each key.
func (p *producer) fill(t testing.TB, keys []string, groups, n int) {
	for range groups {
		for _, k := range keys {
			p.write(t, k, n)
		}
	}
}

func keysN(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("key-%03d", i)
	}
	return out
}

// trickle writes one log per key every pause in the background until the
// returned stop is called (also at the end of the test).
func (p *producer) trickle(t *testing.T, keys []string, pause time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			p.fill(t, keys, 1, 2)
			time.Sleep(pause) // a steady trickle, not a flood
		}
	})
	stop = func() { cancel(); wg.Wait() }
	t.Cleanup(stop)
	return stop
}

// orderSink records, per key, the sequence numbers in the order the
// pipeline wrote them, and stores the records in an enginetest.Sink.
type orderSink struct {
	*enginetest.Sink
	mu    sync.Mutex
	seqs  map[string][]int
	count map[string]int // content id "key/seq" → deliveries
	n     int
	pos   map[string]int // record id → deliveries (identity)
}

func newOrderSink() *orderSink { return newOrderSinkWith(enginetest.SinkConfig{}) }

func newOrderSinkWith(cfg enginetest.SinkConfig) *orderSink {
	return &orderSink{Sink: enginetest.NewSink(cfg), seqs: map[string][]int{}, count: map[string]int{}}
}

func (s *orderSink) Write(ctx context.Context, recs []engine.Record, c engine.Confirmer) error {
	s.mu.Lock()
	for i := range recs {
		k, _ := recs[i].Get("key")
		v, _ := recs[i].Get("seq")
		seq, _ := strconv.Atoi(string(v))
		s.seqs[string(k)] = append(s.seqs[string(k)], seq)
		s.count[string(k)+"/"+string(v)]++
		s.n++
	}
	s.mu.Unlock()
	return s.Sink.Write(ctx, recs, c)
}

// delivered returns the number of records written, counting repeats.
func (s *orderSink) delivered() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// distinct returns the number of distinct (key, seq) records written.
func (s *orderSink) distinct() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.count)
}

// checkComplete checks that every written log arrived, once when once is
// set, and that each key's sequence numbers arrived in order.
func (s *orderSink) checkComplete(t *testing.T, p *producer, once bool) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	for key, n := range p.next {
		for seq := range n {
			c := s.count[key+"/"+strconv.Itoa(seq)]
			if c == 0 {
				t.Errorf("%s/%d lost", key, seq)
				return
			}
			if once && c != 1 {
				t.Errorf("%s/%d delivered %d times", key, seq, c)
				return
			}
		}
		seqs := s.seqs[key]
		for i := 1; i < len(seqs); i++ {
			if once && seqs[i] <= seqs[i-1] {
				t.Errorf("key %s out of order: %d after %d", key, seqs[i], seqs[i-1])
				return
			}
		}
	}
}

// run is a pipeline running in the background.
type run struct {
	p        *engine.Pipeline
	cancel   context.CancelFunc
	finished chan struct{}
	err      error
}

// startPipeline runs src into sink with the given committers.
func startPipeline(t testing.TB, src engine.Source, sink engine.Sink, committers ...engine.Committer) *run {
	t.Helper()
	cfg := engine.NewConfig().WithCommitters(committers...).WithCheckpointInterval(50 * time.Millisecond).
		WithWorkers(2).WithShutdownTimeout(5 * time.Second)
	p, err := engine.New("p", src, nil, sink, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &run{p: p, cancel: cancel, finished: make(chan struct{})}
	go func() { r.err = p.Run(ctx); close(r.finished) }()
	t.Cleanup(func() { _ = r.stop(t) })
	return r
}

// stop cancels the run and returns its error.
func (r *run) stop(t testing.TB) error {
	r.cancel()
	return r.wait(t)
}

// wait returns the run's result, failing the test after a generous limit.
func (r *run) wait(t testing.TB) error {
	select {
	case <-r.finished:
		return r.err
	case <-time.After(60 * time.Second):
		t.Error("pipeline did not end")
		return nil
	}
}

// eventually waits until cond holds, failing the test after 60 s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newSource(t testing.TB, cfg config.SLSSource, opts ...sls.Option) *sls.Source {
	t.Helper()
	src, err := sls.NewSource(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func sdkGroup(name string) sdk.ConsumerGroup {
	return sdk.ConsumerGroup{ConsumerGroupName: name, Timeout: 10, InOrder: true}
}

// quietLogger drops everything below warnings.
var quietLogger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
