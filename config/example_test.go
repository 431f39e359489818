package config_test

import (
	"fmt"

	"github.com/slspipe/slspipe/config"
)

func ExampleParse() {
	file := []byte(`
name: demo
source:
  sls:
    endpoint: http://127.0.0.1:9100
    project: demo
    logstore: nginx
    access_key_secret: ${SECRET}
    max_per_fetch: 5000
sink:
  nats:
    mode: jetstreem
`)
	env := func(string) (string, bool) { return "", false }
	_, err := config.Parse("pipeline.yaml", file, env, ".")
	fmt.Println(err)
	// Output:
	// pipeline.yaml:8:24: source.sls.access_key_secret: environment variable SECRET is not set (write ${SECRET:default} to give a default)
	// pipeline.yaml:9:20: source.sls.max_per_fetch: must be between 1 and 1000, got 5000
	// pipeline.yaml:12:11: sink.nats.mode: must be one of jetstream, core; got "jetstreem" (did you mean "jetstream"?)
}

func ExamplePipeline_Summary() {
	file := []byte(`
name: demo
source: {sls: {endpoint: 127.0.0.1:9100, project: demo, logstore: nginx}}
steps: [{name: pass, role: transform, builtin: identity}]
sink: {nats: {}}
`)
	p, err := config.Parse("pipeline.yaml", file, nil, ".")
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Summary())
	fmt.Println(p.Source.SLS.Endpoint, p.Sink.NATS.Subject, p.Source.SLS.MaxPerFetch)
	// Output:
	// source sls demo/nginx, 1 step, sink nats
	// https://127.0.0.1:9100 slspipe.demo 100
}
