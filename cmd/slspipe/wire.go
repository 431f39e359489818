package main

import (
	"context"
	"time"

	"errors"
	"fmt"
	"github.com/prometheus/client_golang/prometheus"
	"io"
	"log/slog"

	"github.com/slspipe/slspipe/builtin"
	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/connectors/discard"
	"github.com/slspipe/slspipe/connectors/generate"
	natsconn "github.com/slspipe/slspipe/connectors/nats"
	slsconn "github.com/slspipe/slspipe/connectors/sls"
	"github.com/slspipe/slspipe/connectors/stdout"
	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/state"
	"github.com/slspipe/slspipe/wasmhost"
)

// wireEnv is what wiring needs from the process.
type wireEnv struct {
	logger   *slog.Logger
	stdout   io.Writer
	registry *prometheus.Registry // connectors register their metrics here
	modules  *moduleLoader
	pipeline string
}

// parts are a pipeline's components, built from its file.
type parts struct {
	source     engine.Source
	stages     []engine.StageFactory
	sink       engine.Sink
	deadLetter engine.Sink
	committers []engine.Committer
	closers    []func() error
}

func (p *parts) close(logger *slog.Logger) {
	for i := len(p.closers) - 1; i >= 0; i-- {
		if err := p.closers[i](); err != nil {
			logger.Warn("close", "err", err)
		}
	}
}

// wire builds every component of p. On error, what was built is closed.
func wire(ctx context.Context, p *config.Pipeline, env wireEnv) (_ *parts, err error) {
	out := &parts{}
	env.pipeline = p.Name
	defer func() {
		if err != nil {
			out.close(env.logger)
		}
	}()

	// In distributed group mode checkpoints live in the consumer group, so
	// that any replica can take over a shard; there is no local file.
	if sls := p.Source.SLS; sls == nil || sls.GroupMode != "distributed" {
		st, err := state.Open(p.Checkpoint.Path)
		if err != nil {
			return nil, err
		}
		out.closers = append(out.closers, st.Close)
		out.committers = append(out.committers, st.Committer())
	}

	if out.source, err = wireSource(ctx, p, env, out); err != nil {
		return nil, err
	}
	env.modules = &moduleLoader{logger: env.logger, registry: env.registry}
	out.closers = append(out.closers, func() error { return env.modules.close(context.Background()) })
	for _, step := range p.Stages() {
		f, err := wireStep(ctx, step, env, out)
		if err != nil {
			return nil, err
		}
		if f != nil {
			out.stages = append(out.stages, describeStep(f, step))
		}
	}
	if out.sink, err = wireSink(ctx, p.Sink, "sink", env, out); err != nil {
		return nil, err
	}
	if p.DeadLetter != nil {
		if out.deadLetter, err = wireSink(ctx, *p.DeadLetter, "dead_letter", env, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// errNotInThisBuild marks a configured kind whose connector this build lacks.
var errNotInThisBuild = errors.New("is not available in this build of slspipe")

func wireSource(ctx context.Context, p *config.Pipeline, env wireEnv, out *parts) (engine.Source, error) {
	switch src := p.Source; {
	case src.SLS != nil:
		s, err := slsconn.NewSource(*src.SLS,
			slsconn.WithLogger(env.logger),
			slsconn.WithRegisterer(prometheus.WrapRegistererWith(prometheus.Labels{"pipeline": p.Name}, env.registry)),
			slsconn.WithPipelineName(p.Name))
		if err != nil {
			return nil, fmt.Errorf("source sls: %w", err)
		}
		// Standalone: the file (first committer) stays authoritative and the
		// group shows progress in the console. Distributed: the group is
		// the only committer.
		if c := s.Committer(); c != nil {
			out.committers = append(out.committers, c)
		}
		return s, nil
	case src.NATS != nil:
		s, err := natsconn.NewSource(ctx, *src.NATS, natsconn.WithLogger(env.logger), natsconn.WithClientName("slspipe/"+p.Name))
		if err != nil {
			return nil, fmt.Errorf("source nats: %w", err)
		}
		out.closers = append(out.closers, s.Close)
		// The source acknowledges messages as their positions commit.
		out.committers = append(out.committers, s)
		return s, nil
	case src.Generate != nil:
		g := src.Generate
		return generate.New(generate.Config{
			Logstore:    "generated",
			Shards:      g.Shards,
			Count:       g.Count,
			Rate:        float64(g.Rate),
			Seed:        uint64(g.Seed),
			Template:    g.Template,
			Fields:      g.Fields,
			RecordBytes: int(g.RecordBytes.Bytes()),
			// Event times start now, so lag and time cursors look real; the
			// records' contents and ids still depend only on the seed.
			Start: time.Now(),
		})
	default:
		return nil, fmt.Errorf("source %s %w", src.Kind(), errNotInThisBuild)
	}
}

func wireStep(ctx context.Context, step config.Step, env wireEnv, out *parts) (engine.StageFactory, error) {
	if step.Builtin != "" {
		f, err := builtin.New(step.Role, step.Builtin, step.Name, step.Config)
		if err != nil {
			return nil, fmt.Errorf("step %s: %w", step.Name, err)
		}
		return f, nil
	}
	m, err := env.modules.open(ctx, step)
	if err != nil {
		return nil, err
	}
	out.closers = append(out.closers, func() error { return m.Close(context.Background()) })
	return wasmhost.NewStageFactory(m, nil), nil
}

func wireSink(ctx context.Context, s config.Sink, what string, env wireEnv, out *parts) (engine.Sink, error) {
	switch {
	case s.NATS != nil:
		sink, err := natsconn.NewSink(ctx, *s.NATS, natsconn.WithLogger(env.logger.With("sink", what)), natsconn.WithClientName("slspipe/"+env.pipeline))
		if err != nil {
			return nil, fmt.Errorf("%s nats: %w", what, err)
		}
		out.closers = append(out.closers, sink.Close)
		return sink, nil
	case s.SLS != nil:
		// role keeps a sink and a dead-letter sink writing to one logstore
		// apart in the pipeline's registry.
		reg := prometheus.WrapRegistererWith(prometheus.Labels{"pipeline": env.pipeline, "role": what}, env.registry)
		sink, err := slsconn.NewSink(*s.SLS, env.logger.With("sink", what), env.pipeline, slsconn.WithRegisterer(reg))
		if err != nil {
			return nil, fmt.Errorf("%s sls: %w", what, err)
		}
		out.closers = append(out.closers, func() error {
			// Flush what is still batched; records it cannot store are
			// confirmed failed, so nothing past them was committed.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			return sink.Close(ctx)
		})
		return sink, nil
	case s.Stdout != nil:
		format, err := stdout.ParseFormat(s.Stdout.Format)
		if err != nil {
			return nil, fmt.Errorf("%s stdout: %w", what, err)
		}
		return stdout.New(env.stdout, format), nil
	case s.Discard != nil:
		return discard.New(), nil
	default:
		return nil, fmt.Errorf("%s %s %w", what, s.Kind(), errNotInThisBuild)
	}
}
