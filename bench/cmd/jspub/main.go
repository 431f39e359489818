// Command jspub measures the JetStream publish limit: it publishes -count
// messages of about -size bytes to -subject asynchronously, each with a
// unique Nats-Msg-Id, keeping at most -window unacknowledged, and exits when
// every one is acknowledged.
//
// On success it prints one JSON line on stdout: the messages acknowledged
// and the 50th and 99th percentiles of publish-to-acknowledgement latency.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"syscall"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// result is the line printed on success.
type result struct {
	Records int64   `json:"records"`
	P50MS   float64 `json:"p50_ms"`
	P99MS   float64 `json:"p99_ms"`
}

func main() {
	url := flag.String("nats", "nats://127.0.0.1:4222", "NATS server URL")
	subject := flag.String("subject", "bench.jspub", "subject captured by an existing stream")
	count := flag.Int64("count", 100000, "messages to publish")
	size := flag.Int("size", 260, "approximate message size in bytes")
	window := flag.Int("window", 4096, "most messages awaiting acknowledgement (at least 2)")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up after this long")
	flag.Parse()
	if *window < 2 {
		fmt.Fprintln(os.Stderr, "jspub: -window must be at least 2")
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	res, err := publish(ctx, *url, *subject, *count, *size, *window)
	if err != nil {
		fmt.Fprintln(os.Stderr, "jspub:", err)
		os.Exit(1)
	}
	_ = json.NewEncoder(os.Stdout).Encode(res)
}

// sent is one published message awaiting its acknowledgement.
type sent struct {
	at     time.Time
	future jetstream.PubAckFuture
}

func publish(ctx context.Context, url, subject string, count int64, size, window int) (result, error) {
	nc, err := natsgo.Connect(url, natsgo.Name("slspipe-bench/jspub"))
	if err != nil {
		return result{}, fmt.Errorf("connect %s: %w", url, err)
	}
	defer nc.Close()
	// The window is enforced below, by pending's capacity; the client's own
	// bound only has to stay above it.
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(2*window+1))
	if err != nil {
		return result{}, fmt.Errorf("jetstream: %w", err)
	}

	payloads := samplePayloads(size, 64)
	pending := make(chan sent, window-1) // plus the one being awaited
	latencies := make([]time.Duration, 0, count)
	waitErr := make(chan error, 1)
	go func() {
		// Acknowledgements arrive about in publish order; waiting in order
		// measures each one's latency within the window.
		for s := range pending {
			select {
			case <-s.future.Ok():
				latencies = append(latencies, time.Since(s.at))
			case err := <-s.future.Err():
				waitErr <- fmt.Errorf("message %s: %w", s.future.Msg().Header.Get(jetstream.MsgIDHeader), err)
				for range pending {
				}
				return
			case <-ctx.Done():
				waitErr <- ctx.Err()
				for range pending {
				}
				return
			}
		}
		waitErr <- nil
	}()

	var pubErr error
	for i := range count {
		msg := &natsgo.Msg{Subject: subject, Data: payloads[i%int64(len(payloads))], Header: natsgo.Header{}}
		msg.Header.Set(jetstream.MsgIDHeader, "jspub:"+strconv.FormatInt(i, 10))
		at := time.Now()
		f, err := js.PublishMsgAsync(msg)
		if err != nil {
			pubErr = fmt.Errorf("publish message %d: %w", i, err)
			break
		}
		select {
		case pending <- sent{at: at, future: f}:
		case <-ctx.Done():
			pubErr = ctx.Err()
		}
		if pubErr != nil {
			break
		}
	}
	close(pending)
	if err := <-waitErr; err != nil {
		return result{}, err
	}
	if pubErr != nil {
		return result{}, pubErr
	}
	slices.Sort(latencies)
	return result{Records: int64(len(latencies)), P50MS: quantileMS(latencies, 0.50), P99MS: quantileMS(latencies, 0.99)}, nil
}

// samplePayloads returns n JSON objects of ten random alphanumeric fields
// adding up to about size bytes, the shape slspipe publishes for the
// benchmark's records.
func samplePayloads(size, n int) [][]byte {
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	r := rand.New(rand.NewPCG(1, 2))
	valueLen := max(1, (size-2-10*8)/10) // "fN":"…", per field
	out := make([][]byte, n)
	for i := range out {
		fields := make(map[string]string, 10)
		for f := range 10 {
			v := make([]byte, valueLen)
			for j := range v {
				v[j] = alnum[r.IntN(len(alnum))]
			}
			fields["f"+strconv.Itoa(f)] = string(v)
		}
		out[i], _ = json.Marshal(fields)
	}
	return out
}

// quantileMS returns the q quantile of sorted, in milliseconds.
func quantileMS(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := min(len(sorted)-1, int(q*float64(len(sorted))))
	return float64(sorted[i]) / float64(time.Millisecond)
}
