package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// testEnv is the environment the golden files are checked against.
var testEnv = map[string]string{
	"SLS_ENDPOINT": "http://127.0.0.1:9100",
	"SLS_SECRET":   "sk-supersecret",
	"NATS_PORT":    "4333",
}

func lookupIn(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func parseFile(t *testing.T, path string, env map[string]string) (*Pipeline, error) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return Parse(filepath.ToSlash(path), data, lookupIn(env), filepath.Dir(path))
}

// TestInvalidGolden checks the exact messages for each broken file in
// testdata/invalid against its .golden file; -update rewrites them.
func TestInvalidGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil || len(files) < 10 {
		t.Fatalf("want at least 10 invalid configs, found %d (%v)", len(files), err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			p, err := parseFile(t, file, testEnv)
			var errs *Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Parse = %v, %v; want *Errors", p, err)
			}
			got := errs.Error() + "\n"
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("errors differ from %s\n--- got\n%s--- want\n%s", golden, got, want)
			}
			for _, e := range errs.List {
				if e.File != filepath.ToSlash(file) || e.Line < 1 {
					t.Errorf("error without a position: %+v", e)
				}
			}
			for _, secret := range []string{"supersecret"} {
				if strings.Contains(got, secret) {
					t.Errorf("a secret value leaked into the errors:\n%s", got)
				}
			}
		})
	}
}

func TestErrorsAreSortedAndComplete(t *testing.T) {
	_, err := parseFile(t, "testdata/invalid/cross_field.yaml", testEnv)
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatal(err)
	}
	if len(errs.List) < 10 {
		t.Errorf("got %d errors, want every problem in the file reported at once:\n%v", len(errs.List), err)
	}
	for i := 1; i < len(errs.List); i++ {
		a, b := errs.List[i-1], errs.List[i]
		if a.Line > b.Line || (a.Line == b.Line && a.Column > b.Column) {
			t.Errorf("errors out of order: %v before %v", a, b)
		}
	}
}

const minimal = `
name: demo
source:
  sls:
    endpoint: 127.0.0.1:9100
    project: demo
    logstore: nginx
sink:
  nats: {}
`

func mustParse(t *testing.T, yaml string, env map[string]string) *Pipeline {
	t.Helper()
	p, err := Parse("pipeline.yaml", []byte(yaml), lookupIn(env), "/etc/slspipe")
	if err != nil {
		t.Fatalf("Parse:\n%v", err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	p := mustParse(t, minimal, nil)
	s := p.Source.SLS
	checks := []struct {
		name      string
		got, want any
	}{
		{"version", p.Version, 1},
		{"log.level", p.Log.Level, "info"},
		{"log.format", p.Log.Format, "text"},
		{"endpoint (bare host gets https)", s.Endpoint, "https://127.0.0.1:9100"},
		{"logstores", strings.Join(s.Logstores, ","), "nginx"},
		{"signature_version", s.SignatureVersion, "v1"},
		{"start_position", s.StartPosition.Mode, PositionBegin},
		{"default_position", s.DefaultPosition.Mode, PositionBegin},
		{"stop_time", s.StopTime.IsZero(), true},
		{"fetch_interval", s.FetchInterval.D(), 100 * time.Millisecond},
		{"max_per_fetch", s.MaxPerFetch, 100},
		{"shard_discovery_interval", s.ShardDiscoveryInterval.D(), 30 * time.Second},
		{"compression", s.Compression, "lz4"},
		{"group_mode", s.GroupMode, "standalone"},
		{"consumer_name set", s.ConsumerName != "", true},
		{"heartbeat_interval", s.HeartbeatInterval.D(), 20 * time.Second},
		{"heartbeat_timeout", s.HeartbeatTimeout.D(), 60 * time.Second},
		{"ordered", s.Ordered, true},
		{"on_cursor_expired", s.OnCursorExpired, "begin"},
		{"retry.base_backoff", s.Retry.BaseBackoff.D(), 200 * time.Millisecond},
		{"retry.max_backoff", s.Retry.MaxBackoff.D(), 5 * time.Second},
		{"retry.max_retries", s.Retry.MaxRetries, 60},
		{"sink kind", p.Sink.Kind(), "nats"},
		{"sink.nats.url", p.Sink.NATS.URL, "nats://127.0.0.1:4222"},
		{"sink.nats.mode", p.Sink.NATS.Mode, "jetstream"},
		{"sink.nats.subject", p.Sink.NATS.Subject, "slspipe.demo"},
		{"sink.nats.duplicate_window", p.Sink.NATS.DuplicateWindow.D(), 2 * time.Minute},
		{"sink.nats.max_inflight", p.Sink.NATS.MaxInflight, 4096},
		{"on_error", p.OnError, "fail"},
		{"dead_letter", p.DeadLetter == nil, true},
		{"checkpoint.path", p.Checkpoint.Path, "/etc/slspipe/slspipe-state.db"},
		{"checkpoint.interval", p.Checkpoint.Interval.D(), 5 * time.Second},
		{"limits.max_inflight_bytes", p.Limits.MaxInflightBytes.Bytes(), int64(64 << 20)},
		{"limits.shard_queue", p.Limits.ShardQueue, 8},
		{"limits.shutdown_timeout", p.Limits.ShutdownTimeout.D(), 30 * time.Second},
		{"metrics.listen", p.Metrics.Listen, "127.0.0.1:9464"},
		{"file", p.File, "pipeline.yaml"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}

	stages := p.Stages()
	if len(stages) != 2 || stages[0].Builtin != "sls" || stages[1].Builtin != "json" || stages[0].MemoryLimit != 64<<20 {
		t.Errorf("Stages() = %+v; want built-in sls deserialize and json serialize with defaults", stages)
	}
}

func TestOtherKindsDefaults(t *testing.T) {
	p := mustParse(t, `
name: gen
source:
  generate: {}
steps:
  - name: t
    role: transform
    builtin: identity
sink:
  sls:
    endpoint: https://cn-hangzhou.log.aliyuncs.com
    project: demo
    logstore: out
    signature_version: v4
    region: cn-hangzhou
on_error: dead_letter
dead_letter:
  nats:
    mode: core
metrics:
  listen: ""
`, nil)
	g := p.Source.Generate
	if g.Shards != 4 || g.Rate != 0 || g.Count != 0 || g.Fields != 10 || g.RecordBytes != 200 || g.Template != "nginx" {
		t.Errorf("generate defaults = %+v", g)
	}
	s := p.Sink.SLS
	if s.IOThreads != 8 || s.Linger.D() != 3*time.Second || s.MaxBatchCount != 4096 || s.MaxBatchBytes != 3<<20 ||
		s.MaxMemory != 100<<20 || s.Partitioner != "random" || s.Compression != "lz4" || s.Retries != 10 ||
		s.BaseBackoff.D() != 100*time.Millisecond || s.MaxBackoff.D() != 50*time.Second {
		t.Errorf("sls sink defaults = %+v", s)
	}
	if p.DeadLetter.NATS.Subject != "slspipe.gen.dead" {
		t.Errorf("dead-letter subject = %q", p.DeadLetter.NATS.Subject)
	}
	if p.Metrics.Listen != "" {
		t.Errorf("metrics.listen \"\" should disable metrics, got %q", p.Metrics.Listen)
	}
	if got := p.Summary(); got != "source generate, 1 step, sink sls, dead letters to nats" {
		t.Errorf("Summary() = %q", got)
	}

	p = mustParse(t, `
name: fromnats
source:
  nats:
    stream: LOGS
sink:
  stdout: {}
`, nil)
	if n := p.Source.NATS; n.Durable != "slspipe-fromnats" || n.Batch != 500 || n.AckWait.D() != 30*time.Second || n.URL != "nats://127.0.0.1:4222" {
		t.Errorf("nats source defaults = %+v", n)
	}
	if p.Sink.Stdout.Format != "json" {
		t.Errorf("stdout format = %q", p.Sink.Stdout.Format)
	}
	if st := p.Stages(); st[0].Builtin != "json" {
		t.Errorf("a nats source should default to the json deserializer, got %q", st[0].Builtin)
	}
}

func TestValuesAndUnits(t *testing.T) {
	p := mustParse(t, `
name: units
source:
  sls:
    endpoint: http://sls.local
    project: demo
    logstores: [a-1, b_2]
    start_position: 2026-01-02T03:04:05Z
    stop_time: "1767409445"
    consumer_group: cg
    group_mode: distributed
sink:
  discard:
limits:
  max_inflight_bytes: 3MB
  shard_queue: 1_000
checkpoint:
  path: /var/lib/slspipe/state.db
steps:
  - name: d
    role: deserialize
    builtin: json
    memory_limit: 1048576
    allow:
      dirs: [data]
      env: [HOME]
`, nil)
	s := p.Source.SLS
	if s.StartPosition.Mode != PositionTime || !s.StartPosition.Time.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("start_position = %+v", s.StartPosition)
	}
	if s.StopTime.Unix() != 1767409445 {
		t.Errorf("stop_time = %v", s.StopTime)
	}
	if s.Endpoint != "http://sls.local" || strings.Join(s.Logstores, ",") != "a-1,b_2" {
		t.Errorf("endpoint/logstores = %q %q", s.Endpoint, s.Logstores)
	}
	if p.Sink.Kind() != "discard" {
		t.Errorf("discard with no value: kind %q", p.Sink.Kind())
	}
	if p.Limits.MaxInflightBytes != 3_000_000 || p.Limits.ShardQueue != 1000 {
		t.Errorf("limits = %+v", p.Limits)
	}
	if p.Checkpoint.Path != "/var/lib/slspipe/state.db" {
		t.Errorf("absolute checkpoint path changed to %q", p.Checkpoint.Path)
	}
	st := p.Steps[0]
	if st.MemoryLimit != 1<<20 || st.Allow.Dirs[0] != "/etc/slspipe/data" || st.Allow.Env[0] != "HOME" {
		t.Errorf("step = %+v", st)
	}
	if got := p.Summary(); got != "source sls demo/a-1,b_2, 1 step, sink discard" {
		t.Errorf("Summary() = %q", got)
	}
}

func TestModulePathsResolveAgainstTheFile(t *testing.T) {
	p, err := parseFile(t, "testdata/valid/with_module.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join("testdata", "valid", "modules", "upper.wasm")
	if p.Steps[0].Module != want {
		t.Errorf("module = %q, want %q", p.Steps[0].Module, want)
	}
}

func TestInterpolation(t *testing.T) {
	env := map[string]string{"NAME": "prod", "EMPTY": "", "PORT": "4333"}
	cases := []struct {
		in, want, err string
	}{
		{in: "plain", want: "plain"},
		{in: "${NAME}", want: "prod"},
		{in: "x-${NAME}-y", want: "x-prod-y"},
		{in: "${MISSING:dflt}", want: "dflt"},
		{in: "${EMPTY:dflt}", want: "dflt"},
		{in: "${EMPTY}", want: ""},
		{in: "${MISSING:}", want: ""},
		{in: "${MISSING:a:b}", want: "a:b"},
		{in: "$$", want: "$"},
		{in: "$${NAME}", want: "${NAME}"},
		{in: "cost $5", want: "cost $5"},
		{in: "end$", want: "end$"},
		{in: "nats://h:${PORT}", want: "nats://h:4333"},
		{in: "${MISSING}", err: "environment variable MISSING is not set"},
		{in: "${NAME", err: "unterminated ${"},
		{in: "${}", err: "invalid variable name"},
		{in: "${A-B}", err: "invalid variable name"},
	}
	for _, c := range cases {
		got, err := interpolate(c.in, lookupIn(env))
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("interpolate(%q) error = %v, want %q", c.in, err, c.err)
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("interpolate(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}

	// Interpolated text is typed after expansion, and keys are not expanded.
	p := mustParse(t, `
name: ${NAME}
source:
  generate:
    shards: ${SHARDS:2}
sink:
  nats:
    url: nats://127.0.0.1:${PORT}
    headers:
      env: ${NAME}
`, env)
	if p.Name != "prod" || p.Source.Generate.Shards != 2 || p.Sink.NATS.URL != "nats://127.0.0.1:4333" || p.Sink.NATS.Headers["env"] != "prod" {
		t.Errorf("interpolated pipeline = %s", p)
	}
	if p.Sink.NATS.Subject != "slspipe.prod" {
		t.Errorf("default subject uses the interpolated name: %q", p.Sink.NATS.Subject)
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	env := map[string]string{"KEY_ID": "LTAIsupersecretid", "KEY_SECRET": "supersecretvalue"}
	p := mustParse(t, `
name: demo
source:
  sls:
    endpoint: http://127.0.0.1:9100
    project: demo
    logstore: nginx
    access_key_id: ${KEY_ID}
    access_key_secret: ${KEY_SECRET}
    security_token: inline-supersecret-token
sink:
  nats:
    user: u
    password: supersecret-pw
`, env)
	a := p.Source.SLS.SLSAuth
	if a.AccessKeyID.Value() != "LTAIsupersecretid" || a.AccessKeySecret.Value() != "supersecretvalue" {
		t.Fatal("secrets were not decoded")
	}
	for _, out := range []string{p.String(), p.Summary(), fmtAll(p), fmtAll(*p.Source.SLS), fmtAll(p.Sink.NATS)} {
		if strings.Contains(out, "supersecret") {
			t.Errorf("secret in output:\n%s", out)
		}
	}
	if !strings.Contains(p.String(), "access_key_secret: <redacted>") {
		t.Errorf("String() should show secrets as <redacted>:\n%s", p)
	}

	// Empty credentials fall back to the standard environment variables.
	q := mustParse(t, minimal, nil)
	id, secret, token := q.Source.SLS.StaticKeys(lookupIn(map[string]string{
		"ALIBABA_CLOUD_ACCESS_KEY_ID": "envid", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "envsecret",
	}))
	if id.Value() != "envid" || secret.Value() != "envsecret" || token.IsSet() {
		t.Errorf("Credentials() = %q %q %q", id.Value(), secret.Value(), token.Value())
	}
	id, _, _ = p.Source.SLS.StaticKeys(lookupIn(map[string]string{"ALIBABA_CLOUD_ACCESS_KEY_ID": "envid"}))
	if id.Value() != "LTAIsupersecretid" {
		t.Errorf("a configured key id must win over the environment, got %q", id.Value())
	}
}

func TestExampleFileParses(t *testing.T) {
	// The example's modules are built by make; stand-ins suffice to parse it.
	modules := t.TempDir()
	for _, name := range []string{"c_pii_mask.wasm", "rust_filter_enrich.wasm"} {
		if err := os.WriteFile(filepath.Join(modules, name), []byte("\x00asm"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := parseFile(t, "../pipeline.yaml.example", map[string]string{"SLSPIPE_MODULES": modules})
	if err != nil {
		t.Fatalf("pipeline.yaml.example:\n%v", err)
	}
	s := p.Source.SLS
	if s == nil || s.Endpoint != "http://127.0.0.1:9100" || s.Project != "demo" || s.Logstores[0] != "nginx" {
		t.Fatalf("example source = %+v", p.Source)
	}
	if s.AccessKeyID.Value() != "slspipe-local" || s.AccessKeySecret.Value() != "slspipe-local-secret" {
		t.Errorf("example credentials should default to the emulator's")
	}
	if p.Sink.NATS == nil || p.Sink.NATS.Mode != "jetstream" || p.Sink.NATS.URL != "nats://127.0.0.1:4222" {
		t.Errorf("example sink = %+v", p.Sink)
	}
}

func TestLoad(t *testing.T) {
	p, err := Load("testdata/valid/with_module.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(p.Steps[0].Module) {
		t.Errorf("Load should resolve module paths to absolute ones, got %q", p.Steps[0].Module)
	}
	_, err = Load("testdata/does-not-exist.yaml")
	var errs *Errors
	if err == nil || errors.As(err, &errs) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file = %v; want a plain not-exist error", err)
	}
}

func fmtAll(v any) string { return fmt.Sprintf("%v %+v %#v %s", v, v, v, v) }

func BenchmarkParseExample(b *testing.B) {
	data, err := os.ReadFile("../pipeline.yaml.example")
	if err != nil {
		b.Fatal(err)
	}
	env := lookupIn(nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("pipeline.yaml", data, env, ".."); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSecretValuesRedactedInErrors decodes a spec whose secret fields have
// rules, proving the decoder never quotes a secret in a message.
func TestSecretValuesRedactedInErrors(t *testing.T) {
	type spec struct {
		Token Secret `yaml:"token" enum:"alpha|beta"`
		Flag  Secret `yaml:"flag"`
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("token: supersecret-token\nflag: {a: supersecret}\n"), &doc); err != nil {
		t.Fatal(err)
	}
	errs := &errList{file: "f.yaml"}
	var v spec
	d := &decoder{errs: errs, lookup: lookupIn(nil)}
	d.value(doc.Content[0], reflect.ValueOf(&v).Elem(), nil, "")
	out := errs.result()
	if out == nil {
		t.Fatal("no errors reported")
	}
	msg := out.Error()
	if strings.Contains(msg, "supersecret") || !strings.Contains(msg, "token: must be one of alpha, beta; got <redacted>") {
		t.Errorf("errors = %s", msg)
	}
}
