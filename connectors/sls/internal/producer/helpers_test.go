package producer

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdk "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/emulator"
	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/internal/slstest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// startEmulator starts an emulator holding one logstore and closes it when
// the test ends.
func startEmulator(t testing.TB, project, logstore string, shards int) *emulator.Server {
	t.Helper()
	srv, err := emulator.New(emulator.Config{
		Logstores: []emulator.LogstoreSpec{{Project: project, Logstore: logstore, Shards: shards}},
		Logger:    quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// sinkConfig is a sink configuration for srv with the emulator's
// credentials, a short linger and fast retries.
func sinkConfig(srv *emulator.Server, project, logstore string) config.SLSSink {
	return config.SLSSink{
		SLSAuth: config.SLSAuth{
			Endpoint: "http://" + srv.Addr(), Project: project,
			AccessKeyID:      config.NewSecret(emulator.DefaultAccessKeyID),
			AccessKeySecret:  config.NewSecret(emulator.DefaultAccessKeySecret),
			SignatureVersion: "v1",
		},
		Logstore:      logstore,
		IOThreads:     8,
		Linger:        config.Duration(20 * time.Millisecond),
		MaxBatchCount: 4096,
		MaxBatchBytes: 3 << 20,
		MaxMemory:     100 << 20,
		Partitioner:   "random",
		Compression:   "lz4",
		Retries:       10,
		BaseBackoff:   config.Duration(5 * time.Millisecond),
		MaxBackoff:    config.Duration(200 * time.Millisecond),
	}
}

// newProducer builds a producer over hc (the emulator's client when nil)
// and closes it when the test ends.
func newProducer(t testing.TB, srv *emulator.Server, cfg config.SLSSink, hc *http.Client, opts ...Option) *Producer {
	t.Helper()
	if hc == nil {
		hc = srv.HTTPClient()
	}
	opts = append([]Option{WithLogger(quiet), WithLookup(func(string) (string, bool) { return "", false })}, opts...)
	p, err := New(cfg, hc, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = p.Close(ctx)
		hc.CloseIdleConnections()
	})
	return p
}

// confirmations counts a sink's confirmations and signals when all the
// expected ones have arrived.
type confirmations struct {
	ok, failed atomic.Int64
	want       atomic.Int64
	done       chan struct{}
	once       sync.Once

	mu   sync.Mutex
	errs []error
}

func newConfirmations() *confirmations { return &confirmations{done: make(chan struct{})} }

// Confirm implements engine.Confirmer.
func (c *confirmations) Confirm(n int, err error) {
	if err != nil {
		c.failed.Add(int64(n))
		c.mu.Lock()
		c.errs = append(c.errs, err)
		c.mu.Unlock()
	} else {
		c.ok.Add(int64(n))
	}
	c.check()
}

func (c *confirmations) expect(n int) { c.want.Store(int64(n)); c.check() }

func (c *confirmations) check() {
	if w := c.want.Load(); w > 0 && c.ok.Load()+c.failed.Load() >= w {
		c.once.Do(func() { close(c.done) })
	}
}

func (c *confirmations) errors() []error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]error(nil), c.errs...)
}

// await waits until the expected confirmations have arrived.
func (c *confirmations) await(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(d):
		t.Fatalf("%d of %d records confirmed (%d failed) after %v", c.ok.Load()+c.failed.Load(), c.want.Load(), c.failed.Load(), d)
	}
	if total := c.ok.Load() + c.failed.Load(); total != c.want.Load() {
		t.Fatalf("%d confirmations for %d records", total, c.want.Load())
	}
}

// storedLog is one log as written or read back, with its group's
// metadata; its JSON form is a multiset key.
type storedLog struct {
	Topic    string      `json:"topic"`
	Source   string      `json:"source"`
	Tags     [][2]string `json:"tags"`
	Time     uint32      `json:"time"`
	TimeNs   uint32      `json:"timeNs"`
	Contents [][2]string `json:"contents"`
}

func (l storedLog) key() string {
	b, err := json.Marshal(l)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// contents returns the value of key, or "".
func (l storedLog) get(key string) string {
	for _, kv := range l.Contents {
		if kv[0] == key {
			return kv[1]
		}
	}
	return ""
}

// shardLogs is what one shard holds.
type shardLogs struct {
	shard      sdk.Shard
	begin, end string // the shard's hash range [begin, end)
	logs       []storedLog
}

// readShards pulls every shard from begin to end with the SDK.
func readShards(t testing.TB, srv *emulator.Server, project, logstore string) []shardLogs {
	t.Helper()
	hc := srv.HTTPClient()
	defer hc.CloseIdleConnections()
	c := sdk.CreateNormalInterface(srv.Addr(), emulator.DefaultAccessKeyID, emulator.DefaultAccessKeySecret, "")
	c.SetHTTPClient(hc)
	shards, err := c.ListShards(project, logstore)
	if err != nil {
		t.Fatalf("ListShards: %v", err)
	}
	groups, err := slstest.ReadAll(c, project, logstore)
	if err != nil {
		t.Fatal(err)
	}
	var out []shardLogs
	for _, sh := range shards {
		sl := shardLogs{shard: *sh, begin: sh.InclusiveBeginKey, end: sh.ExclusiveBeginKey}
		for _, g := range groups[sh.ShardID] {
			var tags [][2]string
			for _, tag := range g.LogTags {
				tags = append(tags, [2]string{tag.GetKey(), tag.GetValue()})
			}
			for _, l := range g.Logs {
				var contents [][2]string
				for _, kv := range l.Contents {
					contents = append(contents, [2]string{kv.GetKey(), kv.GetValue()})
				}
				sl.logs = append(sl.logs, storedLog{Topic: g.GetTopic(), Source: g.GetSource(), Tags: tags,
					Time: l.GetTime(), TimeNs: l.GetTimeNs(), Contents: contents})
			}
		}
		out = append(out, sl)
	}
	return out
}

// multiset counts logs by their key.
func multiset(shards []shardLogs) map[string]int {
	m := map[string]int{}
	for _, s := range shards {
		for _, l := range s.logs {
			m[l.key()]++
		}
	}
	return m
}

// compare reports logs missing from got and returns how many of got are
// duplicates of wanted logs.
func compare(t testing.TB, want, got map[string]int) (dups int) {
	t.Helper()
	var missing, extra []string
	for k, n := range want {
		if d := n - got[k]; d > 0 {
			missing = append(missing, fmt.Sprintf("%d× %s", d, k))
		}
	}
	for k, n := range got {
		switch d := n - want[k]; {
		case want[k] == 0:
			extra = append(extra, fmt.Sprintf("%d× %s", n, k))
		case d > 0:
			dups += d
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("%d distinct logs written but not read back, e.g.:\n%s", len(missing), strings.Join(missing[:min(5, len(missing))], "\n"))
	}
	if len(extra) > 0 {
		t.Errorf("%d distinct logs read back but never written, e.g.:\n%s", len(extra), strings.Join(extra[:min(5, len(extra))], "\n"))
	}
	return dups
}

// testRecord is record i of a test data set: 10 fields of about 200 bytes
// in all, a time with nanoseconds, a topic, a source and, for odd i, tags.
func testRecord(i int, base time.Time) engine.Record {
	kv := func(k, v string) engine.Field { return engine.Field{Key: []byte(k), Value: []byte(v)} }
	r := engine.Record{
		Fields: []engine.Field{
			kv("id", fmt.Sprint(i)),
			kv("level", [...]string{"INFO", "WARN", "ERROR"}[i%3]),
			kv("user", fmt.Sprintf("u-%05d", i%4099)),
			kv("method", [...]string{"GET", "POST", "PUT"}[i%3]),
			kv("path", fmt.Sprintf("/api/v1/items/%d", i%1000)),
			kv("status", fmt.Sprint(200+i%5)),
			kv("latency_ms", fmt.Sprint(i%997)),
			kv("host", fmt.Sprintf("web-%02d", i%16)),
			kv("msg", fmt.Sprintf("request %d served héllo wörld ✓", i)),
			kv("trace", fmt.Sprintf("%032x", i*2654435761)),
		},
		Time:   engine.TimestampOf(base.Add(-time.Duration(i%600) * time.Second).Add(time.Duration(i*7919%1_000_000_000) % time.Second)),
		Topic:  fmt.Sprintf("topic-%d", i%3),
		Source: fmt.Sprintf("10.0.0.%d", i%5),
	}
	if i%2 == 1 {
		r.Tags = []engine.Field{kv("__tag__:pod", fmt.Sprintf("pod-%d", i%7))}
	}
	return r
}

// expected is how record r is stored by a producer with cfg.
func expected(r engine.Record, cfg config.SLSSink) storedLog {
	l := storedLog{Topic: r.Topic, Source: r.Source, Time: uint32(r.Time.Sec), TimeNs: r.Time.Nsec}
	if cfg.Topic != "" {
		l.Topic = cfg.Topic
	}
	if cfg.Source != "" {
		l.Source = cfg.Source
	} else if l.Source == "" {
		l.Source = hostAddress()
	}
	var keys []string
	for k := range cfg.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		l.Tags = append(l.Tags, [2]string{k, cfg.Tags[k]})
	}
	for _, t := range r.Tags {
		l.Tags = append(l.Tags, [2]string{string(t.Key), string(t.Value)})
	}
	if len(r.Fields) == 0 && len(r.Payload) > 0 {
		l.Contents = [][2]string{{payloadKey, string(r.Payload)}}
	}
	for _, f := range r.Fields {
		l.Contents = append(l.Contents, [2]string{string(f.Key), string(f.Value)})
	}
	return l
}

// writeAll writes recs in slices of batch records from workers goroutines,
// as the engine does, and returns the first Write error.
func writeAll(ctx context.Context, p *Producer, recs []engine.Record, batch, workers int, c engine.Confirmer) error {
	var wg sync.WaitGroup
	var first atomic.Pointer[error]
	var next atomic.Int64
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)-1) * batch
				if i >= len(recs) {
					return
				}
				if err := p.Write(ctx, recs[i:min(i+batch, len(recs))], c); err != nil {
					first.CompareAndSwap(nil, &err)
					return
				}
			}
		})
	}
	wg.Wait()
	if e := first.Load(); e != nil {
		return *e
	}
	return nil
}
