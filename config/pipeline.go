// Package config loads and validates slspipe pipeline files.
//
// The configuration structs in this package are the single spec of the
// file format: their tags drive decoding, defaults, validation and the
// reference documentation (docs/configuration.md, from Markdown).
//
// # Notes
//
//   - Every scalar value may use ${VAR} or ${VAR:default} (the default
//     applies when VAR is unset or empty); $$ is a literal $.
//   - Problems are reported all at once, each as file:line:column.
//   - Relative paths (modules, state file, NATS credentials, TLS files) are
//     resolved against the pipeline file's directory; after loading they are
//     absolute.
//   - Credentials are of type Secret, which never prints its value.
package config

import (
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/slspipe/slspipe/internal/redact"
)

// Pipeline is one pipeline file, with defaults filled in.
type Pipeline struct {
	Version    int        `yaml:"version" default:"1" doc:"File format version. Only 1 exists."`
	Name       string     `yaml:"name" required:"true" format:"name" doc:"Pipeline name: in logs, metrics, checkpoints and the default NATS subject."`
	Log        Log        `yaml:"log" doc:"Logging."`
	Source     Source     `yaml:"source" required:"true" doc:"Where records come from; exactly one kind."`
	Steps      []Step     `yaml:"steps" doc:"Processing steps, in order. With no deserialize step the built-in sls (json for a nats source) is used; with no serialize step, the built-in json."`
	Sink       Sink       `yaml:"sink" required:"true" doc:"Where records go; exactly one kind."`
	DeadLetter *Sink      `yaml:"dead_letter,omitempty" doc:"Where records a step rejects go, with the error and their source position, when on_error is dead_letter. A nats subject defaults to slspipe.<name>.dead."`
	OnError    string     `yaml:"on_error" default:"fail" enum:"fail|skip|dead_letter" doc:"What a record a step rejects does: fail stops the pipeline without committing past it; skip drops it (counted in metrics); dead_letter sends it to dead_letter."`
	Checkpoint Checkpoint `yaml:"checkpoint" doc:"The local checkpoint store."`
	Limits     Limits     `yaml:"limits" doc:"Resource limits."`
	Metrics    Metrics    `yaml:"metrics" doc:"Prometheus metrics endpoint."`

	// File is the path the pipeline was loaded from.
	File string `yaml:"-"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level" default:"info" enum:"debug|info|warn|error" doc:"Lowest level logged."`
	Format string `yaml:"format" default:"text" enum:"text|json" doc:"text: human-readable lines; json: one JSON object per line."`
}

// Checkpoint configures the local checkpoint store.
type Checkpoint struct {
	Path     string   `yaml:"path" default:"./slspipe-state.db" format:"path" doc:"State file (bbolt), relative to the pipeline file. One process at a time may use it."`
	Interval Duration `yaml:"interval" flink:"LOG_COMMIT_INTERVAL_MILLIS" default:"5s" min:"10ms" doc:"How often committed positions are saved; they are also saved on shutdown."`
}

// Limits bounds the resources a pipeline uses.
type Limits struct {
	MaxInflightBytes Size     `yaml:"max_inflight_bytes" default:"64MiB" min:"1KiB" doc:"Bytes of records pulled but not yet confirmed by the sink; pulling waits beyond it."`
	ShardQueue       int      `yaml:"shard_queue" default:"8" min:"1" max:"4096" doc:"Batches queued per shard between pulling and processing."`
	ShutdownTimeout  Duration `yaml:"shutdown_timeout" default:"30s" min:"1ms" doc:"On shutdown, how long to wait for in-flight records to be confirmed and committed."`
}

// Metrics configures the Prometheus endpoint.
type Metrics struct {
	Listen string `yaml:"listen" default:"127.0.0.1:9464" format:"listen" doc:"Address serving the status page (/), /api/status, /metrics, /healthz and /readyz; an empty string disables it."`
	Pprof  bool   `yaml:"pprof" default:"false" doc:"Also serve Go's profiler under /debug/pprof/ on the same address (CPU and heap profiles of a running pipeline)."`
}

func (p *Pipeline) check(c *checkCtx) {
	if p.Version != 1 {
		c.errorf("version", "unsupported version %d; this slspipe reads version 1", p.Version)
	}
	switch {
	case p.OnError == "dead_letter" && p.DeadLetter == nil:
		c.errorf("on_error", "dead_letter needs a dead_letter section")
	case p.OnError != "dead_letter" && p.DeadLetter != nil:
		c.errorf("dead_letter", "is only used with on_error: dead_letter (on_error is %s)", p.OnError)
	}
	p.checkSteps(c)

	// Defaults that depend on the pipeline name.
	if n := p.Sink.NATS; n != nil && n.Subject == "" && p.Name != "" {
		n.Subject = "slspipe." + p.Name
	}
	if d := p.DeadLetter; d != nil && d.NATS != nil && d.NATS.Subject == "" && p.Name != "" {
		d.NATS.Subject = "slspipe." + p.Name + ".dead"
	}
	if n := p.Source.NATS; n != nil && n.Durable == "" && p.Name != "" {
		n.Durable = "slspipe-" + p.Name
	}
}

func (p *Pipeline) checkSteps(c *checkCtx) {
	seen := map[string]int{}
	for i, s := range p.Steps {
		item := c.item("steps", i)
		if first, dup := seen[s.Name]; dup && s.Name != "" {
			n := child(item, "name")
			c.d.errorf(n, "steps[%d].name: duplicate step name %q (first used by steps[%d])", i, s.Name, first)
		} else {
			seen[s.Name] = i
		}
		at := child(item, "role")
		switch {
		case s.Role == RoleDeserialize && i != 0:
			c.d.errorf(at, "steps[%d].role: a deserialize step must be the first step", i)
		case s.Role == RoleSerialize && i != len(p.Steps)-1:
			c.d.errorf(at, "steps[%d].role: a serialize step must be the last step", i)
		}
	}
}

// Stages returns the steps the pipeline runs: its steps, with the default
// built-in deserialize step first and serialize step last when the file
// has none.
func (p *Pipeline) Stages() []Step {
	out := make([]Step, 0, len(p.Steps)+2)
	hasRole := func(role string) bool {
		for _, s := range p.Steps {
			if s.Role == role {
				return true
			}
		}
		return false
	}
	builtin := func(role string) Step {
		// Built-ins take the same defaults as a step written in the file.
		var s Step
		node := &yaml.Node{Kind: yaml.MappingNode}
		for _, kv := range [][2]string{{"name", role}, {"role", role}, {"builtin", defaultBuiltin(role, p.Source.Kind())}} {
			node.Content = append(node.Content,
				&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: kv[0]},
				&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: kv[1]})
		}
		d := &decoder{errs: &errList{}, lookup: func(string) (string, bool) { return "", false }}
		d.value(node, reflect.ValueOf(&s).Elem(), nil, "")
		return s
	}
	if !hasRole(RoleDeserialize) {
		out = append(out, builtin(RoleDeserialize))
	}
	out = append(out, p.Steps...)
	if !hasRole(RoleSerialize) {
		out = append(out, builtin(RoleSerialize))
	}
	return out
}

// String renders the effective configuration as YAML, defaults included
// and secrets shown as <redacted>, as is the user information of URLs
// (nats://user:password@host).
func (p *Pipeline) String() string {
	out, err := yaml.Marshal(p.withoutURLCredentials())
	if err != nil {
		return fmt.Sprintf("<unprintable pipeline: %v>", err)
	}
	return string(out)
}

// withoutURLCredentials returns a copy of p for printing, with the user
// information of its server URLs and endpoints redacted. The copy shares
// everything else with p.
func (p *Pipeline) withoutURLCredentials() *Pipeline {
	q := *p
	if s := q.Source.SLS; s != nil {
		c := *s
		c.Endpoint = redact.URL(c.Endpoint)
		q.Source.SLS = &c
	}
	if s := q.Source.NATS; s != nil {
		c := *s
		c.URL = redact.URLs(c.URL)
		q.Source.NATS = &c
	}
	sink := func(s Sink) Sink {
		if s.NATS != nil {
			c := *s.NATS
			c.URL = redact.URLs(c.URL)
			s.NATS = &c
		}
		if s.SLS != nil {
			c := *s.SLS
			c.Endpoint = redact.URL(c.Endpoint)
			s.SLS = &c
		}
		return s
	}
	q.Sink = sink(q.Sink)
	if q.DeadLetter != nil {
		d := sink(*q.DeadLetter)
		q.DeadLetter = &d
	}
	return &q
}

// Summary describes the pipeline in one line, for example
// "source sls demo/nginx, 2 steps, sink nats". It never includes secrets.
func (p *Pipeline) Summary() string {
	src := p.Source.Kind()
	switch s := p.Source; {
	case s.SLS != nil:
		src += " " + s.SLS.Project + "/" + strings.Join(s.SLS.Logstores, ",")
	case s.NATS != nil:
		src += " " + s.NATS.Stream
	}
	sink := p.Sink.Kind()
	steps := fmt.Sprintf("%d steps", len(p.Steps))
	if len(p.Steps) == 1 {
		steps = "1 step"
	}
	out := fmt.Sprintf("source %s, %s, sink %s", src, steps, sink)
	if p.DeadLetter != nil {
		out += ", dead letters to " + p.DeadLetter.Kind()
	}
	return out
}
