package bench

import (
	"fmt"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// pipelineSpec is what varies between the slspipe runs of the benchmark.
type pipelineSpec struct {
	name        string
	source      sourceSpec
	steps       []stepSpec
	sink        sinkSpec
	metricsAddr string
	pprof       bool // serve /debug/pprof/ next to /metrics
	stateDir    string
}

// sourceSpec is either an SLS logstore read from the beginning up to
// stopTime, or a generator of count records (to try the harness without an
// SLS source).
type sourceSpec struct {
	generate    bool
	endpoint    string // http://host:port
	project     string
	logstore    string
	stopTime    int64  // unix seconds
	maxPerFetch int    // 0: slspipe's default
	query       string // source.sls.query; "" for none
	shards      int    // generate only
	count       int64  // generate only
	recordBytes int    // generate only
}

type stepSpec struct {
	name        string
	role        string
	module      string
	config      map[string]string
	memoryLimit string // "" keeps slspipe's default
}

// sinkSpec is JetStream when natsURL is set, otherwise discard.
type sinkSpec struct {
	natsURL string
	subject string
	stream  string
}

// writePipeline writes spec as a pipeline file in dir and returns its path.
// Access keys are left to the environment (SLS_ACCESS_KEY_ID/SECRET).
func writePipeline(dir string, spec pipelineSpec) (string, error) {
	src := map[string]any{}
	if spec.source.generate {
		src["generate"] = map[string]any{
			"shards":       spec.source.shards,
			"count":        spec.source.count,
			"template":     "random",
			"fields":       10,
			"record_bytes": spec.source.recordBytes,
		}
	} else {
		s := map[string]any{
			"endpoint":          spec.source.endpoint,
			"project":           spec.source.project,
			"logstore":          spec.source.logstore,
			"access_key_id":     "${SLS_ACCESS_KEY_ID}",
			"access_key_secret": "${SLS_ACCESS_KEY_SECRET}",
			"start_position":    "begin_cursor",
			"stop_time":         fmt.Sprint(spec.source.stopTime),
		}
		if spec.source.maxPerFetch > 0 {
			s["max_per_fetch"] = spec.source.maxPerFetch
		}
		if spec.source.query != "" {
			s["query"] = spec.source.query
		}
		src["sls"] = s
	}
	var steps []map[string]any
	for _, st := range spec.steps {
		m := map[string]any{"name": st.name, "role": st.role, "module": st.module}
		if len(st.config) > 0 {
			m["config"] = st.config
		}
		if st.memoryLimit != "" {
			m["memory_limit"] = st.memoryLimit
		}
		steps = append(steps, m)
	}
	sink := map[string]any{"discard": map[string]any{}}
	if spec.sink.natsURL != "" {
		sink = map[string]any{"nats": map[string]any{
			"url":     spec.sink.natsURL,
			"mode":    "jetstream",
			"subject": spec.sink.subject,
			"stream":  spec.sink.stream,
		}}
	}
	doc := map[string]any{
		"version":    1,
		"name":       spec.name,
		"log":        map[string]any{"level": "warn"},
		"source":     src,
		"sink":       sink,
		"checkpoint": map[string]any{"path": filepath.Join(spec.stateDir, spec.name+".db")},
		"metrics":    map[string]any{"listen": spec.metricsAddr, "pprof": spec.pprof},
	}
	if len(steps) > 0 {
		doc["steps"] = steps
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("pipeline %s: %w", spec.name, err)
	}
	path := filepath.Join(dir, spec.name+".yaml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return "", fmt.Errorf("pipeline %s: %w", spec.name, err)
	}
	return path, nil
}
