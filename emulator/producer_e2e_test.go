package emulator_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/aliyun/aliyun-log-go-sdk/producer"
	gokitlog "github.com/go-kit/kit/log"
	"github.com/gogo/protobuf/proto"

	"github.com/slspipe/slspipe/emulator"
	"github.com/slspipe/slspipe/internal/slstest"
)

// sentLog is one log as a client wrote it, with its group's topic, source
// and tags; it is the unit the end-to-end tests compare. Its JSON form is
// the key of a multiset.
type sentLog struct {
	Topic    string      `json:"topic"`
	Source   string      `json:"source"`
	Tags     [][2]string `json:"tags"`
	Time     uint32      `json:"time"`
	TimeNs   uint32      `json:"timeNs"`
	Contents [][2]string `json:"contents"`
}

func (l sentLog) key() string {
	b, err := json.Marshal(l)
	if err != nil {
		panic(err) // only strings and integers: cannot fail
	}
	return string(b)
}

// logMultiset counts logs by content.
type logMultiset map[string]int

func (m logMultiset) add(l sentLog) { m[l.key()]++ }

func (m logMultiset) total() int {
	n := 0
	for _, c := range m {
		n += c
	}
	return n
}

// diffLogs reports, in a readable form, how got differs from want.
func diffLogs(t *testing.T, want, got logMultiset) {
	t.Helper()
	if want.total() != got.total() {
		t.Errorf("read back %d logs, wrote %d", got.total(), want.total())
	}
	var missing, extra []string
	for k, n := range want {
		if d := n - got[k]; d > 0 {
			missing = append(missing, fmt.Sprintf("%d× %s", d, k))
		}
	}
	for k, n := range got {
		if d := n - want[k]; d > 0 {
			extra = append(extra, fmt.Sprintf("%d× %s", d, k))
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	const show = 5
	if len(missing) > 0 {
		t.Errorf("%d distinct logs written but not read back, e.g.:\n%s", len(missing), strings.Join(missing[:min(show, len(missing))], "\n"))
	}
	if len(extra) > 0 {
		t.Errorf("%d distinct logs read back but not written (or duplicated), e.g.:\n%s", len(extra), strings.Join(extra[:min(show, len(extra))], "\n"))
	}
}

// readEveryLog pulls every shard of a logstore from begin to end with the
// SDK client and returns the multiset of logs found.
func readEveryLog(t *testing.T, srv *emulator.Server, project, logstore string) logMultiset {
	t.Helper()
	hc := srv.HTTPClient()
	defer hc.CloseIdleConnections()
	c := sls.CreateNormalInterface(srv.Addr(), emulator.DefaultAccessKeyID, emulator.DefaultAccessKeySecret, "")
	c.SetHTTPClient(hc)
	groups, err := slstest.ReadAll(c, project, logstore)
	if err != nil {
		t.Fatal(err)
	}
	got := logMultiset{}
	for _, gs := range groups {
		for _, g := range gs {
			var tags [][2]string
			for _, tag := range g.LogTags {
				tags = append(tags, [2]string{tag.GetKey(), tag.GetValue()})
			}
			for _, l := range g.Logs {
				var contents [][2]string
				for _, kv := range l.Contents {
					contents = append(contents, [2]string{kv.GetKey(), kv.GetValue()})
				}
				got.add(sentLog{
					Topic: g.GetTopic(), Source: g.GetSource(), Tags: tags,
					Time: l.GetTime(), TimeNs: l.GetTimeNs(), Contents: contents,
				})
			}
		}
	}
	return got
}

// producerCallbacks counts the producer's callbacks and closes done when
// the expected number has arrived.
type producerCallbacks struct {
	expected atomic.Int64

	success, fail atomic.Int64
	retried       atomic.Int64 // successes that needed more than one attempt
	done          chan struct{}
	doneOnce      sync.Once

	mu       sync.Mutex
	failures []string // first few failure descriptions
}

func newProducerCallbacks() *producerCallbacks {
	return &producerCallbacks{done: make(chan struct{})}
}

// expect sets how many callbacks will come; call once before waiting.
func (c *producerCallbacks) expect(n int64) {
	c.expected.Store(n)
	c.check()
}

func (c *producerCallbacks) check() {
	n := c.expected.Load()
	if n > 0 && c.success.Load()+c.fail.Load() >= n {
		c.doneOnce.Do(func() { close(c.done) })
	}
}

// Success implements producer.CallBack.
func (c *producerCallbacks) Success(r *producer.Result) {
	if len(r.GetReservedAttempts()) > 1 {
		c.retried.Add(1)
	}
	c.success.Add(1)
	c.check()
}

// Fail implements producer.CallBack.
func (c *producerCallbacks) Fail(r *producer.Result) {
	c.mu.Lock()
	if len(c.failures) < 5 {
		c.failures = append(c.failures, fmt.Sprintf("%s: %s (request %s)", r.GetErrorCode(), r.GetErrorMessage(), r.GetRequestId()))
	}
	c.mu.Unlock()
	c.fail.Add(1)
	c.check()
}

// produceLogs writes n distinct logs to project/logstore with the official
// producer library, mixing load-balanced sends, hash-keyed sends and log
// lists, and waits until every call's callback has arrived. It returns the
// logs written and the callback counters. ready, if not nil, runs once the
// producer is warmed up, just before the n logs are sent.
func produceLogs(t *testing.T, cfg *producer.ProducerConfig, project, logstore string, n int, ready func()) (logMultiset, *producerCallbacks) {
	t.Helper()
	p, err := producer.NewProducer(cfg)
	if err != nil {
		t.Fatalf("NewProducer: %v", err)
	}
	p.Start()
	closed := false
	defer func() {
		if !closed {
			_ = p.Close(5000)
		}
	}()

	cb := newProducerCallbacks()
	want := logMultiset{}
	now := uint32(time.Now().Unix())
	calls := int64(0)

	// The SDK client fills in its timeouts on first use without
	// synchronisation, so concurrent first sends race inside the library.
	// One send completed before the others makes every later use a read.
	warm := &sls.Log{Time: proto.Uint32(now), Contents: []*sls.LogContent{{Key: proto.String("warm-up"), Value: proto.String("1")}}}
	warmCB := newProducerCallbacks()
	if err := p.SendLogWithCallBack(project, logstore, "warm-up", "", warm, warmCB); err != nil {
		t.Fatalf("send warm-up log: %v", err)
	}
	want.add(sentLog{Topic: "warm-up", Time: now, Contents: [][2]string{{"warm-up", "1"}}})
	warmCB.expect(1)
	select {
	case <-warmCB.done:
	case <-time.After(2 * time.Minute):
		t.Fatal("the warm-up log's callback did not arrive")
	}
	if warmCB.fail.Load() != 0 {
		t.Fatalf("warm-up log failed: %v", warmCB.failures)
	}
	if ready != nil {
		ready()
	}
	const listLen = 50
	var list []*sls.Log
	var listLogs []sentLog
	for i := range n {
		topic := fmt.Sprintf("topic-%d", i%3)
		source := fmt.Sprintf("10.0.0.%d", i%5)
		if i%4 == 3 {
			// Lists share one topic and source per call.
			topic, source = "topic-list", "10.0.1.1"
		}
		contents := [][2]string{
			{"id", fmt.Sprint(i)},
			{"level", [...]string{"INFO", "WARN", "ERROR"}[i%3]},
			{"msg", fmt.Sprintf("request %d served in %dms", i, i%997)},
			{"user", fmt.Sprintf("u-%05d", i%4099)},
			{"unicode", "héllo wörld ✓"},
		}
		l := &sls.Log{Time: proto.Uint32(now - uint32(i%600)), TimeNs: proto.Uint32(uint32(i * 7919 % 1_000_000_000))}
		for _, kv := range contents {
			l.Contents = append(l.Contents, &sls.LogContent{Key: proto.String(kv[0]), Value: proto.String(kv[1])})
		}
		sent := sentLog{Topic: topic, Source: source, Time: l.GetTime(), TimeNs: l.GetTimeNs(), Contents: contents}

		switch i % 4 {
		case 0:
			err = p.SendLogWithCallBack(project, logstore, topic, source, l, cb)
			calls++
		case 1, 2:
			err = p.HashSendLogWithCallBack(project, logstore, fmt.Sprintf("user-%d", i%97), topic, source, l, cb)
			calls++
		case 3:
			list = append(list, l)
			listLogs = append(listLogs, sent)
			if len(list) == listLen {
				err = p.SendLogListWithCallBack(project, logstore, topic, source, list, cb)
				calls++
				list = nil
			}
		}
		if err != nil {
			t.Fatalf("send log %d: %v", i, err)
		}
		if i%4 != 3 {
			want.add(sent)
		}
	}
	if len(list) > 0 {
		if err := p.SendLogListWithCallBack(project, logstore, "topic-list", "10.0.1.1", list, cb); err != nil {
			t.Fatalf("send last list: %v", err)
		}
		calls++
	}
	for _, l := range listLogs {
		want.add(l)
	}
	cb.expect(calls)

	select {
	case <-cb.done:
	case <-time.After(3 * time.Minute):
		t.Fatalf("only %d of %d callbacks arrived (%d failed)", cb.success.Load()+cb.fail.Load(), calls, cb.fail.Load())
	}
	// Every batch has completed; closing only stops the producer's goroutines.
	p.SafeClose()
	closed = true
	// Spare connections the transport dialled but never used would hold
	// up the emulator's graceful shutdown.
	cfg.HTTPClient.CloseIdleConnections()

	if f := cb.fail.Load(); f != 0 {
		t.Errorf("%d of %d callbacks failed, e.g. %v", f, calls, cb.failures)
	}
	if s := cb.success.Load(); s != calls {
		t.Errorf("%d successful callbacks, want %d", s, calls)
	}
	return want, cb
}

// producerConfig returns a producer configuration pointed at srv with
// the emulator's credentials, quiet logging and a short linger.
func producerConfig(srv *emulator.Server) *producer.ProducerConfig {
	cfg := producer.GetDefaultProducerConfig()
	cfg.Endpoint = srv.Addr()
	cfg.AccessKeyID = emulator.DefaultAccessKeyID
	cfg.AccessKeySecret = emulator.DefaultAccessKeySecret
	cfg.HTTPClient = srv.HTTPClient()
	cfg.Logger = gokitlog.NewNopLogger()
	cfg.DisableRuntimeMetrics = true
	cfg.LingerMs = 100
	return cfg
}

// TestProducerDeliversEveryLog writes 100,000 logs (10,000 under the race
// detector) with the official producer library and reads every shard back
// with the SDK client.
func TestProducerDeliversEveryLog(t *testing.T) {
	const project, logstore = "producer-e2e", "events"
	srv := startEmulator(t, emulator.Config{
		Logstores: []emulator.LogstoreSpec{{Project: project, Logstore: logstore, Shards: 4}},
	})

	n := 100_000
	if raceEnabled {
		n = 10_000
	}
	want, cb := produceLogs(t, producerConfig(srv), project, logstore, n, nil)
	got := readEveryLog(t, srv, project, logstore)
	diffLogs(t, want, got)
	t.Logf("%d logs written through %d successful callbacks; %d read back", want.total(), cb.success.Load(), got.total())
}

// faultAdmin talks to the emulator's fault endpoint over HTTP, as a user
// would with curl.
type faultAdmin struct {
	url    string
	client *http.Client
}

func newFaultAdmin(srv *emulator.Server) faultAdmin {
	return faultAdmin{url: "http://" + srv.Addr() + "/_emulator/faults", client: srv.HTTPClient()}
}

// faultState is the part of the endpoint's GET answer the tests read.
type faultState struct {
	Stats struct {
		Injected int64            `json:"injected"`
		Errors   int64            `json:"errors"`
		Drops    int64            `json:"drops"`
		ByCode   map[string]int64 `json:"byCode"`
	} `json:"stats"`
	Faults []json.RawMessage `json:"faults"`
}

func (a faultAdmin) do(t *testing.T, method, body string) faultState {
	t.Helper()
	req, err := http.NewRequest(method, a.url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+emulator.DefaultAccessKeySecret)
	resp, err := a.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, a.url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, a.url, resp.StatusCode, raw)
	}
	var st faultState
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&st); err != nil {
		t.Fatalf("decode fault state %s: %v", raw, err)
	}
	return st
}

// TestProducerRetriesThroughFaults injects throttling (403), server errors
// (500, 503) and dropped connections into the writes and checks that the
// producer's and the SDK's retries still deliver every log exactly once.
func TestProducerRetriesThroughFaults(t *testing.T) {
	const project, logstore = "producer-faults", "events"
	srv := startEmulator(t, emulator.Config{
		Logstores: []emulator.LogstoreSpec{{Project: project, Logstore: logstore, Shards: 2}},
	})
	admin := newFaultAdmin(srv)
	plan := func() {
		admin.do(t, http.MethodPut, `{
			"seed": 20261124,
			"faults": [
				{"match": {"kind": "write", "logstore": "events"}, "count": 25, "status": 403},
				{"match": {"kind": "write"}, "count": 5, "drop": true},
				{"match": {"kind": "write"}, "probability": 0.08, "status": 503},
				{"match": {"kind": "write"}, "probability": 0.04, "status": 500}
			]
		}`)
	}

	cfg := producerConfig(srv)
	cfg.MaxBatchCount = 100 // many requests, so every fault gets its turn
	cfg.BaseRetryBackoffMs = 20
	cfg.MaxRetryBackoffMs = 500
	cfg.Retries = 30
	cfg.MaxReservedAttempts = 31
	n := 20_000
	if raceEnabled {
		n = 5_000
	}
	want, cb := produceLogs(t, cfg, project, logstore, n, plan)

	st := admin.do(t, http.MethodGet, "")
	if got := st.Stats.ByCode["ShardWriteQuotaExceed"]; got != 25 {
		t.Errorf("%d writes throttled with ShardWriteQuotaExceed, want 25", got)
	}
	if st.Stats.Drops != 5 {
		t.Errorf("%d connections dropped, want 5", st.Stats.Drops)
	}
	if st.Stats.ByCode["ServerBusy"] == 0 || st.Stats.ByCode["InternalServerError"] == 0 {
		t.Errorf("no server errors injected: %v", st.Stats.ByCode)
	}
	if cb.retried.Load() == 0 {
		t.Error("no producer callback reports a retried attempt")
	}
	t.Logf("faults injected: %d (by code %v, drops %d); callbacks that needed retries: %d",
		st.Stats.Injected, st.Stats.ByCode, st.Stats.Drops, cb.retried.Load())

	admin.do(t, http.MethodDelete, "")
	admin.client.CloseIdleConnections()
	got := readEveryLog(t, srv, project, logstore)
	diffLogs(t, want, got)
}

// TestProducerWithV4Signatures runs the producer with signature v4 (and a
// region), so every batch is a v4-signed, lz4-compressed POST.
func TestProducerWithV4Signatures(t *testing.T) {
	const project, logstore = "producer-v4", "events"
	srv := startEmulator(t, emulator.Config{
		Logstores: []emulator.LogstoreSpec{{Project: project, Logstore: logstore, Shards: 2}},
	})
	cfg := producerConfig(srv)
	cfg.AuthVersion = sls.AuthV4
	cfg.Region = "cn-shanghai"
	want, _ := produceLogs(t, cfg, project, logstore, 2_000, nil)
	diffLogs(t, want, readEveryLog(t, srv, project, logstore))
}
