package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/slspipe/slspipe/builtin"
	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/internal/recordjson"
	"github.com/slspipe/slspipe/spl"
	"github.com/slspipe/slspipe/wasmhost"
)

// defaultTestNow is the default pinned clock of `slspipe test`, so that expected files
// stay valid whatever day they are checked.
const defaultTestNow = "2025-01-01T00:00:00Z"

// maxDefaultRoutes is how many sink routes a module may select under `slspipe test`
// when --routes is not given; each is then named by its number.
const maxDefaultRoutes = 255

// testOptions are the flags of `slspipe test`.
type testOptions struct {
	module   string
	role     string
	config   []string
	input    string
	expected string
	now      string
	routes   []string
}

// newTestCmd returns `slspipe test`, which runs one module, or a pipeline's steps, on
// sample records and compares the outputs with an expected file.
func newTestCmd() *cobra.Command {
	var o testOptions
	cmd := &cobra.Command{
		Use:   "test [pipeline.yaml] --input records.jsonl [--expected outputs.jsonl]",
		Short: "Run a module or a pipeline's steps on sample records, with no SLS or NATS",
		Long: `test runs one WebAssembly module (--module) or every step of a pipeline file
on sample records and prints the outputs as JSON lines, one per output. With
--expected it compares them instead, prints a unified diff when they differ
and exits with status 1.

Input and output lines are JSON objects. The keys __time__ and __time_ns__ (the
record time), __topic__, __source__ and __tag__:<key> (the log group's tags) are
record attributes; every other key is a field, in order. Non-string values are
taken as their JSON text. In the output, a record a module routes carries
"__route__" (the route's name from --routes, else its number), a serializer's
output carries "_payload" (embedded when it is a JSON object), "_subject" and
"_hash_key", and a rejected record is printed as
{"__error__": "...", "__input__": N} where N is its line in the input file.

With a pipeline file whose source has query (rule-based consumption), the SPL
statement runs on the records first, as SLS runs it on the pull: only what it
keeps, as it reshapes it, reaches the steps, and a record it fails on is
printed as an error of step "source.sls.query".

The modules' clock is pinned (--now) so that outputs are reproducible.

Examples:
  slspipe test --module nginx.wasm --input in.jsonl --expected out.jsonl
  slspipe test --module router.wasm --config routes=error,audit --routes errors,audit --input in.jsonl
  slspipe test pipeline.yaml --input in.jsonl`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pipeline := ""
			if len(args) == 1 {
				pipeline = args[0]
			}
			return runTest(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr(), pipeline, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.module, "module", "", "path of the .wasm module to run (instead of a pipeline file)")
	f.StringVar(&o.role, "role", config.RoleTransform, "role of --module: deserialize, transform or serialize")
	f.StringArrayVar(&o.config, "config", nil, "module configuration as key=value (repeatable)")
	f.StringVar(&o.input, "input", "", `sample records, one JSON object per line ("-" for standard input)`)
	f.StringVar(&o.expected, "expected", "", "expected outputs, one JSON object per line; compare instead of printing")
	f.StringVar(&o.now, "now", defaultTestNow, "time the modules' clock reports (RFC 3339), also the time of records without __time__")
	f.StringSliceVar(&o.routes, "routes", nil, "names of the sink routes 1, 2, … a module may select (default: their numbers)")
	_ = cmd.MarkFlagRequired("input")
	return cmd
}

// testStep is one stage under test: its name and its factory (nil for a built-in that
// does no work).
type testStep struct {
	name    string
	factory engine.StageFactory
}

// runTest loads the stages, runs them over the input and prints or compares the outputs.
func runTest(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer, pipeline string, o testOptions) error {
	if (pipeline == "") == (o.module == "") {
		return errors.New("test: give either a pipeline file or --module")
	}
	now, err := time.Parse(time.RFC3339Nano, o.now)
	if err != nil {
		return fmt.Errorf("test: --now: %w", err)
	}
	recs, lines, err := readTestInput(stdin, o.input, now)
	if err != nil {
		return err
	}
	routes := o.routes
	if len(routes) == 0 {
		routes = make([]string, maxDefaultRoutes)
		for i := range routes {
			routes[i] = strconv.Itoa(i + 1)
		}
	}
	loader := &moduleLoader{
		logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{
			ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
				if len(groups) == 0 && a.Key == slog.TimeKey {
					return slog.Attr{} // guest logs go to stderr without a timestamp
				}
				return a
			},
		})),
		clock: func() time.Time { return now },
	}
	defer loader.close(ctx)

	var steps []config.Step
	var queryFailed []testItem
	if pipeline != "" {
		p, err := config.Load(pipeline)
		var errs *config.Errors
		switch {
		case errors.As(err, &errs):
			return reportProblems(stderr, pipeline, errs.List)
		case err != nil:
			return err
		}
		steps = p.Stages()
		if src := p.Source.SLS; src != nil && src.Query != "" {
			// The records stand for the logstore's logs: SLS runs the
			// statement on them before anything reaches the steps.
			prog, err := spl.Parse(src.Query)
			if err != nil {
				return fmt.Errorf("test: source.sls.query: %w", err)
			}
			recs, lines, queryFailed = applyQuery(prog, recs, lines, true)
		}
	} else {
		step, err := moduleStep(o)
		if err != nil {
			return err
		}
		steps = []config.Step{step}
	}
	stages, closeAll, err := openTestSteps(ctx, loader, steps, routes)
	defer closeAll()
	if err != nil {
		return err
	}
	items, err := runTestSteps(ctx, stages, recs, lines, pipeline != "")
	if err != nil {
		return err
	}
	if len(queryFailed) > 0 {
		items = append(items, queryFailed...)
		sort.SliceStable(items, func(i, j int) bool { return items[i].input < items[j].input })
	}
	actual := make([]string, len(items))
	for i, it := range items {
		actual[i] = it.line
	}
	if o.expected == "" {
		w := bufio.NewWriter(stdout)
		for _, l := range actual {
			w.WriteString(l)
			w.WriteByte('\n')
		}
		return w.Flush()
	}
	return compareExpected(stdout, o.expected, actual)
}

// moduleStep describes --module as a pipeline step with default limits.
func moduleStep(o testOptions) (config.Step, error) {
	switch o.role {
	case config.RoleDeserialize, config.RoleTransform, config.RoleSerialize:
	default:
		return config.Step{}, fmt.Errorf("test: --role %q: want deserialize, transform or serialize", o.role)
	}
	cfg := map[string]string{}
	for _, kv := range o.config {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return config.Step{}, fmt.Errorf("test: --config %q: want key=value", kv)
		}
		cfg[k] = v
	}
	name := strings.TrimSuffix(filepath.Base(o.module), ".wasm")
	return config.Step{Name: name, Role: o.role, Module: o.module, Config: cfg, Instances: 1}, nil
}

// openTestSteps builds every step. The returned function closes what was opened, also
// after an error.
func openTestSteps(ctx context.Context, loader *moduleLoader, steps []config.Step, routes []string) ([]testStep, func(), error) {
	var modules []*wasmhost.Module
	closeAll := func() {
		for _, m := range modules {
			_ = m.Close(context.Background())
		}
	}
	out := make([]testStep, 0, len(steps))
	for _, step := range steps {
		if step.Builtin != "" {
			f, err := builtin.New(step.Role, step.Builtin, step.Name, step.Config)
			if err != nil {
				return nil, closeAll, fmt.Errorf("step %s: %w", step.Name, err)
			}
			out = append(out, testStep{name: step.Name, factory: f})
			continue
		}
		step.Instances = 1 // one batch at a time
		m, err := loader.open(ctx, step)
		if err != nil {
			return nil, closeAll, fmt.Errorf("module %s: %w", step.Module, err)
		}
		modules = append(modules, m)
		out = append(out, testStep{name: step.Name, factory: wasmhost.NewStageFactory(m, routes)})
	}
	return out, closeAll, nil
}

// testItem is one line of the result: an output record or a rejected input.
type testItem struct {
	rec   engine.Record
	input int // line of the input record it derives from
	line  string
}

// runTestSteps passes the records through every stage in order, as one batch per stage,
// and formats the outputs. A rejected record stops at the stage that rejected it.
func runTestSteps(ctx context.Context, steps []testStep, recs []engine.Record, lines []int, named bool) ([]testItem, error) {
	cur := make([]testItem, len(recs))
	for i := range recs {
		cur[i] = testItem{rec: recs[i], input: lines[i]}
	}
	for _, st := range steps {
		if st.factory == nil {
			continue
		}
		var pending []engine.Record
		var from []int
		for i := range cur {
			if cur[i].line == "" {
				pending = append(pending, cur[i].rec)
				from = append(from, i)
			}
		}
		if len(pending) == 0 {
			break
		}
		stage, err := st.factory.NewStage(ctx)
		if err != nil {
			return nil, fmt.Errorf("step %s: %w", st.name, err)
		}
		var res engine.Results
		err = stage.Process(ctx, pending, &res)
		_ = stage.Close(ctx)
		if err != nil {
			return nil, fmt.Errorf("step %s failed the whole batch: %w", st.name, err)
		}
		if len(res.Outcomes) != len(pending) {
			return nil, fmt.Errorf("step %s: %d outcomes for %d records", st.name, len(res.Outcomes), len(pending))
		}
		next := make([]testItem, 0, len(cur))
		at, outAt := 0, 0
		for i := range cur {
			if cur[i].line != "" {
				next = append(next, cur[i])
				continue
			}
			oc := res.Outcomes[at]
			at++
			if oc.Err != nil {
				next = append(next, testItem{input: cur[i].input, line: formatTestError(oc.Err, cur[i].input, st.name, named)})
				continue
			}
			for _, r := range res.Records[outAt : outAt+oc.Outputs] {
				next = append(next, testItem{rec: r, input: cur[i].input})
			}
			outAt += oc.Outputs
		}
		cur = next
	}
	for i := range cur {
		if cur[i].line == "" {
			cur[i].line = formatTestRecord(&cur[i].rec)
		}
	}
	return cur, nil
}

// readTestInput reads JSON-lines records from path ("-" is stdin) and returns them with
// the line each came from. Blank lines are skipped.
func readTestInput(stdin io.Reader, path string, now time.Time) ([]engine.Record, []int, error) {
	var r io.Reader = stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, nil, fmt.Errorf("test: input: %w", err)
		}
		defer f.Close()
		r = f
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	var recs []engine.Record
	var lines []int
	for n := 1; sc.Scan(); n++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		rec, err := parseTestRecord(text, now)
		if err != nil {
			return nil, nil, fmt.Errorf("test: %s:%d: %w", path, n, err)
		}
		recs = append(recs, rec)
		lines = append(lines, n)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("test: read %s: %w", path, err)
	}
	return recs, lines, nil
}

// parseTestRecord decodes one JSON object into a record (recordjson.Parse:
// the reserved keys the stdout sink writes become the record's attributes).
func parseTestRecord(line []byte, now time.Time) (engine.Record, error) {
	rec := engine.Record{Time: engine.TimestampOf(now)}
	if err := recordjson.Parse(&rec, line); err != nil {
		return rec, fmt.Errorf("want one JSON object per line: %w", err)
	}
	return rec, nil
}

// formatTestRecord prints r as the stdout sink's JSON object, followed by its route and
// what a serializer produced.
func formatTestRecord(r *engine.Record) string {
	payload := r.Payload
	b := builtin.AppendJSON(nil, r)
	b = b[:len(b)-1] // reopen the object
	if r.Route != "" {
		b = append(b, `,"__route__":`...)
		b = appendTestString(b, r.Route)
	}
	if r.Subject != "" {
		b = append(b, `,"_subject":`...)
		b = appendTestString(b, r.Subject)
	}
	if r.HashKey != "" {
		b = append(b, `,"_hash_key":`...)
		b = appendTestString(b, r.HashKey)
	}
	if payload != nil {
		b = append(b, `,"_payload":`...)
		trimmed := bytes.TrimSpace(payload)
		if len(trimmed) > 0 && trimmed[0] == '{' && json.Valid(trimmed) {
			var c bytes.Buffer
			_ = json.Compact(&c, trimmed)
			b = append(b, c.Bytes()...)
		} else {
			b = appendTestString(b, string(payload))
		}
	}
	return string(append(b, '}'))
}

// formatTestError prints a rejected record; in a pipeline it names the step.
func formatTestError(err error, input int, step string, named bool) string {
	b := []byte(`{"__error__":`)
	b = appendTestString(b, err.Error())
	b = append(b, `,"__input__":`...)
	b = strconv.AppendInt(b, int64(input), 10)
	if named {
		b = append(b, `,"__step__":`...)
		b = appendTestString(b, step)
	}
	return string(append(b, '}'))
}

// appendTestString appends s as a JSON string, escaped as the stdout sink
// escapes.
func appendTestString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = recordjson.AppendEscaped(dst, s)
	return append(dst, '"')
}

// errOutputDiffers is returned when the outputs do not match the expected file.
var errOutputDiffers = errors.New("outputs differ from the expected file")

// compareExpected compares actual with the expected file, line by line after compacting
// each JSON line, and prints a unified diff to w when they differ.
func compareExpected(w io.Writer, path string, actual []string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("test: expected: %w", err)
	}
	var expected []string
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		var c bytes.Buffer
		if json.Compact(&c, []byte(l)) == nil {
			l = c.String()
		}
		expected = append(expected, l)
	}
	hunks := unifiedDiff(expected, actual, 3)
	if len(hunks) == 0 {
		fmt.Fprintf(w, "ok: %d outputs match %s\n", len(actual), path)
		return nil
	}
	fmt.Fprintf(w, "--- %s (expected)\n+++ actual\n", path)
	for _, h := range hunks {
		io.WriteString(w, h)
	}
	return fmt.Errorf("%w: %s", errOutputDiffers, path)
}

// unifiedDiff returns the hunks of a unified diff turning a into b, with ctx lines of
// context around each change, or nil when they are equal.
func unifiedDiff(a, b []string, ctx int) []string {
	type op struct {
		kind byte // ' ', '-' or '+'
		text string
	}
	// Longest common subsequence by dynamic programming: sample files are small.
	n, m := len(a), len(b)
	lcs := make([][]int32, n+1)
	for i := range lcs {
		lcs[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var ops []op
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			ops = append(ops, op{' ', a[i]})
			i++
			j++
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			ops = append(ops, op{'-', a[i]})
			i++
		default:
			ops = append(ops, op{'+', b[j]})
			j++
		}
	}
	var hunks []string
	for k := 0; k < len(ops); {
		if ops[k].kind == ' ' {
			k++
			continue
		}
		// A hunk spans changes separated by at most 2*ctx unchanged lines.
		start := max(k-ctx, 0)
		end := k
		for end < len(ops) {
			if ops[end].kind != ' ' {
				end++
				continue
			}
			run := end
			for run < len(ops) && ops[run].kind == ' ' {
				run++
			}
			if run == len(ops) || run-end > 2*ctx {
				end = min(end+ctx, len(ops))
				break
			}
			end = run
		}
		aStart, bStart := 1, 1
		for _, o := range ops[:start] {
			if o.kind != '+' {
				aStart++
			}
			if o.kind != '-' {
				bStart++
			}
		}
		var body strings.Builder
		aLen, bLen := 0, 0
		for _, o := range ops[start:end] {
			if o.kind != '+' {
				aLen++
			}
			if o.kind != '-' {
				bLen++
			}
			body.WriteByte(o.kind)
			body.WriteString(o.text)
			body.WriteByte('\n')
		}
		hunks = append(hunks, fmt.Sprintf("@@ -%s +%s @@\n%s", hunkRange(aStart, aLen), hunkRange(bStart, bLen), body.String()))
		k = end
	}
	return hunks
}

// hunkRange formats a unified diff range; an empty range names the line before it.
func hunkRange(start, n int) string {
	if n == 0 {
		return strconv.Itoa(start-1) + ",0"
	}
	if n == 1 {
		return strconv.Itoa(start)
	}
	return strconv.Itoa(start) + "," + strconv.Itoa(n)
}
