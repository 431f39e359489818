package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/connectors/generate"
	"github.com/slspipe/slspipe/connectors/nats/natsserver"
	"github.com/slspipe/slspipe/emulator"
	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/internal/redact"
	"github.com/slspipe/slspipe/internal/slsload"
)

type devOptions struct {
	rate      int
	shards    int
	keepState bool
	every     time.Duration
}

func newDevCmd() *cobra.Command {
	var o devOptions
	cmd := &cobra.Command{
		Use:   "dev [pipeline.yaml]",
		Short: "Run a pipeline on a local SLS emulator and NATS server, fed with generated logs",
		Long: `dev runs a pipeline with everything it needs on this machine, for trying
pipelines and modules without a cloud account:

  - an SLS emulator on the source's endpoint (it must be a loopback address
    such as http://127.0.0.1:9100), with the source's logstores, accepting the
    source's access key;
  - generated nginx access logs written into the first logstore at --rate;
  - a JetStream-enabled NATS server on the sink's URL when it is a loopback
    address, with a stream capturing the sink's subject;
  - the pipeline itself, with a progress line (records/s in and out, lag per
    shard) and sample output records, and its status page on the metrics
    listener (http://127.0.0.1:9464/ by default), printed first.

Ctrl-C stops the log writer, drains the pipeline, commits and exits 0. The
checkpoint file is temporary unless --keep-state is given, since the
emulator's data is gone when dev exits.`,
		Example: `  slspipe dev                        # runs pipeline.yaml.example
  slspipe dev pipeline.yaml --rate 5000 --shards 8`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "pipeline.yaml.example"
			if len(args) == 1 {
				path = args[0]
			}
			return runDev(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), path, o)
		},
	}
	cmd.Flags().IntVar(&o.rate, "rate", 2000, "generated logs per second written to the source logstore; 0 writes none")
	cmd.Flags().IntVar(&o.shards, "shards", 4, "shards of each emulated source logstore")
	cmd.Flags().BoolVar(&o.keepState, "keep-state", false, "use the pipeline's checkpoint file instead of a temporary one")
	cmd.Flags().DurationVar(&o.every, "progress", 2*time.Second, "how often to print progress; 0 disables it")
	return cmd
}

func runDev(ctx context.Context, stdout, stderr io.Writer, path string, o devOptions) error {
	p, err := loadPipeline(stderr, path)
	if err != nil {
		return err
	}
	logger := newLogger(stderr, p.Log)
	fmt.Fprintln(stdout, devStatusLine(p.Metrics.Listen))
	if !o.keepState {
		dir, err := os.MkdirTemp("", "slspipe-dev-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		p.Checkpoint.Path = filepath.Join(dir, "state.db")
	}
	// The local services outlive ctx: the pipeline still drains into them
	// after Ctrl-C.
	svcCtx := context.WithoutCancel(ctx)
	var cleanups []func()
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}()

	var loader *slsload.Loader
	if src := p.Source.SLS; src != nil {
		srv, client, err := startDevEmulator(svcCtx, src, o.shards, logger)
		if err != nil {
			return err
		}
		cleanups = append(cleanups, func() { _ = srv.Close() })
		fmt.Fprintf(stdout, "dev: SLS emulator on %s with %s/%s (%d shards)\n", srv.Addr(), src.Project, strings.Join(src.Logstores, ","), o.shards)
		if src.Query != "" {
			fmt.Fprintf(stdout, "dev: the emulator runs the source query on every pull: %s\n", src.Query)
		}
		if o.rate > 0 {
			loader = slsload.New(client, src.Project, src.Logstores[0], "request_id")
			loadCtx, stopLoad := context.WithCancel(ctx)
			var wg sync.WaitGroup
			wg.Go(func() {
				gen, err := generate.New(generate.Config{Logstore: src.Logstores[0], Shards: o.shards, Rate: float64(o.rate),
					BatchSize: max(1, min(100, o.rate/(4*o.shards))), Start: time.Now(), Seed: uint64(time.Now().UnixNano())})
				if err == nil {
					err = loader.Run(loadCtx, gen)
				}
				if err != nil {
					logger.Error("dev: writing generated logs", "err", err)
				}
			})
			cleanups = append(cleanups, func() { stopLoad(); wg.Wait() })
			fmt.Fprintf(stdout, "dev: writing %d generated nginx logs/s into %s\n", o.rate, src.Logstores[0])
		}
	}

	var sample *sampler
	if sink := p.Sink.NATS; sink != nil {
		srv, subject, err := startDevNATS(sink, p.Name)
		if err != nil {
			return err
		}
		cleanups = append(cleanups, srv.Shutdown)
		fmt.Fprintf(stdout, "dev: NATS (JetStream) on %s; the pipeline publishes to %s\n", srv.URL(), sink.Subject)
		if sample, err = newSampler(srv.URL(), subject); err == nil {
			cleanups = append(cleanups, sample.close)
		}
	}

	var progressWG sync.WaitGroup
	stopProgress := make(chan struct{})
	started := func(pipe *engine.Pipeline, reg *prometheus.Registry) {
		if o.every <= 0 {
			return
		}
		progressWG.Go(func() { reportProgress(stdout, reg, loader, sample, o.every, stopProgress) })
	}
	err = runLoaded(ctx, p, logger, stdout, started)
	close(stopProgress)
	progressWG.Wait()
	if err == nil {
		fmt.Fprintln(stdout, "dev: stopped; everything confirmed was committed")
	}
	return err
}

// loopbackHostPort returns host:port of a loopback endpoint URL.
func loopbackHostPort(endpoint, defaultPort string) (string, bool) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return "", false
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = defaultPort
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return "", false
	}
	return net.JoinHostPort(host, port), true
}

func startDevEmulator(ctx context.Context, src *config.SLSSource, shards int, logger *slog.Logger) (*emulator.Server, sls.ClientInterface, error) {
	addr, ok := loopbackHostPort(src.Endpoint, "80")
	if !ok {
		return nil, nil, fmt.Errorf("dev runs its own SLS emulator, so source.sls.endpoint must be a loopback address such as http://127.0.0.1:9100, not %s", redact.URL(src.Endpoint))
	}
	id, secret, _ := src.StaticKeys(os.LookupEnv)
	if !id.IsSet() || !secret.IsSet() {
		return nil, nil, errors.New("dev: source.sls needs an access key (the emulator accepts the one the pipeline uses)")
	}
	specs := make([]emulator.LogstoreSpec, len(src.Logstores))
	for i, ls := range src.Logstores {
		specs[i] = emulator.LogstoreSpec{Project: src.Project, Logstore: ls, Shards: shards}
	}
	srv, err := emulator.New(emulator.Config{
		AccessKeys: map[string]string{id.Value(): secret.Value()},
		Logstores:  specs,
		Logger:     logger.With("component", "emulator"),
	})
	if err != nil {
		return nil, nil, err
	}
	if err := srv.Start(ctx, addr); err != nil {
		return nil, nil, fmt.Errorf("dev: start the SLS emulator: %w", err)
	}
	client := sls.CreateNormalInterface(srv.Addr(), id.Value(), secret.Value(), "")
	client.SetHTTPClient(srv.HTTPClient())
	return srv, client, nil
}

// startDevNATS starts JetStream on the sink's loopback URL and, unless the
// sink creates its own stream, a stream capturing its subject.
func startDevNATS(sink *config.NATSSink, pipeline string) (*natsserver.Server, string, error) {
	addr, ok := loopbackHostPort(sink.URL, "4222")
	if !ok {
		return nil, "", fmt.Errorf("dev runs its own NATS server, so sink.nats.url must be a loopback address such as nats://127.0.0.1:4222, not %s", redact.URLs(sink.URL))
	}
	_, portText, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portText)
	srv, err := natsserver.Start(natsserver.Options{Port: port})
	if err != nil {
		return nil, "", fmt.Errorf("dev: start NATS on %s: %w", addr, err)
	}
	subject := streamSubject(sink.Subject)
	if !sink.CreateStream {
		name := sink.Stream
		if name == "" {
			name = strings.ToUpper(strings.NewReplacer("-", "_").Replace(pipeline))
		}
		if err := createStream(srv.URL(), name, subject); err != nil {
			srv.Shutdown()
			return nil, "", err
		}
	}
	return srv, subject, nil
}

// streamSubject turns a subject template into the subject a stream captures:
// from the first token holding a {{field}}, everything becomes ">".
func streamSubject(subject string) string {
	tokens := strings.Split(subject, ".")
	for i, tok := range tokens {
		if strings.Contains(tok, "{{") {
			return strings.Join(append(tokens[:i:i], ">"), ".")
		}
	}
	return subject
}

func createStream(natsURL, name, subject string) error {
	nc, err := nats.Connect(natsURL)
	if err != nil {
		return fmt.Errorf("dev: connect to NATS: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{subject}, Duplicates: 2 * time.Minute})
	if err != nil {
		return fmt.Errorf("dev: create stream %s for %s: %w", name, subject, err)
	}
	return nil
}

// sampler keeps the latest message published on a subject.
type sampler struct {
	nc   *nats.Conn
	mu   sync.Mutex
	last []byte
}

func newSampler(natsURL, subject string) (*sampler, error) {
	nc, err := nats.Connect(natsURL)
	if err != nil {
		return nil, err
	}
	s := &sampler{nc: nc}
	if _, err := nc.Subscribe(subject, func(m *nats.Msg) {
		s.mu.Lock()
		s.last = m.Data
		s.mu.Unlock()
	}); err != nil {
		nc.Close()
		return nil, err
	}
	return s, nil
}

func (s *sampler) take() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.last
	s.last = nil
	return out
}

func (s *sampler) close() { s.nc.Close() }

// reportProgress prints a progress line every interval until stop closes,
// and a sample output record every few lines.
func reportProgress(w io.Writer, reg *prometheus.Registry, loader *slsload.Loader, sample *sampler, every time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	var prevIn, prevOut, prevWritten float64
	prev := time.Now()
	for tick := 1; ; tick++ {
		select {
		case <-stop:
			return
		case now := <-t.C:
			m := gatherProgress(reg)
			secs := now.Sub(prev).Seconds()
			line := fmt.Sprintf("dev: in %.0f/s, out %.0f/s (total %.0f in, %.0f out)",
				(m.in-prevIn)/secs, (m.out-prevOut)/secs, m.in, m.out)
			if loader != nil {
				written := float64(loader.Records())
				line = fmt.Sprintf("dev: written %.0f/s | pipeline %s", (written-prevWritten)/secs, strings.TrimPrefix(line, "dev: "))
				prevWritten = written
			}
			if len(m.lag) > 0 {
				line += " | lag " + strings.Join(m.lag, " ")
			}
			fmt.Fprintln(w, line)
			prevIn, prevOut, prev = m.in, m.out, now
			if sample != nil && tick%3 == 0 {
				if rec := sample.take(); rec != nil {
					if len(rec) > 240 {
						rec = append(rec[:240:240], "…"...)
					}
					fmt.Fprintf(w, "dev: sample output: %s\n", rec)
				}
			}
		}
	}
}

type progress struct {
	in, out float64
	lag     []string
}

func gatherProgress(reg *prometheus.Registry) progress {
	var p progress
	mfs, err := reg.Gather()
	if err != nil {
		return p
	}
	type shardLag struct {
		name string
		lag  float64
	}
	var lags []shardLag
	for _, mf := range mfs {
		switch mf.GetName() {
		case "slspipe_source_records_total":
			for _, m := range mf.GetMetric() {
				p.in += m.GetCounter().GetValue()
			}
		case "slspipe_sink_records_confirmed_total":
			for _, m := range mf.GetMetric() {
				p.out += m.GetCounter().GetValue()
			}
		case "slspipe_shard_lag_seconds":
			for _, m := range mf.GetMetric() {
				name := ""
				for _, l := range m.GetLabel() {
					if l.GetName() == "shard" {
						name = l.GetValue()
					}
				}
				lags = append(lags, shardLag{name, m.GetGauge().GetValue()})
			}
		}
	}
	sort.Slice(lags, func(i, j int) bool {
		a, _ := strconv.Atoi(lags[i].name)
		b, _ := strconv.Atoi(lags[j].name)
		return a < b
	})
	for _, l := range lags {
		p.lag = append(p.lag, fmt.Sprintf("s%s=%.1fs", l.name, l.lag))
	}
	return p
}
