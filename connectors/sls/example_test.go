package sls_test

import (
	"log/slog"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/connectors/sls"
	"github.com/slspipe/slspipe/engine"
)

// ExampleNewSource wires an SLS source into a pipeline: the consumer
// group's committer goes after the local checkpoint store, so progress
// shows in the SLS console while the local store stays authoritative.
func ExampleNewSource() {
	cfg := config.SLSSource{
		SLSAuth: config.SLSAuth{
			Endpoint: "cn-hangzhou.log.aliyuncs.com", Project: "my-project",
			// Empty credentials fall back to ALIBABA_CLOUD_ACCESS_KEY_ID
			// and ALIBABA_CLOUD_ACCESS_KEY_SECRET.
		},
		Logstores:     []string{"nginx"},
		StartPosition: config.Position{Mode: config.PositionBegin},
		ConsumerGroup: "slspipe",
	}
	src, err := sls.NewSource(cfg, sls.WithLogger(slog.Default()), sls.WithPipelineName("nginx-to-nats"))
	if err != nil {
		return // no credentials in this environment
	}
	var local engine.Committer // the bbolt store
	committers := []engine.Committer{}
	if local != nil {
		committers = append(committers, local)
	}
	if c := src.Committer(); c != nil {
		committers = append(committers, c)
	}
	_ = engine.NewConfig().WithCommitters(committers...)
}
