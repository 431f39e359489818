package sls

import (
	"fmt"
	"log/slog"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/connectors/sls/internal/producer"
)

// Sink writes records into an SLS logstore: the batching producer of
// package producer, reached through the same endpoint handling as the
// source (an IP or localhost endpoint is dialled directly while the project
// still goes into the Host header). It implements engine.Sink and
// engine.ReadinessChecker; call Close after the pipeline's Run returns.
type Sink = producer.Producer

// NewSink returns a sink for cfg. It makes no network call; credentials come
// from cfg or, when empty, the ALIBABA_CLOUD_* environment.
func NewSink(cfg config.SLSSink, logger *slog.Logger, pipeline string) (*Sink, error) {
	ep, err := parseEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("sls sink: %w", err)
	}
	if logger == nil {
		logger = slog.Default()
	}
	return producer.New(cfg, newHTTPClient(ep),
		producer.WithLogger(logger),
		producer.WithUserAgent("slspipe/"+pipeline))
}
