package producer

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/emulator/faults"
	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/internal/metricstest"
)

// Every record written is confirmed OK once and read back exactly: contents,
// time with nanoseconds, topic, source and tags, over lz4/v1 and zstd/v4.
func TestDeliversEveryRecord(t *testing.T) {
	for _, tc := range []struct{ compression, signature string }{{"lz4", "v1"}, {"zstd", "v4"}} {
		t.Run(tc.compression+"-"+tc.signature, func(t *testing.T) {
			const project, logstore = "p-deliver", "out"
			srv := startEmulator(t, project, logstore, 4)
			cfg := sinkConfig(srv, project, logstore)
			cfg.Compression, cfg.SignatureVersion, cfg.Region = tc.compression, tc.signature, "cn-shanghai"
			cfg.Tags = map[string]string{"env": "test", "app": "slspipe"}
			cfg.MaxBatchCount = 1000 // several batches per key
			reg := prometheus.NewRegistry()
			p := newProducer(t, srv, cfg, nil, WithRegisterer(reg))

			n := 20_000 / scale
			base := time.Now()
			recs := make([]engine.Record, n)
			want := map[string]int{}
			for i := range recs {
				recs[i] = testRecord(i, base)
				switch i % 50 {
				case 7: // no source of its own: the host's address
					recs[i].Source = ""
				case 11: // a serializer's payload and no fields
					recs[i].Fields, recs[i].Payload = nil, []byte(fmt.Sprintf(`{"n":%d}`, i))
				}
				want[expected(recs[i], cfg).key()]++
			}
			c := newConfirmations()
			if err := writeAll(context.Background(), p, recs, 500, 2, c); err != nil {
				t.Fatal(err)
			}
			if err := p.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			c.expect(n)
			c.await(t, time.Minute)
			if f := c.failed.Load(); f != 0 {
				t.Fatalf("%d records confirmed failed, e.g. %v", f, c.errors()[0])
			}
			shards := readShards(t, srv, project, logstore)
			if dups := compare(t, want, multiset(shards)); dups != 0 {
				t.Errorf("%d logs stored twice without any fault", dups)
			}
			used := 0
			for _, s := range shards {
				if len(s.logs) > 0 {
					used++
				}
			}
			if used < 2 {
				t.Errorf("load-balanced writes landed on %d of 4 shards", used)
			}
			if st, _ := p.mem.state(); st.used != 0 {
				t.Errorf("%d bytes still charged to the memory budget after Close", st.used)
			}
			checkStored(t, reg, project, logstore, n)
			if raw, comp := metricstest.Sample(t, reg, "slspipe_sls_sink_bytes_total"), metricstest.Sample(t, reg, "slspipe_sls_sink_compressed_bytes_total"); comp <= 0 || comp >= raw {
				t.Errorf("%v bytes stored compressed to %v; want fewer, and more than none", raw, comp)
			}
			if got := metricstest.Sample(t, reg, "slspipe_sls_sink_max_memory_bytes", "logstore", logstore); got != 0 {
				t.Errorf("max_memory gauge %v after Close, want 0", got)
			}
			if got := metricstest.Sample(t, reg, "slspipe_sls_sink_retries_total"); got != 0 {
				t.Errorf("%v retries counted without any fault", got)
			}
		})
	}
}

// checkStored checks the metrics in reg of a producer to project and
// logstore that stored n logs and failed none, once it is closed: logs
// and batches counted, one request timed per batch and retry, nothing
// left buffered.
func checkStored(t *testing.T, reg *prometheus.Registry, project, logstore string, n int) {
	t.Helper()
	at := []string{"project", project, "logstore", logstore}
	if got := metricstest.Sample(t, reg, "slspipe_sls_sink_logs_total", at...); got != float64(n) {
		t.Errorf("logs_total %v, want %d", got, n)
	}
	if got := metricstest.Sample(t, reg, "slspipe_sls_sink_logs_failed_total", at...); got != 0 {
		t.Errorf("logs_failed_total %v, want 0", got)
	}
	if got := metricstest.Sample(t, reg, "slspipe_sls_sink_batches_total", append(at, "outcome", "failed")...); got != 0 {
		t.Errorf("%v batches failed", got)
	}
	stored := metricstest.Sample(t, reg, "slspipe_sls_sink_batches_total", append(at, "outcome", "ok")...) +
		metricstest.Sample(t, reg, "slspipe_sls_sink_batches_total", append(at, "outcome", "retried")...)
	if stored == 0 || stored > float64(n) {
		t.Errorf("%v batches stored for %d logs", stored, n)
	}
	retries := metricstest.Sample(t, reg, "slspipe_sls_sink_retries_total", at...)
	if reqs := metricstest.Sample(t, reg, "slspipe_sls_sink_request_duration_seconds", at...); reqs != stored+retries {
		t.Errorf("%v requests timed; want one per batch (%v) and retry (%v)", reqs, stored, retries)
	}
	if raw := metricstest.Sample(t, reg, "slspipe_sls_sink_bytes_total", at...); raw < float64(n) {
		t.Errorf("bytes_total %v for %d logs", raw, n)
	}
	if got := metricstest.Sample(t, reg, "slspipe_sls_sink_buffered_bytes", at...); got != 0 {
		t.Errorf("buffered_bytes %v after Close, want 0", got)
	}
}

// inRange reports whether hex key k lies in the shard range [begin, end).
func inRange(k, begin, end string) bool {
	return strings.ToLower(begin) <= k && k < strings.ToLower(end)
}

// The field partitioner sends each record to the shard whose hash range
// holds the MD5 of its field, as ListShards reports the ranges.
func TestFieldPartitionerRoutesByMD5(t *testing.T) {
	const project, logstore = "p-field", "out"
	srv := startEmulator(t, project, logstore, 4)
	cfg := sinkConfig(srv, project, logstore)
	cfg.Partitioner, cfg.PartitionField = "field", "user"
	hc := srv.HTTPClient()
	ct := &countingTransport{next: hc.Transport}
	hc.Transport = ct
	p := newProducer(t, srv, cfg, hc)

	n := 10_000 / scale
	recs := make([]engine.Record, n)
	for i := range recs {
		recs[i] = testRecord(i, time.Now())
		recs[i].Fields[2].Value = []byte(fmt.Sprintf("user-%d", i%257))
		recs[i].Topic, recs[i].Source, recs[i].Tags = "t", "s", nil // one group shape
	}
	// The first keyed record starts the shard router; await its ranges so
	// that the rest is batched per shard.
	c := newConfirmations()
	if err := p.Write(context.Background(), recs[:1], c); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.router.known:
	case <-time.After(30 * time.Second):
		t.Fatal("shard ranges never fetched")
	}
	before := ct.n.Load()
	if err := writeAll(context.Background(), p, recs[1:], 256, 2, c); err != nil {
		t.Fatal(err)
	}
	c.expect(n)
	c.await(t, time.Minute)
	if reqs := ct.n.Load() - before; reqs >= 257 {
		t.Errorf("%d requests for %d records of 257 keys on 4 shards: batched per key, not per shard", reqs, n)
	} else {
		t.Logf("%d requests for %d records of 257 keys", reqs, n)
	}
	if f := c.failed.Load(); f != 0 {
		t.Fatalf("%d records failed: %v", f, c.errors()[0])
	}
	shardOf := map[string]int{}
	total := 0
	for _, s := range readShards(t, srv, project, logstore) {
		for _, l := range s.logs {
			total++
			user := l.get("user")
			sum := md5.Sum([]byte(user))
			k := hex.EncodeToString(sum[:])
			if !inRange(k, s.begin, s.end) {
				t.Fatalf("log of %s (key %s) on shard %d [%s, %s)", user, k, s.shard.ShardID, s.begin, s.end)
			}
			if prev, ok := shardOf[user]; ok && prev != s.shard.ShardID {
				t.Fatalf("logs of %s on shards %d and %d", user, prev, s.shard.ShardID)
			}
			shardOf[user] = s.shard.ShardID
		}
	}
	if total != n || len(shardOf) != 257 {
		t.Fatalf("read back %d logs of %d users, want %d of 257", total, len(shardOf), n)
	}
}

// The fixed partitioner sends everything to the shard of hash_key, and a
// serializer's hash key overrides it.
func TestFixedPartitionerAndRecordHashKey(t *testing.T) {
	const project, logstore = "p-fixed", "out"
	srv := startEmulator(t, project, logstore, 4)
	cfg := sinkConfig(srv, project, logstore)
	cfg.Partitioner, cfg.HashKey = "fixed", "9a"
	p := newProducer(t, srv, cfg, nil)

	n := 4_000 / scale
	recs := make([]engine.Record, n)
	for i := range recs {
		recs[i] = testRecord(i, time.Now())
		if i%10 == 0 {
			recs[i].HashKey = "10000000000000000000000000000000"
		}
	}
	c := newConfirmations()
	if err := p.Write(context.Background(), recs, c); err != nil {
		t.Fatal(err)
	}
	c.expect(n)
	c.await(t, time.Minute)
	if f := c.failed.Load(); f != 0 {
		t.Fatalf("%d records failed: %v", f, c.errors()[0])
	}
	for _, s := range readShards(t, srv, project, logstore) {
		fixed, own := 0, 0
		for _, l := range s.logs {
			var id int
			fmt.Sscan(l.get("id"), &id)
			if id%10 == 0 {
				own++
			} else {
				fixed++
			}
		}
		if want := inRange("9a000000000000000000000000000000", s.begin, s.end); want != (fixed == n-n/10) || !want && fixed != 0 {
			t.Errorf("shard %d [%s, %s) holds %d logs of the fixed key", s.shard.ShardID, s.begin, s.end, fixed)
		}
		if want := inRange("10000000000000000000000000000000", s.begin, s.end); want != (own == n/10) || !want && own != 0 {
			t.Errorf("shard %d [%s, %s) holds %d logs with their own hash key", s.shard.ShardID, s.begin, s.end, own)
		}
	}
}

// With the service stalled, Write blocks once max_memory is spent, the
// bytes held never exceed it, a blocked Write honours its context, and
// everything is delivered once the service answers again.
func TestBackpressureBlocksWrite(t *testing.T) {
	const project, logstore = "p-memory", "out"
	srv := startEmulator(t, project, logstore, 2)
	cfg := sinkConfig(srv, project, logstore)
	cfg.MaxMemory = 2 << 20
	cfg.MaxBatchBytes = 128 << 10
	cfg.IOThreads = 4
	cfg.Linger = config.Duration(time.Hour) // only full batches and memory pressure seal
	reg := prometheus.NewRegistry()
	p := newProducer(t, srv, cfg, nil, WithRegisterer(reg))

	stall, err := srv.Faults().Add(faults.Fault{Match: faults.Match{Kind: faults.Write}, Delay: faults.Duration(2 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	n := 40_000 // about 8 MiB, four times the budget
	recs := make([]engine.Record, n)
	for i := range recs {
		recs[i] = testRecord(i, time.Now())
	}
	c := newConfirmations()
	wrote := make(chan error, 1)
	go func() { wrote <- p.Write(context.Background(), recs, c) }()

	// Await a Write waiting for memory.
	awaitMemory(t, p, func(s memoryState) bool { return s.waiting == 1 })
	select {
	case err := <-wrote:
		t.Fatalf("Write returned (%v) with the service stalled and %d records", err, n)
	default:
	}
	st, _ := p.mem.state()
	if st.used > int64(cfg.MaxMemory) || st.used < int64(cfg.MaxMemory)/2 {
		t.Fatalf("Write blocked with %d bytes held, budget %d", st.used, cfg.MaxMemory)
	}
	// Batches may still complete, but not beyond the budget nor below half.
	if got := metricstest.Sample(t, reg, "slspipe_sls_sink_buffered_bytes"); got > float64(cfg.MaxMemory) || got < float64(cfg.MaxMemory)/2 {
		t.Fatalf("buffered_bytes %v while Write is blocked, budget %d", got, cfg.MaxMemory)
	}
	if ok := c.ok.Load(); ok != 0 {
		t.Fatalf("%d records confirmed while the service is stalled", ok)
	}

	// A second blocked Write gives up when its context ends.
	ctx, cancel := context.WithCancel(context.Background())
	c2 := newConfirmations()
	wrote2 := make(chan error, 1)
	go func() { wrote2 <- p.Write(ctx, recs[:100], c2) }()
	awaitMemory(t, p, func(s memoryState) bool { return s.waiting == 2 })
	cancel()
	if err := <-wrote2; !errors.Is(err, context.Canceled) {
		t.Fatalf("blocked Write with a cancelled context returned %v", err)
	}

	// Every sender is stuck in a stalled request.
	wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer wcancel()
	if st, err := srv.Faults().WaitFor(wctx, func(s faults.Stats) bool { return s.Delays >= int64(cfg.IOThreads) }); err != nil {
		t.Fatalf("senders not stalled: %+v", st)
	}
	if st, _ := p.mem.state(); st.used > int64(cfg.MaxMemory) || st.waiting != 1 {
		t.Fatalf("with the senders stalled: %+v", st)
	}
	srv.Faults().Remove(stall)
	t.Logf("Write blocked at %d of %d bytes", st.used, cfg.MaxMemory)
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.expect(n)
	c.await(t, time.Minute)
	if f := c.failed.Load(); f != 0 {
		t.Fatalf("%d records failed: %v", f, c.errors()[0])
	}
	if st, _ := p.mem.state(); st.peak > int64(cfg.MaxMemory) || st.used != 0 {
		t.Fatalf("memory peak %d (budget %d), %d still held", st.peak, cfg.MaxMemory, st.used)
	}
	got := 0
	for _, s := range readShards(t, srv, project, logstore) {
		got += len(s.logs)
	}
	if got != n {
		t.Fatalf("read back %d logs, wrote %d", got, n)
	}
	checkStored(t, reg, project, logstore, n)
}

// awaitMemory waits until the memory budget's state satisfies cond.
func awaitMemory(t *testing.T, p *Producer, cond func(memoryState) bool) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		st, changed := p.mem.state()
		if cond(st) {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("memory budget never reached the awaited state; last %+v", st)
		}
	}
}

// Throttling, server errors and dropped connections on about 10% of the
// writes lose nothing: every record is confirmed OK and read back.
func TestRetriesThroughFaults(t *testing.T) {
	const project, logstore = "p-faults", "out"
	srv := startEmulator(t, project, logstore, 2)
	for _, f := range []faults.Fault{
		faults.Throttle(faults.Write, logstore, 20, ""),
		{Match: faults.Match{Kind: faults.Write}, Count: 5, Drop: true},
		{Match: faults.Match{Kind: faults.Write}, Probability: 0.06, Status: 503},
		{Match: faults.Match{Kind: faults.Write}, Probability: 0.04, Status: 500},
	} {
		if _, err := srv.Faults().Add(f); err != nil {
			t.Fatal(err)
		}
	}
	cfg := sinkConfig(srv, project, logstore)
	cfg.MaxBatchCount = 50 // many requests, so every fault gets its turn
	cfg.Retries = 30
	reg := prometheus.NewRegistry()
	p := newProducer(t, srv, cfg, nil, WithRegisterer(reg))

	n := 20_000 / scale
	base := time.Now()
	recs := make([]engine.Record, n)
	want := map[string]int{}
	for i := range recs {
		recs[i] = testRecord(i, base)
		want[expected(recs[i], cfg).key()]++
	}
	c := newConfirmations()
	if err := writeAll(context.Background(), p, recs, 200, 2, c); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.expect(n)
	c.await(t, time.Minute)
	if f := c.failed.Load(); f != 0 {
		t.Fatalf("%d records failed: %v", f, c.errors()[0])
	}
	st := srv.Faults().Stats()
	if st.ByCode["ShardWriteQuotaExceed"] != 20 || st.Drops != 5 || st.ByCode["ServerBusy"] == 0 || st.ByCode["InternalServerError"] == 0 {
		t.Fatalf("faults not all injected: %+v", st)
	}
	checkStored(t, reg, project, logstore, n)
	for reason, want := range map[string]int64{
		"ShardWriteQuotaExceed": 20,
		"network":               st.Drops,
		"ServerBusy":            st.ByCode["ServerBusy"],
		"InternalServerError":   st.ByCode["InternalServerError"],
	} {
		if got := metricstest.Sample(t, reg, "slspipe_sls_sink_retries_total", "logstore", logstore, "reason", reason); got != float64(want) {
			t.Errorf("retries_total{reason=%q} %v, want %d", reason, got, want)
		}
	}
	if got := metricstest.Sample(t, reg, "slspipe_sls_sink_retries_total"); got != float64(st.Injected) {
		t.Errorf("%v retries counted for %d faults injected", got, st.Injected)
	}
	if got := metricstest.Sample(t, reg, "slspipe_sls_sink_batches_total", "outcome", "retried"); got == 0 {
		t.Error("no batch counted as stored after retries")
	}
	srv.Faults().ClearFaults()
	dups := compare(t, want, multiset(readShards(t, srv, project, logstore)))
	t.Logf("%d records, %d faults injected (%v, %d drops); %d duplicates read back", n, st.Injected, st.ByCode, st.Drops, dups)
}

// countingTransport counts requests.
type countingTransport struct {
	next http.RoundTripper
	n    atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

// Wrong credentials fail every record promptly with the service's answer,
// without retrying, and stop further sends.
func TestWrongCredentialsFailEveryRecord(t *testing.T) {
	const project, logstore = "p-auth", "out"
	srv := startEmulator(t, project, logstore, 2)
	cfg := sinkConfig(srv, project, logstore)
	cfg.AccessKeySecret = config.NewSecret("not-the-secret")
	cfg.MaxBatchCount = 100
	hc := srv.HTTPClient()
	ct := &countingTransport{next: hc.Transport}
	hc.Transport = ct
	reg := prometheus.NewRegistry()
	p := newProducer(t, srv, cfg, hc, WithRegisterer(reg))

	n := 5_000
	recs := make([]engine.Record, n)
	for i := range recs {
		recs[i] = testRecord(i, time.Now())
	}
	c := newConfirmations()
	start := time.Now()
	refused := 0
	for i := 0; i < n; i += 500 {
		if err := p.Write(context.Background(), recs[i:i+500], c); err != nil {
			if !strings.Contains(err.Error(), "401") {
				t.Fatalf("Write error does not carry the service's answer: %v", err)
			}
			refused += 500
		}
	}
	_ = p.Close(context.Background())
	c.expect(n - refused)
	if refused < n {
		c.await(t, 10*time.Second)
	}
	if ok := c.ok.Load(); ok != 0 {
		t.Fatalf("%d records confirmed OK with wrong credentials", ok)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("failing took %v", elapsed)
	}
	if reqs := ct.n.Load(); reqs > int64(cfg.IOThreads) {
		t.Errorf("%d requests sent with wrong credentials; want at most one per sender (%d)", reqs, cfg.IOThreads)
	}
	if got, want := metricstest.Sample(t, reg, "slspipe_sls_sink_logs_failed_total"), float64(c.failed.Load()); got != want {
		t.Errorf("logs_failed_total %v, want %v", got, want)
	}
	if got := metricstest.Sample(t, reg, "slspipe_sls_sink_batches_total", "outcome", "failed"); got == 0 {
		t.Error("no batch counted as failed")
	}
	if got := metricstest.Sample(t, reg, "slspipe_sls_sink_logs_total") + metricstest.Sample(t, reg, "slspipe_sls_sink_retries_total"); got != 0 {
		t.Errorf("%v logs stored or retries counted with wrong credentials", got)
	}
	errs := c.errors()
	if len(errs) == 0 {
		t.Fatal("no failed confirmation")
	}
	msg := errs[0].Error()
	for _, s := range []string{"401", "logstore " + logstore, srv.Addr(), "SignatureNotMatch"} {
		if !strings.Contains(msg, s) {
			t.Errorf("error %q does not name %q", msg, s)
		}
	}
	var se *SendError
	if !errors.As(errs[0], &se) || se.RequestID == "" || se.Attempts != 1 {
		t.Errorf("error %#v: want a SendError with a request id after 1 attempt", errs[0])
	}
	if err := p.Ready(context.Background()); err == nil {
		t.Error("Ready reports a producer with refused credentials as ready")
	}
	t.Logf("%d requests, %d records refused by Write, error: %s", ct.n.Load(), refused, msg)
}

// A log over the SLS limit fails alone, naming the limit; the others are
// stored.
func TestLogOverLimitFailsAlone(t *testing.T) {
	const project, logstore = "p-limit", "out"
	srv := startEmulator(t, project, logstore, 1)
	reg := prometheus.NewRegistry()
	p := newProducer(t, srv, sinkConfig(srv, project, logstore), nil, WithRegisterer(reg))

	recs := make([]engine.Record, 101)
	for i := range recs {
		recs[i] = testRecord(i, time.Now())
	}
	recs[50].Fields[9].Value = bytes.Repeat([]byte("x"), MaxLogBytes)
	c := newConfirmations()
	if err := p.Write(context.Background(), recs, c); err != nil {
		t.Fatal(err)
	}
	c.expect(len(recs))
	c.await(t, time.Minute)
	if c.ok.Load() != 100 || c.failed.Load() != 1 {
		t.Fatalf("%d OK and %d failed, want 100 and 1", c.ok.Load(), c.failed.Load())
	}
	if ok, failed := metricstest.Sample(t, reg, "slspipe_sls_sink_logs_total"), metricstest.Sample(t, reg, "slspipe_sls_sink_logs_failed_total"); ok != 100 || failed != 1 {
		t.Errorf("logs_total %v and logs_failed_total %v, want 100 and 1", ok, failed)
	}
	err := c.errors()[0]
	if !errors.Is(err, ErrLogTooLarge) || !strings.Contains(err.Error(), fmt.Sprint(MaxLogBytes)) || !strings.Contains(err.Error(), logstore) {
		t.Fatalf("error %q: want ErrLogTooLarge naming the limit and the logstore", err)
	}
	got := readShards(t, srv, project, logstore)[0].logs
	if len(got) != 100 {
		t.Fatalf("read back %d logs, want 100", len(got))
	}
	for _, l := range got {
		if l.get("id") == "50" {
			t.Fatal("the oversized log was stored")
		}
	}
}

// A missing logstore (404) is permanent: the batch fails once, naming it.
func TestMissingLogstoreFails(t *testing.T) {
	srv := startEmulator(t, "p-missing", "out", 1)
	hc := srv.HTTPClient()
	ct := &countingTransport{next: hc.Transport}
	hc.Transport = ct
	p := newProducer(t, srv, sinkConfig(srv, "p-missing", "nope"), hc)
	c := newConfirmations()
	if err := p.Write(context.Background(), []engine.Record{testRecord(1, time.Now())}, c); err != nil {
		t.Fatal(err)
	}
	c.expect(1)
	c.await(t, 10*time.Second)
	errs := c.errors()
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "404") || !strings.Contains(errs[0].Error(), "nope") {
		t.Fatalf("errors %v: want one 404 naming the logstore", errs)
	}
	if ct.n.Load() != 1 {
		t.Fatalf("%d requests for a missing logstore, want 1", ct.n.Load())
	}
}

// Close whose context ends while the service is stalled fails what is left
// with ErrClosed, confirms every record, and returns the context's error.
func TestCloseGivesUpWhenContextEnds(t *testing.T) {
	const project, logstore = "p-close", "out"
	srv := startEmulator(t, project, logstore, 1)
	if _, err := srv.Faults().Add(faults.Latency(time.Minute)); err != nil {
		t.Fatal(err)
	}
	cfg := sinkConfig(srv, project, logstore)
	cfg.MaxBatchCount = 10
	cfg.IOThreads = 2
	reg := prometheus.NewRegistry()
	p := newProducer(t, srv, cfg, nil, WithRegisterer(reg))
	recs := make([]engine.Record, 100)
	for i := range recs {
		recs[i] = testRecord(i, time.Now())
	}
	c := newConfirmations()
	if err := p.Write(context.Background(), recs, c); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := p.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close returned %v, want the context's deadline", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Close took %v", d)
	}
	c.expect(len(recs))
	c.await(t, 10*time.Second)
	if c.ok.Load() != 0 || c.failed.Load() != int64(len(recs)) {
		t.Fatalf("%d OK, %d failed; want all %d failed", c.ok.Load(), c.failed.Load(), len(recs))
	}
	for _, err := range c.errors() {
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("confirmation error %v is not ErrClosed", err)
		}
	}
	if failed, batches := metricstest.Sample(t, reg, "slspipe_sls_sink_logs_failed_total"), metricstest.Sample(t, reg, "slspipe_sls_sink_batches_total", "outcome", "failed"); failed != 100 || batches < 10 {
		t.Errorf("logs_failed_total %v and failed batches %v, want 100 and at least 10", failed, batches)
	}
	if got := metricstest.Sample(t, reg, "slspipe_sls_sink_buffered_bytes"); got != 0 {
		t.Errorf("buffered_bytes %v after Close, want 0", got)
	}
	if err := p.Write(context.Background(), recs[:1], c); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Close returned %v", err)
	}
	srv.Faults().ClearFaults()
}
