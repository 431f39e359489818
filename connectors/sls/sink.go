package sls

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/connectors/sls/internal/producer"
	"github.com/slspipe/slspipe/connectors/sls/internal/slsapi"
)

// Sink writes records into an SLS logstore: the batching producer of
// package producer, reached through the same endpoint handling as the
// source (an IP or localhost endpoint is dialled directly while the project
// still goes into the Host header). It implements engine.Sink and
// engine.ReadinessChecker; call Close after the pipeline's Run returns.
type Sink = producer.Producer

// NewSink returns a sink for cfg. It makes no network call; credentials come
// from cfg or, when empty, the ALIBABA_CLOUD_* environment.
//
// # Notes
//
//   - Of opts, [WithRegisterer], [WithHTTPClient] and [WithLookupEnv]
//     apply; a non-nil logger and a non-empty pipeline win over
//     [WithLogger] and [WithPipelineName].
//   - With [WithRegisterer], the sink's metrics (slspipe_sls_sink_*) are
//     labelled project and logstore. Two sinks may share a registerer: a
//     collector already registered is reused, so sinks to the same
//     logstore add to the same series. To tell a sink from a dead-letter
//     sink writing to one logstore, wrap each registerer with a label of
//     its own (slspipe adds role).
func NewSink(cfg config.SLSSink, logger *slog.Logger, pipeline string, opts ...Option) (*Sink, error) {
	ep, err := slsapi.ParseEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("sls sink: %w", err)
	}
	o := options{lookup: os.LookupEnv}
	for _, opt := range opts {
		opt(&o)
	}
	if logger != nil {
		o.logger = logger
	}
	if pipeline != "" {
		o.pipeline = pipeline
	}
	if o.logger == nil {
		o.logger = slog.Default()
	}
	hc := o.hc
	if hc == nil {
		if hc, err = slsapi.NewHTTPClient(ep, slsapi.ClientOptions{CAFile: cfg.CAFile}); err != nil {
			return nil, fmt.Errorf("sls sink: %w", err)
		}
	}
	ua := "slspipe"
	if o.pipeline != "" {
		ua += "/" + o.pipeline
	}
	return producer.New(cfg, hc,
		producer.WithLogger(o.logger),
		producer.WithLookup(o.lookup),
		producer.WithRegisterer(o.reg),
		producer.WithUserAgent(ua))
}
