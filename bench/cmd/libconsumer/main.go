// Command libconsumer is the program a user would write instead of slspipe
// to move an SLS logstore into NATS JetStream: the official consumer library
// (aliyun-log-go-sdk/consumer) with a processor that publishes each log as a
// JSON message with asynchronous JetStream publishes and a Nats-Msg-Id,
// waits for every acknowledgement of the batch, and only then saves the
// checkpoint (AutoCommitDisabled + SaveCheckPoint(true)).
//
// With -sink none the processor does nothing with the logs: it counts them
// and saves the checkpoint, and no NATS connection is made. That is the
// consumer library's own cost, what slspipe's SLS source with a discard sink
// is compared with.
//
// The benchmark runs it as its own process so that its memory and CPU are
// measured the same way as slspipe's. It exits after -expect logs have been
// acknowledged (counted, with -sink none), printing one JSON line on stdout:
// the logs processed, when the count reached -expect, and the 50th and 99th
// percentiles of batch latency (a Process call's start to its checkpoint).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	consumer "github.com/aliyun/aliyun-log-go-sdk/consumer"
	gokitlog "github.com/go-kit/kit/log"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/slspipe/slspipe/emulator"
)

// result is the line printed on success.
type result struct {
	Records int64 `json:"records"`
	// DoneUnixNano is when the count reached -expect (0 without -expect):
	// the end of the measured time, before the library's shutdown.
	DoneUnixNano int64   `json:"done_unix_nano"`
	P50MS        float64 `json:"p50_ms"`
	P99MS        float64 `json:"p99_ms"`
}

func main() {
	endpoint := flag.String("endpoint", "127.0.0.1:9100", "SLS endpoint (host:port of the emulator)")
	project := flag.String("project", "bench", "SLS project")
	logstore := flag.String("logstore", "main", "SLS logstore")
	group := flag.String("group", "libconsumer", "consumer group; a new one starts at the beginning")
	sink := flag.String("sink", "nats", "nats: publish each log to JetStream; none: only count the logs and commit")
	natsURL := flag.String("nats", "nats://127.0.0.1:4222", "NATS server URL")
	subject := flag.String("subject", "bench.libconsumer", "subject captured by an existing stream")
	expect := flag.Int64("expect", 0, "exit after this many logs are acknowledged; 0 runs until SIGTERM")
	window := flag.Int("window", 4096, "most messages awaiting acknowledgement")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up after this long")
	flag.Parse()
	if *sink != "nats" && *sink != "none" {
		fmt.Fprintf(os.Stderr, "libconsumer: -sink %q: want nats or none\n", *sink)
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	// Access keys come from the environment, as a deployed program's would;
	// the emulator's built-in key is the default.
	keyID, keySecret := os.Getenv("ALIBABA_CLOUD_ACCESS_KEY_ID"), os.Getenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
	if keyID == "" {
		keyID, keySecret = emulator.DefaultAccessKeyID, emulator.DefaultAccessKeySecret
	}
	res, err := run(ctx, config{
		hub: consumer.LogHubConfig{
			Endpoint:           *endpoint,
			AccessKeyID:        keyID,
			AccessKeySecret:    keySecret,
			Project:            *project,
			Logstore:           *logstore,
			ConsumerGroupName:  *group,
			ConsumerName:       "libconsumer-1",
			CursorPosition:     consumer.BEGIN_CURSOR,
			AutoCommitDisabled: true, // the processor commits after the acks
			// The SDK puts the project in the Host header; this client
			// always dials the endpoint, which a local emulator needs.
			HTTPClient: emulator.DialClient(*endpoint),
			Logger:     gokitlog.NewNopLogger(),
		},
		publish: *sink == "nats",
		natsURL: *natsURL,
		subject: *subject,
		expect:  *expect,
		window:  *window,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "libconsumer:", err)
		os.Exit(1)
	}
	_ = json.NewEncoder(os.Stdout).Encode(res)
}

type config struct {
	hub     consumer.LogHubConfig
	publish bool // to JetStream; otherwise only count
	natsURL string
	subject string
	expect  int64
	window  int
}

// tally counts the processed logs and the batch latencies; safe for
// concurrent use by the library's shard goroutines.
type tally struct {
	expect int64
	done   chan struct{} // closed when expect logs are processed
	once   sync.Once
	count  atomic.Int64
	doneAt atomic.Int64 // unix nanoseconds when done closed

	mu        sync.Mutex // guards latencies
	latencies []time.Duration
}

func newTally(expect int64) *tally { return &tally{expect: expect, done: make(chan struct{})} }

// add records a processed batch of n logs whose Process call began at began.
func (t *tally) add(n int, began time.Time) {
	if n > 0 {
		t.mu.Lock()
		t.latencies = append(t.latencies, time.Since(began))
		t.mu.Unlock()
	}
	if total := t.count.Add(int64(n)); t.expect > 0 && total >= t.expect {
		t.once.Do(func() {
			t.doneAt.Store(time.Now().UnixNano())
			close(t.done)
		})
	}
}

func (t *tally) result() result {
	t.mu.Lock()
	defer t.mu.Unlock()
	slices.Sort(t.latencies)
	return result{Records: t.count.Load(), DoneUnixNano: t.doneAt.Load(),
		P50MS: quantileMS(t.latencies, 0.50), P99MS: quantileMS(t.latencies, 0.99)}
}

// forwarder publishes consumed log groups to JetStream.
type forwarder struct {
	js      jetstream.JetStream
	subject string
	*tally
}

func run(ctx context.Context, cfg config) (result, error) {
	t := newTally(cfg.expect)
	process := countOnly(t)
	if cfg.publish {
		nc, err := natsgo.Connect(cfg.natsURL, natsgo.Name("slspipe-bench/libconsumer"))
		if err != nil {
			return result{}, fmt.Errorf("connect %s: %w", cfg.natsURL, err)
		}
		defer nc.Close()
		js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(cfg.window))
		if err != nil {
			return result{}, fmt.Errorf("jetstream: %w", err)
		}
		process = (&forwarder{js: js, subject: cfg.subject, tally: t}).process
	}
	if cfg.hub.HTTPClient == nil {
		cfg.hub.HTTPClient = http.DefaultClient
	}
	worker := consumer.InitConsumerWorkerWithCheckpointTracker(cfg.hub, process)
	worker.Start()
	select {
	case <-t.done:
	case <-ctx.Done():
	}
	worker.StopAndWait()
	if cfg.expect > 0 && t.count.Load() < cfg.expect {
		return result{}, fmt.Errorf("stopped after %d of %d logs: %w", t.count.Load(), cfg.expect, context.Cause(ctx))
	}
	return t.result(), nil
}

// countOnly returns the no-op processor: it counts the batch's logs and
// commits its next cursor.
func countOnly(t *tally) func(int, *sls.LogGroupList, consumer.CheckPointTracker) (string, error) {
	return func(shard int, groups *sls.LogGroupList, tracker consumer.CheckPointTracker) (string, error) {
		began := time.Now()
		n := 0
		for _, lg := range groups.LogGroups {
			n += len(lg.Logs)
		}
		if err := tracker.SaveCheckPoint(true); err != nil {
			return "", fmt.Errorf("shard %d: save checkpoint: %w", shard, err)
		}
		t.add(n, began)
		return "", nil
	}
}

// process publishes every log of the batch, waits for all acknowledgements
// and then commits the batch's next cursor. An error makes the library
// retry the same batch; the Msg-Ids keep the retried logs from being stored
// twice.
func (f *forwarder) process(shard int, groups *sls.LogGroupList, tracker consumer.CheckPointTracker) (string, error) {
	began := time.Now()
	cursor := tracker.GetCurrentCursor()
	futures := make([]jetstream.PubAckFuture, 0, 1024)
	fields := make(map[string]string, 16)
	n, waited := 0, 0
	for _, lg := range groups.LogGroups {
		for _, log := range lg.Logs {
			clear(fields)
			for _, c := range log.Contents {
				fields[c.GetKey()] = c.GetValue()
			}
			body, err := json.Marshal(fields)
			if err != nil {
				return "", fmt.Errorf("shard %d: encode log: %w", shard, err)
			}
			msg := &natsgo.Msg{Subject: f.subject, Data: body, Header: natsgo.Header{}}
			msg.Header.Set(jetstream.MsgIDHeader, strconv.Itoa(shard)+":"+cursor+":"+strconv.Itoa(n))
			for {
				fut, err := f.js.PublishMsgAsync(msg)
				if err == nil {
					futures = append(futures, fut)
					break
				}
				if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
					return "", fmt.Errorf("shard %d: publish: %w", shard, err)
				}
				// Too many messages await acknowledgement: wait for this
				// batch's oldest, or for some room, and publish again.
				if waited < len(futures) {
					if err := awaitAck(futures[waited]); err != nil {
						return "", fmt.Errorf("shard %d: publish acknowledgement: %w", shard, err)
					}
					waited++
				} else {
					select {
					case <-f.js.PublishAsyncComplete():
					case <-time.After(10 * time.Millisecond):
					}
				}
			}
			n++
		}
	}
	for _, fut := range futures[waited:] {
		if err := awaitAck(fut); err != nil {
			return "", fmt.Errorf("shard %d: publish acknowledgement: %w", shard, err)
		}
	}
	if err := tracker.SaveCheckPoint(true); err != nil {
		return "", fmt.Errorf("shard %d: save checkpoint: %w", shard, err)
	}
	f.add(n, began)
	return "", nil
}

// awaitAck waits for a publish's acknowledgement.
func awaitAck(fut jetstream.PubAckFuture) error {
	select {
	case <-fut.Ok():
		return nil
	case err := <-fut.Err():
		return err
	}
}

// quantileMS returns the q quantile of sorted, in milliseconds.
func quantileMS(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := min(len(sorted)-1, int(q*float64(len(sorted))))
	return float64(sorted[i]) / float64(time.Millisecond)
}
