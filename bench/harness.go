package bench

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/slspipe/slspipe/connectors/generate"
	"github.com/slspipe/slspipe/emulator"
	"github.com/slspipe/slspipe/internal/slsload"
)

// Scenario keys, as given to Config.Scenarios.
const (
	ScenarioRawDecode      = "raw-decode"
	ScenarioLibrary        = "library"
	ScenarioLibraryNoop    = "library-noop"
	ScenarioJetStreamLimit = "jetstream-limit"
	ScenarioNoModule       = "slspipe"
	ScenarioDiscard        = "slspipe-discard"
	ScenarioIdentity       = "slspipe-identity"
	ScenarioChain          = "slspipe-chain"
	ScenarioQuery          = "slspipe-query"
	ScenarioFilterModule   = "slspipe-filter-module"
	ScenarioSweep          = "sweep"
)

// The rule-based consumption pair keeps the same ~10% of the logs (field
// f0 starting with one of six of its 62 letters and digits): once by a
// query SLS runs on the pull, once by a module after a full pull.
const (
	benchQuery       = "* | where f0 like 'a%' or f0 like 'b%' or f0 like 'c%' or f0 like 'd%' or f0 like 'e%' or f0 like 'f%'"
	benchFilterFirst = "abcdef"
)

// AllScenarios lists every scenario in the order they run.
var AllScenarios = []string{ScenarioRawDecode, ScenarioLibrary, ScenarioLibraryNoop, ScenarioJetStreamLimit,
	ScenarioNoModule, ScenarioDiscard, ScenarioIdentity, ScenarioChain, ScenarioQuery, ScenarioFilterModule, ScenarioSweep}

// Source kinds for the slspipe scenarios.
const (
	// SourceSLS reads the preloaded logstore; the scenarios are reported
	// unavailable when the slspipe binary has no SLS source.
	SourceSLS = "sls"
	// SourceGenerate generates the same number of records inside slspipe
	// instead: for trying the harness, not comparable with the baselines.
	SourceGenerate = "generate"
	// SourceAuto is SourceSLS when the binary supports it, else
	// SourceGenerate.
	SourceAuto = "auto"
)

const (
	project     = "bench"
	mainStore   = "main"
	probeStore  = "probe"
	groupSize   = 100 // logs per preloaded log group
	fieldsCount = 10
)

// Config configures a benchmark run. The zero value of a field means its
// default.
type Config struct {
	// Slspipe is the slspipe binary under test; "bin/slspipe" by default.
	Slspipe string
	// ModulesDir holds the guest modules built by plugins/build.sh
	// (c_identity.wasm, and c_pii_mask.wasm with go_custom_serializer.wasm
	// for the example chain); "bin/wasm" by default.
	ModulesDir string
	// Go is the go command that builds the helper processes; "go".
	Go string
	// WorkDir is where the temporary directory is made; os.TempDir().
	WorkDir string
	// Records preloaded into the main logstore; 1,000,000.
	Records int64
	// Shards of the main logstore; 8.
	Shards int
	// RecordBytes is the approximate size of a record; 200.
	RecordBytes int
	// SweepShards are the shard counts of the sweep; 1, 8, 64, 256.
	SweepShards []int
	// SweepRecords preloaded into each sweep logstore; 200,000.
	SweepRecords int64
	// SweepSink is "discard" (default) or "nats".
	SweepSink string
	// Scenarios to run, from AllScenarios; all by default.
	Scenarios []string
	// Source of the slspipe scenarios: SourceSLS (default), SourceGenerate
	// or SourceAuto.
	Source string
	// MaxPerFetch is the log groups per pull for slspipe and the raw
	// decode; 0 keeps slspipe's default (the raw decode then uses 100, the
	// same default, which pulls fastest here).
	MaxPerFetch int
	// ModuleMemory, when set (e.g. "256MiB"), is the memory_limit of every
	// module step; slspipe's default otherwise.
	ModuleMemory string
	// Timeout bounds each scenario; 10 minutes.
	Timeout time.Duration
	// ProfileDir, when set, receives a CPU profile of each slspipe scenario
	// (<scenario>.pprof, ProfileSeconds long from one second after the start),
	// taken through the pipeline's /debug/pprof/ endpoint.
	ProfileDir string
	// ProfileSeconds is the length of each profile; 5 s.
	ProfileSeconds int
	// Rounds repeats the scenarios after the raw decode, interleaved (every
	// scenario once, then again), and reports each one's median run: a
	// machine's throughput drifts over minutes, and baselines and slspipe
	// are then measured under the same drift. 1 by default.
	Rounds int
	// StatusPoll, when set, makes every slspipe run also poll its
	// /api/status that often, as an open status page does (it polls every
	// 1.5 s), to measure what watching a pipeline costs it.
	StatusPoll time.Duration
	// Progress receives one line per step; discarded when nil.
	Progress io.Writer
}

func (c Config) withDefaults() Config {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.Slspipe, "bin/slspipe")
	def(&c.ModulesDir, "bin/wasm")
	def(&c.Go, "go")
	def(&c.SweepSink, "discard")
	def(&c.Source, SourceSLS)
	if c.Records == 0 {
		c.Records = 1_000_000
	}
	if c.Shards == 0 {
		c.Shards = 8
	}
	if c.RecordBytes == 0 {
		c.RecordBytes = 200
	}
	if c.SweepShards == nil {
		c.SweepShards = []int{1, 8, 64, 256}
	}
	if c.SweepRecords == 0 {
		c.SweepRecords = 200_000
	}
	if len(c.Scenarios) == 0 {
		c.Scenarios = AllScenarios
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Minute
	}
	if c.Rounds <= 0 {
		c.Rounds = 1
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	return c
}

func (c Config) validate() error {
	for _, s := range c.Scenarios {
		if !slices.Contains(AllScenarios, s) {
			return fmt.Errorf("unknown scenario %q (have %s)", s, strings.Join(AllScenarios, ", "))
		}
	}
	switch c.Source {
	case SourceSLS, SourceGenerate, SourceAuto:
	default:
		return fmt.Errorf("unknown source %q (have sls, generate, auto)", c.Source)
	}
	switch c.SweepSink {
	case "discard", "nats":
	default:
		return fmt.Errorf("unknown sweep sink %q (have discard, nats)", c.SweepSink)
	}
	if c.Records < 1 || c.Shards < 1 || c.SweepRecords < 1 {
		return errors.New("records, shards and sweep records must be positive")
	}
	return nil
}

// harness is one benchmark run.
type harness struct {
	cfg      Config
	work     string // temporary directory, removed at the end
	slspipe  string // absolute path
	tools    string // directory of natsd, libconsumer, jspub
	emulator *daemon
	natsd    *daemon
	client   sls.ClientInterface
	nc       *natsgo.Conn
	js       jetstream.JetStream
	stopTime int64  // unix seconds after the preload
	source   string // resolved source kind
	noSLS    string // why slspipe cannot read SLS, when it cannot
	rawBytes int64  // raw bytes of the main logstore's records
	report   *Report
}

// Run starts the emulator and a NATS server as processes, preloads the
// records, runs the selected scenarios and returns their report. Every
// process it started is stopped and its temporary files are removed before
// it returns, also when ctx is cancelled. A scenario that fails is reported
// in its row; Run fails only when the setup does.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	h := &harness{cfg: cfg, report: &Report{
		Started: time.Now(), Records: cfg.Records, Shards: cfg.Shards, RecordBytes: cfg.RecordBytes,
		CPUs: runtime.NumCPU(), SweepSink: cfg.SweepSink,
	}}
	var err error
	if h.work, err = os.MkdirTemp(cfg.WorkDir, "slsbench-"); err != nil {
		return nil, fmt.Errorf("work directory: %w", err)
	}
	defer os.RemoveAll(h.work)
	defer h.stopDaemons()
	if err := h.setup(ctx); err != nil {
		return nil, err
	}
	if err := h.runScenarios(ctx); err != nil {
		return nil, err
	}
	h.report.Notes = h.notes()
	return h.report, nil
}

func (h *harness) progress(format string, args ...any) {
	fmt.Fprintf(h.cfg.Progress, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func (h *harness) wants(scenario string) bool { return slices.Contains(h.cfg.Scenarios, scenario) }

func (h *harness) stopDaemons() {
	if h.nc != nil {
		h.nc.Close()
	}
	for _, d := range []*daemon{h.natsd, h.emulator} {
		if d != nil {
			d.stop()
		}
	}
}

func (h *harness) setup(ctx context.Context) error {
	var err error
	if h.slspipe, err = filepath.Abs(h.cfg.Slspipe); err != nil {
		return err
	}
	if _, err := os.Stat(h.slspipe); err != nil {
		return fmt.Errorf("slspipe binary (make build): %w", err)
	}
	if err := h.buildTools(ctx); err != nil {
		return err
	}

	args := []string{"emulator", "--addr", "127.0.0.1:0",
		"--logstore", fmt.Sprintf("%s/%s:%d", project, mainStore, h.cfg.Shards),
		"--logstore", fmt.Sprintf("%s/%s:1", project, probeStore)}
	if h.wants(ScenarioSweep) {
		for _, n := range h.cfg.SweepShards {
			args = append(args, "--logstore", fmt.Sprintf("%s/%s:%d", project, sweepStore(n), n))
		}
	}
	if h.emulator, err = startDaemon(ctx, "emulator", h.slspipe, args, nil); err != nil {
		return err
	}
	h.progress("emulator listening on %s", h.emulator.addr)
	h.client = sls.CreateNormalInterface(h.emulator.addr, emulator.DefaultAccessKeyID, emulator.DefaultAccessKeySecret, "")
	h.client.SetHTTPClient(emulator.DialClient(h.emulator.addr))

	if h.natsd, err = startDaemon(ctx, "natsd", filepath.Join(h.tools, "natsd"),
		[]string{"-store", filepath.Join(h.work, "jetstream")}, nil); err != nil {
		return err
	}
	h.progress("NATS JetStream listening on %s", h.natsd.addr)
	nc, err := natsgo.Connect(h.natsd.addr, natsgo.Name("slspipe-bench/harness"))
	if err != nil {
		return fmt.Errorf("connect to natsd: %w", err)
	}
	h.nc = nc
	if h.js, err = jetstream.New(nc); err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}

	if err := h.preload(ctx, mainStore, h.cfg.Shards, h.cfg.Records); err != nil {
		return err
	}
	if h.wants(ScenarioSweep) {
		for _, n := range h.cfg.SweepShards {
			if err := h.preload(ctx, sweepStore(n), n, h.cfg.SweepRecords); err != nil {
				return err
			}
		}
	}
	// Every record was received before stopTime; slspipe stops each shard
	// there, so a run ends when it has read everything.
	stop := time.Now().Truncate(time.Second).Add(2 * time.Second)
	h.stopTime = stop.Unix()
	select {
	case <-time.After(time.Until(stop) + 100*time.Millisecond):
	case <-ctx.Done():
		return ctx.Err()
	}
	return h.resolveSource(ctx)
}

func sweepStore(shards int) string { return "sweep" + strconv.Itoa(shards) }

// buildTools builds the helper commands into the work directory.
func (h *harness) buildTools(ctx context.Context) error {
	h.tools = filepath.Join(h.work, "tools")
	h.progress("building natsd, libconsumer, jspub")
	cmd := exec.CommandContext(ctx, h.cfg.Go, "build", "-o", h.tools+string(filepath.Separator),
		"github.com/slspipe/slspipe/bench/cmd/natsd",
		"github.com/slspipe/slspipe/bench/cmd/libconsumer",
		"github.com/slspipe/slspipe/bench/cmd/jspub")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build helper commands: %v: %s", err, out)
	}
	return nil
}

// preload writes that many generated records into logstore, spread over its
// shards by the hash of a field, with four writers in parallel.
func (h *harness) preload(ctx context.Context, logstore string, shards int, records int64) error {
	began := time.Now()
	src, err := generate.New(generate.Config{
		Logstore: logstore, Shards: 4, Count: records, BatchSize: groupSize, Seed: 1,
		Template: generate.TemplateRandom, Fields: fieldsCount, RecordBytes: h.cfg.RecordBytes,
		Start: began,
	})
	if err != nil {
		return fmt.Errorf("preload %s: %w", logstore, err)
	}
	l := slsload.New(h.client, project, logstore, "f0")
	if err := l.Run(ctx, src); err != nil {
		return fmt.Errorf("preload %s: %w", logstore, err)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if l.Records() != records {
		return fmt.Errorf("preload %s: wrote %d of %d records", logstore, l.Records(), records)
	}
	el := time.Since(began)
	h.progress("preloaded %d records into %s (%d shards) in %s (%.0f records/s)",
		records, logstore, shards, el.Round(time.Millisecond), float64(records)/el.Seconds())
	return nil
}

// resolveSource decides what the slspipe scenarios read: it runs slspipe
// on the empty probe logstore, which ends at once when the build has an
// SLS source.
func (h *harness) resolveSource(ctx context.Context) error {
	h.source = h.cfg.Source
	if h.source == SourceGenerate {
		return nil
	}
	path, err := writePipeline(h.work, pipelineSpec{
		name: "probe", source: h.slsSource(probeStore), stateDir: h.work,
	})
	if err != nil {
		return err
	}
	m, err := runMeasured(ctx, time.Minute, h.slspipe, []string{"run", path}, h.slsEnv(), nil)
	if err != nil {
		return err
	}
	if f := m.failure(); f != nil {
		if strings.Contains(m.stderr, "not available in this build") {
			h.noSLS = "this slspipe build has no SLS source"
		} else {
			h.noSLS = "slspipe cannot read the emulator: " + f.Error()
		}
		h.progress("slspipe SLS source: %s", h.noSLS)
		if h.source == SourceAuto {
			h.source = SourceGenerate
			h.progress("slspipe scenarios use a generate source instead")
		}
		return nil
	}
	h.source = SourceSLS
	return nil
}

func (h *harness) slsSource(logstore string) sourceSpec {
	return sourceSpec{endpoint: "http://" + h.emulator.addr, project: project, logstore: logstore,
		stopTime: h.stopTime, maxPerFetch: h.cfg.MaxPerFetch}
}

// slsEnv holds the access keys of the emulator for slspipe's pipeline file.
func (h *harness) slsEnv() []string {
	return []string{"SLS_ACCESS_KEY_ID=" + emulator.DefaultAccessKeyID,
		"SLS_ACCESS_KEY_SECRET=" + emulator.DefaultAccessKeySecret}
}

func (h *harness) runScenarios(ctx context.Context) error {
	// The raw decode also counts the raw bytes every row's MB/s uses.
	h.progress("raw decode of %s", mainStore)
	maxPerFetch := h.cfg.MaxPerFetch
	if maxPerFetch == 0 {
		maxPerFetch = 100
	}
	raw, err := rawDecode(ctx, h.client, project, mainStore, maxPerFetch)
	if err != nil {
		return fmt.Errorf("raw decode: %w", err)
	}
	if raw.logs != h.cfg.Records {
		return fmt.Errorf("raw decode read %d logs, %d were preloaded", raw.logs, h.cfg.Records)
	}
	h.rawBytes = raw.bytes
	h.report.RecordBytes = int(raw.bytes / raw.logs)
	if h.wants(ScenarioRawDecode) {
		h.add(Row{Key: ScenarioRawDecode, Scenario: "raw decode limit: GetLogsBytesV2 + lz4 + protobuf scan (in-process)",
			Records: raw.logs, Bytes: raw.bytes, Duration: raw.wall, P50: -1, P99: -1, CPU: raw.cpu})
	}
	identity := filepath.Join(h.cfg.ModulesDir, "c_identity.wasm")
	steps := []struct {
		key string
		run func() Row
	}{
		{ScenarioLibrary, func() Row { return h.runLibrary(ctx) }},
		{ScenarioLibraryNoop, func() Row { return h.runLibraryNoop(ctx) }},
		{ScenarioJetStreamLimit, func() Row { return h.runJetStreamLimit(ctx) }},
		{ScenarioNoModule, func() Row {
			return h.runSlspipe(ctx, ScenarioNoModule, "slspipe, no module (built-ins) → JetStream", nil)
		}},
		{ScenarioDiscard, func() Row {
			return h.runSlspipe(ctx, ScenarioDiscard, "slspipe, no module (built-in deserializer) → discard", nil)
		}},
		{ScenarioIdentity, func() Row {
			const name = "slspipe, c_identity.wasm → JetStream"
			st, err := h.moduleSteps(identity)
			if err != nil {
				return Row{Key: ScenarioIdentity, Scenario: name, Unavailable: err.Error()}
			}
			return h.runSlspipe(ctx, ScenarioIdentity, name, st)
		}},
		{ScenarioChain, func() Row {
			name, st, err := h.chainSteps()
			if err != nil {
				return Row{Key: ScenarioChain, Scenario: "slspipe, example chain → JetStream", Unavailable: err.Error()}
			}
			return h.runSlspipe(ctx, ScenarioChain, name, st)
		}},
		{ScenarioQuery, func() Row {
			return h.runSlspipe(ctx, ScenarioQuery, "slspipe, query keeping ~10% (SLS filters) → discard", nil)
		}},
		{ScenarioFilterModule, func() Row {
			const name = "slspipe, c_prefix_filter.wasm keeping ~10% → discard"
			st, err := h.moduleSteps(filepath.Join(h.cfg.ModulesDir, "c_prefix_filter.wasm"))
			if err != nil {
				return Row{Key: ScenarioFilterModule, Scenario: name, Unavailable: err.Error()}
			}
			st[0].config = map[string]string{"field": "f0", "first": benchFilterFirst}
			return h.runSlspipe(ctx, ScenarioFilterModule, name, st)
		}},
	}
	runs := map[string][]Row{}
	for round := 1; round <= h.cfg.Rounds; round++ {
		if h.cfg.Rounds > 1 {
			h.progress("round %d of %d", round, h.cfg.Rounds)
		}
		for _, st := range steps {
			if !h.wants(st.key) {
				continue
			}
			row := st.run()
			if ctx.Err() != nil {
				return ctx.Err() // an interrupted run measures nothing
			}
			h.progressRow(row)
			runs[st.key] = append(runs[st.key], row)
		}
	}
	for _, st := range steps {
		if rows := runs[st.key]; len(rows) > 0 {
			h.report.Rows = append(h.report.Rows, medianRow(rows))
		}
	}
	if h.wants(ScenarioSweep) {
		for _, n := range h.cfg.SweepShards {
			row := h.runSweep(ctx, n)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			h.report.Sweep = append(h.report.Sweep, row)
		}
	}
	return ctx.Err()
}

func (h *harness) add(r Row) {
	h.progressRow(r)
	h.report.Rows = append(h.report.Rows, r)
}

func (h *harness) progressRow(r Row) {
	if r.Unavailable != "" {
		h.progress("%s: unavailable: %s", r.Scenario, r.Unavailable)
	} else {
		h.progress("%s: %d records in %s, %.0f records/s", r.Scenario, r.Records, r.Duration.Round(time.Millisecond), r.RecordsPerSecond())
	}
}

// medianRow returns the run of median throughput, whole (its latency, memory
// and CPU come from the same run), noting the spread when there were several.
// A run that did not happen counts as the slowest.
func medianRow(rows []Row) Row {
	if len(rows) == 1 {
		return rows[0]
	}
	sorted := slices.Clone(rows)
	slices.SortStableFunc(sorted, func(a, b Row) int { return cmp.Compare(a.RecordsPerSecond(), b.RecordsPerSecond()) })
	m := sorted[len(sorted)/2]
	spread := fmt.Sprintf("median of %d runs (%.1fk–%.1fk records/s)", len(rows),
		sorted[0].RecordsPerSecond()/1000, sorted[len(sorted)-1].RecordsPerSecond()/1000)
	m.Note = strings.TrimPrefix(m.Note+"; "+spread, "; ")
	return m
}

// moduleSteps returns one transform step per module path, checking that
// each exists.
func (h *harness) moduleSteps(paths ...string) ([]stepSpec, error) {
	var steps []stepSpec
	for i, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(abs); err != nil {
			return nil, fmt.Errorf("module %s missing (plugins/build.sh %s)", filepath.Base(p), h.cfg.ModulesDir)
		}
		steps = append(steps, stepSpec{name: fmt.Sprintf("m%d", i+1), role: "transform", module: abs, memoryLimit: h.cfg.ModuleMemory})
	}
	return steps, nil
}

// chainSteps returns the realistic example chain: pii-mask (C) masking
// every field, then custom-serializer (Go) writing logfmt lines; when
// those examples are not built, the identity module twice.
func (h *harness) chainSteps() (string, []stepSpec, error) {
	pii := filepath.Join(h.cfg.ModulesDir, "c_pii_mask.wasm")
	ser := filepath.Join(h.cfg.ModulesDir, "go_custom_serializer.wasm")
	if steps, err := h.moduleSteps(pii, ser); err == nil {
		steps[0].name = "mask"
		steps[1].name, steps[1].role = "encode", "serialize"
		steps[1].config = map[string]string{"format": "logfmt"}
		return "slspipe, example chain pii-mask (C) → custom-serializer logfmt (Go) → JetStream", steps, nil
	}
	identity := filepath.Join(h.cfg.ModulesDir, "c_identity.wasm")
	steps, err := h.moduleSteps(identity, identity)
	return "slspipe, c_identity.wasm twice (examples not built) → JetStream", steps, err
}

// jsRun is a scenario process publishing into its own fresh stream.
type jsRun struct {
	m        measured
	msgs     uint64
	lastTime time.Time
}

// duration is the time from the process start to the last message stored.
func (r jsRun) duration() time.Duration { return r.lastTime.Sub(r.m.started) }

// withStream creates a stream capturing subject, runs fn, reads how many
// messages the stream holds and when the last arrived, and deletes it.
func (h *harness) withStream(ctx context.Context, key string, fn func(subject, stream string) (measured, error)) (jsRun, error) {
	name := "BENCH_" + strings.ToUpper(strings.ReplaceAll(key, "-", "_"))
	subject := "bench." + key
	s, err := h.js.CreateStream(ctx, jetstream.StreamConfig{
		Name: name, Subjects: []string{subject}, Storage: jetstream.FileStorage, Duplicates: 2 * time.Minute,
	})
	if err != nil {
		return jsRun{}, fmt.Errorf("create stream %s: %w", name, err)
	}
	defer func() { _ = h.js.DeleteStream(context.WithoutCancel(ctx), name) }()
	m, err := fn(subject, name)
	if err != nil {
		return jsRun{m: m}, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return jsRun{m: m}, fmt.Errorf("stream %s info: %w", name, err)
	}
	return jsRun{m: m, msgs: info.State.Msgs, lastTime: info.State.LastTime}, nil
}

// jsRow turns a JetStream scenario run into a row.
func (h *harness) jsRow(key, scenario string, r jsRun, err error, records int64) Row {
	row := Row{Key: key, Scenario: scenario, Records: records, Bytes: h.bytesOf(records), P50: -1, P99: -1}
	if err == nil {
		err = r.m.failure()
	}
	if err != nil {
		row.Unavailable = "failed: " + err.Error()
		return row
	}
	if r.msgs == 0 {
		row.Unavailable = "nothing reached the stream"
		return row
	}
	if int64(r.msgs) != records {
		row.Note = fmt.Sprintf("stream holds %d messages", r.msgs)
	}
	row.Duration, row.PeakRSS, row.CPU = r.duration(), r.m.peakRSS, r.m.cpu
	return row
}

func (h *harness) bytesOf(records int64) int64 {
	if h.cfg.Records == 0 {
		return 0
	}
	return int64(float64(h.rawBytes) / float64(h.cfg.Records) * float64(records))
}

// percentiles is what libconsumer and jspub print.
type percentiles struct {
	Records int64 `json:"records"`
	// DoneUnixNano is when libconsumer's count reached -expect.
	DoneUnixNano int64   `json:"done_unix_nano"`
	P50MS        float64 `json:"p50_ms"`
	P99MS        float64 `json:"p99_ms"`
}

func parsePercentiles(stdout string) (percentiles, bool) {
	var p percentiles
	err := json.Unmarshal([]byte(strings.TrimSpace(stdout)), &p)
	return p, err == nil
}

func (row *Row) setPercentiles(stdout string) {
	if p, ok := parsePercentiles(stdout); ok && p.Records > 0 {
		row.P50 = time.Duration(p.P50MS * float64(time.Millisecond))
		row.P99 = time.Duration(p.P99MS * float64(time.Millisecond))
	}
}

func (h *harness) runLibrary(ctx context.Context) Row {
	const scenario = "official consumer library → JetStream, commit after acks (own process)"
	h.progress("running %s", scenario)
	r, err := h.withStream(ctx, ScenarioLibrary, func(subject, _ string) (measured, error) {
		return runMeasured(ctx, h.cfg.Timeout, filepath.Join(h.tools, "libconsumer"), []string{
			"-endpoint", h.emulator.addr, "-project", project, "-logstore", mainStore,
			"-group", fmt.Sprintf("libconsumer-%d", time.Now().UnixNano()),
			"-sink", "nats", "-nats", h.natsd.addr, "-subject", subject, "-expect", strconv.FormatInt(h.cfg.Records, 10),
			"-timeout", h.cfg.Timeout.String(),
		}, nil, nil)
	})
	row := h.jsRow(ScenarioLibrary, scenario, r, err, h.cfg.Records)
	row.setPercentiles(r.m.stdout)
	return row
}

// runLibraryNoop runs the consumer library with a processor that only
// counts the logs and commits: the library's own cost, for the source
// benchmark. Its time ends when the count reaches the preloaded records,
// before the library's shutdown, as the JetStream rows' ends at the last
// stored message.
func (h *harness) runLibraryNoop(ctx context.Context) Row {
	const scenario = "official consumer library, no-op processor (count + commit) (own process)"
	h.progress("running %s", scenario)
	row := Row{Key: ScenarioLibraryNoop, Scenario: scenario, Records: h.cfg.Records, Bytes: h.bytesOf(h.cfg.Records), P50: -1, P99: -1}
	m, err := runMeasured(ctx, h.cfg.Timeout, filepath.Join(h.tools, "libconsumer"), []string{
		"-endpoint", h.emulator.addr, "-project", project, "-logstore", mainStore,
		"-group", fmt.Sprintf("libconsumer-noop-%d", time.Now().UnixNano()),
		"-sink", "none", "-expect", strconv.FormatInt(h.cfg.Records, 10),
		"-timeout", h.cfg.Timeout.String(),
	}, nil, nil)
	if err == nil {
		err = m.failure()
	}
	p, ok := parsePercentiles(m.stdout)
	switch {
	case err != nil:
	case !ok || p.DoneUnixNano == 0:
		err = fmt.Errorf("no result line: %q", lastLines(m.stdout, 2))
	case p.Records < h.cfg.Records:
		err = fmt.Errorf("processed %d of %d logs", p.Records, h.cfg.Records)
	}
	if err != nil {
		row.Unavailable = "failed: " + err.Error()
		return row
	}
	if p.Records != h.cfg.Records {
		row.Note = fmt.Sprintf("processed %d logs", p.Records)
	}
	row.Duration = time.Unix(0, p.DoneUnixNano).Sub(m.started)
	row.PeakRSS, row.CPU = m.peakRSS, m.cpu
	row.setPercentiles(m.stdout)
	return row
}

func (h *harness) runJetStreamLimit(ctx context.Context) Row {
	const scenario = "JetStream publish limit: async publish + Msg-Id, window 4096 (own process)"
	h.progress("running %s", scenario)
	// The messages are about the size of slspipe's JSON for a record.
	size := int(h.bytesOf(1)) + fieldsCount*6 + 2
	r, err := h.withStream(ctx, ScenarioJetStreamLimit, func(subject, _ string) (measured, error) {
		return runMeasured(ctx, h.cfg.Timeout, filepath.Join(h.tools, "jspub"), []string{
			"-nats", h.natsd.addr, "-subject", subject, "-count", strconv.FormatInt(h.cfg.Records, 10),
			"-size", strconv.Itoa(size), "-window", "4096", "-timeout", h.cfg.Timeout.String(),
		}, nil, nil)
	})
	row := h.jsRow(ScenarioJetStreamLimit, scenario, r, err, h.cfg.Records)
	row.setPercentiles(r.m.stdout)
	return row
}

// runSlspipe runs one slspipe process over the main logstore: into a fresh
// stream, or into the discard sink for ScenarioDiscard, whose time is the
// process's whole run (stop_time ends it once everything was read).
func (h *harness) runSlspipe(ctx context.Context, key, scenario string, steps []stepSpec) Row {
	src := h.slsSource(mainStore)
	if key == ScenarioQuery {
		src.query = benchQuery
	}
	switch h.source {
	case SourceSLS:
	case SourceGenerate:
		if key == ScenarioQuery {
			return Row{Key: key, Scenario: scenario, Unavailable: "needs the SLS source"}
		}
		src = sourceSpec{generate: true, shards: h.cfg.Shards, count: h.cfg.Records, recordBytes: h.cfg.RecordBytes}
	default:
		return Row{Key: key, Scenario: scenario, Unavailable: h.noSLS}
	}
	h.progress("running %s", scenario)
	var scraper *metricsScraper
	run := func(sink sinkSpec) (measured, error) {
		metricsAddr, err := freeAddr()
		if err != nil {
			return measured{}, err
		}
		// A fresh checkpoint per run: a later round must not resume from an earlier one.
		stateDir, err := os.MkdirTemp(h.work, key+"-state-")
		if err != nil {
			return measured{}, err
		}
		path, err := writePipeline(h.work, pipelineSpec{
			name: key, source: src, steps: steps, stateDir: stateDir, metricsAddr: metricsAddr, sink: sink,
			pprof: h.cfg.ProfileDir != "",
		})
		if err != nil {
			return measured{}, err
		}
		scraper = &metricsScraper{url: "http://" + metricsAddr + "/metrics"}
		return runMeasured(ctx, h.cfg.Timeout, h.slspipe, []string{"run", path}, h.slsEnv(),
			func(ctx context.Context, _ int) {
				var wg sync.WaitGroup
				if h.cfg.ProfileDir != "" {
					wg.Go(func() { h.profile(ctx, metricsAddr, key) })
				}
				if h.cfg.StatusPoll > 0 {
					wg.Go(func() { pollStatus(ctx, "http://"+metricsAddr+"/api/status", h.cfg.StatusPoll) })
				}
				scraper.run(ctx, 100*time.Millisecond)
				wg.Wait()
			})
	}
	var row Row
	if discards(key) {
		m, err := run(sinkSpec{})
		row = h.discardRow(key, scenario, m, err, h.cfg.Records)
	} else {
		r, err := h.withStream(ctx, key, func(subject, stream string) (measured, error) {
			return run(sinkSpec{natsURL: h.natsd.addr, subject: subject, stream: stream})
		})
		row = h.jsRow(key, scenario, r, err, h.cfg.Records)
	}
	if h.source == SourceGenerate {
		row.Note = strings.TrimPrefix(row.Note+"; generate source, not SLS", "; ")
	}
	if scraper != nil && (key == ScenarioQuery || key == ScenarioFilterModule) && row.Unavailable == "" {
		// What the source pulled and what reached the sink, per source log
		// read, from the last scrape before the process exited (a ratio of
		// counters of one scrape, so a scrape before the end still gives it).
		body := scraper.body()
		read := counterSum(body, pulledLogsMetric)
		if key == ScenarioQuery {
			read = counterSum(body, queryReadMetric)
		}
		if read > 0 {
			pulled, kept := counterSum(body, pulledBytesMetric), counterSum(body, sinkRecordsMetric)
			row.Note = strings.TrimPrefix(fmt.Sprintf("%s; pulled %.1f MB per M source logs, %.1f%% of the logs reached the sink",
				row.Note, pulled/read, 100*kept/read), "; ")
		}
	}
	if scraper != nil {
		b := histogramBuckets(scraper.body(), batchLatencyMetric)
		if p50, p99 := histogramQuantile(0.5, b), histogramQuantile(0.99, b); !math.IsNaN(p50) {
			row.P50 = time.Duration(p50 * float64(time.Second))
			row.P99 = time.Duration(p99 * float64(time.Second))
		}
	}
	return row
}

// discardRow turns a run into the discard sink into a row timed from the
// process start to its exit.
func (h *harness) discardRow(key, scenario string, m measured, err error, records int64) Row {
	row := Row{Key: key, Scenario: scenario, Records: records, Bytes: h.bytesOf(records), P50: -1, P99: -1}
	if err == nil {
		err = m.failure()
	}
	if err != nil {
		row.Unavailable = "failed: " + err.Error()
		return row
	}
	row.Duration, row.PeakRSS, row.CPU = m.wall, m.peakRSS, m.cpu
	return row
}

// runSweep runs slspipe without modules over a sweep logstore.
func (h *harness) runSweep(ctx context.Context, shards int) SweepRow {
	row := SweepRow{Shards: shards, Records: h.cfg.SweepRecords, Bytes: h.bytesOf(h.cfg.SweepRecords)}
	src := h.slsSource(sweepStore(shards))
	switch h.source {
	case SourceSLS:
	case SourceGenerate:
		src = sourceSpec{generate: true, shards: shards, count: h.cfg.SweepRecords, recordBytes: h.cfg.RecordBytes}
	default:
		row.Unavailable = h.noSLS
		return row
	}
	h.progress("running shard sweep, %d shards", shards)
	key := fmt.Sprintf("sweep-%d", shards)
	run := func(sink sinkSpec) (measured, error) {
		path, err := writePipeline(h.work, pipelineSpec{name: key, source: src, stateDir: h.work, sink: sink})
		if err != nil {
			return measured{}, err
		}
		return runMeasured(ctx, h.cfg.Timeout, h.slspipe, []string{"run", path}, h.slsEnv(), nil)
	}
	var m measured
	var err error
	if h.cfg.SweepSink == "nats" {
		var r jsRun
		r, err = h.withStream(ctx, key, func(subject, stream string) (measured, error) {
			return run(sinkSpec{natsURL: h.natsd.addr, subject: subject, stream: stream})
		})
		m = r.m
		m.wall = r.duration()
		if err == nil && int64(r.msgs) != h.cfg.SweepRecords {
			err = fmt.Errorf("the stream holds %d of %d records", r.msgs, h.cfg.SweepRecords)
		}
	} else {
		m, err = run(sinkSpec{})
	}
	if err == nil {
		err = m.failure()
	}
	if err != nil {
		row.Unavailable = "failed: " + err.Error()
		return row
	}
	row.Duration, row.PeakRSS, row.CPU = m.wall, m.peakRSS, m.cpu
	h.progress("shard sweep, %d shards: %.0f records/s", shards, float64(row.Records)/row.Duration.Seconds())
	return row
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("pick a metrics port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func (h *harness) notes() []string {
	notes := []string{
		"records/s: source records over the time from the process start to the last message stored in the scenario's own JetStream stream (file storage, 2 min duplicate window); startup is included, shutdown is not. Raw decode: its own wall time. Library, no-op: process start to the moment its count reached the preloaded records (shutdown not included). slspipe → discard: process start to exit (startup and shutdown included; stop_time ends the run once everything was read).",
		"Source benchmark (library-noop, slspipe-discard): the same SLS source settings as the JetStream rows, nothing published; their × library is over the no-op library row and they have no JetStream limit.",
		"MB/s: raw bytes of the records (field keys and values as stored in SLS), not wire or JSON bytes.",
		"p50/p99: slspipe: slspipe_batch_latency_seconds from /metrics (a pulled batch's emission to its last sink confirmation), interpolated within histogram buckets, last scrape before exit; library: a Process call's start to its last acknowledgement (then it commits), no-op library: a Process call's start to its commit; JetStream limit: one message's publish to its acknowledgement. A backlog is being drained, so the time since the records were written is not meaningful.",
		"peak RSS and CPU: the process under test alone (rusage of the child: VmHWM, utime+stime; when its ru_maxrss is no more than the harness's own peak, which the kernel copies into a child started with CLONE_VM, the child's VmHWM sampled every 50 ms). The emulator and the NATS server run as their own processes and are not counted. Raw decode runs inside the harness: CPU is the harness's, RSS is not separated.",
	}
	if len(h.report.Sweep) > 0 {
		notes = append(notes, fmt.Sprintf("Sweep: %d records per shard count, slspipe without modules → %s; its time is the process's whole run (start to exit, including startup and shutdown), so small counts understate it.", h.cfg.SweepRecords, h.cfg.SweepSink))
	}
	if h.cfg.StatusPoll > 0 {
		notes = append(notes, fmt.Sprintf("Every slspipe run had its /api/status polled every %s, as an open status page polls it.", h.cfg.StatusPoll))
	}
	if h.source == SourceGenerate {
		notes = append(notes, "slspipe read a generate source (records made inside slspipe), not SLS: its rows are not comparable with the baselines.")
	}
	return notes
}
