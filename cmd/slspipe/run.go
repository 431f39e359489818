package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/engine"
)

func newRunCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "run pipeline.yaml",
		Short: "Run a pipeline until SIGINT or SIGTERM",
		Long: `Run the pipeline described by a pipeline file.

It reads the source, runs the steps and writes to the sink, committing source
positions only after the sink confirms the records derived from them. On
SIGINT or SIGTERM it stops reading, waits for in-flight records to be
confirmed (at most limits.shutdown_timeout), commits, and exits 0. A stored
checkpoint always wins over the configured start position.

Check a file first with "slspipe validate pipeline.yaml".`,
		Example: `  slspipe run pipeline.yaml
  SLS_ACCESS_KEY_SECRET=... slspipe run /etc/slspipe/pipeline.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPipeline(cmd.Context(), cmd.ErrOrStderr(), cmd.OutOrStdout(), args[0])
		},
	}
}

// runPipeline loads, wires and runs one pipeline until ctx is cancelled or
// its source is exhausted.
func runPipeline(ctx context.Context, stderr, stdout io.Writer, path string) error {
	p, err := loadPipeline(stderr, path)
	if err != nil {
		return err
	}
	logger := newLogger(stderr, p.Log)
	return runLoaded(ctx, p, logger, stdout, nil)
}

// loadPipeline loads path, printing every problem of an invalid file.
func loadPipeline(stderr io.Writer, path string) (*config.Pipeline, error) {
	p, err := config.Load(path)
	if err != nil {
		var list *config.Errors
		if errors.As(err, &list) {
			return nil, reportProblems(stderr, path, list.List)
		}
		return nil, err
	}
	return p, nil
}

// runLoaded wires and runs p. started, when set, is called with the
// pipeline and its metrics registry just before it runs.
func runLoaded(ctx context.Context, p *config.Pipeline, logger *slog.Logger, stdout io.Writer,
	started func(*engine.Pipeline, *prometheus.Registry)) error {
	logger.Info("starting pipeline", "pipeline", p.Name, "file", p.File, "summary", p.Summary())
	registry := prometheus.NewRegistry()
	parts, err := wire(ctx, p, wireEnv{logger: logger, stdout: stdout, registry: registry})
	if err != nil {
		return err
	}
	defer parts.close(logger)

	cfg := engine.NewConfig().
		WithMaxInflightBytes(p.Limits.MaxInflightBytes.Bytes()).
		WithShardQueueDepth(p.Limits.ShardQueue).
		WithCheckpointInterval(p.Checkpoint.Interval.D()).
		WithShutdownTimeout(p.Limits.ShutdownTimeout.D()).
		WithCommitters(parts.committers...).
		WithLogger(logger).
		WithRegistry(registry)
	policy, err := engine.ParseErrorPolicy(p.OnError)
	if err != nil {
		return err
	}
	cfg = cfg.WithErrorPolicy(policy)
	if parts.deadLetter != nil {
		cfg = cfg.WithDeadLetter(parts.deadLetter)
	}
	pipe, err := engine.New(p.Name, parts.source, parts.stages, parts.sink, cfg)
	if err != nil {
		return err
	}

	if p.Metrics.Listen != "" {
		stop, err := serveMetrics(p.Metrics, pipe.Handler(), logger)
		if err != nil {
			return err
		}
		defer stop()
	}
	if started != nil {
		started(pipe, registry)
	}
	return explainPositionMismatch(p, pipe.Run(ctx)) // its error names the pipeline
}

// serveMetrics serves h (/metrics, /healthz, /readyz, the status page and
// /api/status) on addr until the returned stop function is called.
func serveMetrics(mc config.Metrics, h http.Handler, logger *slog.Logger) (stop func(), err error) {
	addr, paths := mc.Listen, "/ /api/status /metrics /healthz /readyz"
	if mc.Pprof {
		mux := http.NewServeMux()
		mux.Handle("/", h)
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		h, paths = mux, paths+" /debug/pprof/"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics server stopped", "err", err)
		}
	}()
	logger.Info("serving metrics", "addr", ln.Addr().String(), "paths", paths)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}

// newLogger returns the slog logger the pipeline file asks for, on w.
func newLogger(w io.Writer, lc config.Log) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(lc.Level))
	opts := &slog.HandlerOptions{Level: level}
	if lc.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
