package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Guest modules for the `slspipe test` tests, built from plugins/ sources by
// plugins/build.sh the first time a test asks for one, removed by TestMain.
var (
	guestOnce sync.Once
	guestDir  string
	guestErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if guestDir != "" {
		os.RemoveAll(guestDir)
	}
	os.Exit(code)
}

// guestModule returns the built module name (plugins/build.sh naming), skipping the test
// when its toolchain is missing, or failing under CI.
func guestModule(t *testing.T, name string) string {
	t.Helper()
	guestOnce.Do(func() {
		if guestDir, guestErr = os.MkdirTemp("", "slspipe-test-modules-"); guestErr != nil {
			return
		}
		out, err := exec.Command("../../plugins/build.sh", guestDir).CombinedOutput()
		if err != nil {
			guestErr = fmt.Errorf("%v\n%s", err, out)
		}
	})
	if guestErr != nil {
		t.Fatalf("building guest modules: %v", guestErr)
	}
	p := filepath.Join(guestDir, name+".wasm")
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("module %s was not built: %v", name, err)
		}
		t.Skipf("module %s not built (toolchain missing; run scripts/setup-wasm.sh)", name)
	}
	return p
}

// runTestCmd runs `slspipe test args...` in-process with an isolated compilation cache.
func runTestCmd(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	t.Setenv("SLSPIPE_CACHE_DIR", filepath.Join(os.TempDir(), "slspipe-test-cmd-cache"))
	cmd := newTestCmd()
	var out, errOut bytes.Buffer
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	err = cmd.Execute()
	return out.String(), errOut.String(), err
}

// examples lists plugins/examples/: the built module and how each example is run.
var examples = []struct {
	dir, module string
	args        []string
}{
	{"json-deserializer", "go_json_deserializer", []string{"--role", "deserialize"}},
	{"nginx-parser", "rust_nginx_parser", []string{"--role", "deserialize"}},
	{"filter-enrich", "rust_filter_enrich", []string{"--config", "min_status=400", "--config", "service=checkout"}},
	{"pii-mask", "c_pii_mask", nil},
	{"fanout-router", "as_fanout_router", []string{"--config", "routes=error,audit", "--routes", "alerts,audit"}},
	{"custom-serializer", "go_custom_serializer", []string{"--role", "serialize", "--config", "fields=host,status,path", "--config", "subject_field=host"}},
}

// TestExamplesMatchExpected runs every example module on its input.jsonl and requires
// the outputs to be exactly its expected.jsonl.
func TestExamplesMatchExpected(t *testing.T) {
	for _, ex := range examples {
		t.Run(ex.dir, func(t *testing.T) {
			dir := filepath.Join("..", "..", "plugins", "examples", ex.dir)
			args := append([]string{"--module", guestModule(t, ex.module),
				"--input", filepath.Join(dir, "input.jsonl"), "--expected", filepath.Join(dir, "expected.jsonl")}, ex.args...)
			stdout, stderr, err := runTestCmd(t, "", args...)
			if err != nil {
				t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
			}
			if !strings.HasPrefix(stdout, "ok: ") {
				t.Fatalf("stdout = %q, want the match summary", stdout)
			}
		})
	}
}

// TestTestPipelineRunsEveryStep runs the examples chained in a pipeline file: built-in
// and module steps in order, a record rejected by the first step reported with the step.
func TestTestPipelineRunsEveryStep(t *testing.T) {
	guestModule(t, "go_custom_serializer") // builds every module into guestDir
	for _, m := range []string{"rust_nginx_parser", "rust_filter_enrich", "c_pii_mask"} {
		guestModule(t, m)
	}
	t.Setenv("SLSPIPE_EXAMPLE_MODULES", guestDir)
	dir := filepath.Join("..", "..", "plugins", "examples", "pipeline")
	stdout, stderr, err := runTestCmd(t, "", filepath.Join(dir, "pipeline.yaml"),
		"--input", filepath.Join(dir, "input.jsonl"), "--expected", filepath.Join(dir, "expected.jsonl"))
	if err != nil {
		t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
}

// TestTestMismatchPrintsDiff shows that an output differing from the expected file is
// printed as a unified diff and fails the command.
func TestTestMismatchPrintsDiff(t *testing.T) {
	mod := guestModule(t, "rust_filter_enrich")
	src := filepath.Join("..", "..", "plugins", "examples", "filter-enrich")
	want, err := os.ReadFile(filepath.Join(src, "expected.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	// The service is configured differently, and one expected line is missing.
	lines := strings.SplitAfter(string(want), "\n")
	edited := filepath.Join(t.TempDir(), "expected.jsonl")
	if err := os.WriteFile(edited, []byte(lines[0]+lines[2]+lines[3]+lines[4]), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, _, err := runTestCmd(t, "", "--module", mod, "--input", filepath.Join(src, "input.jsonl"),
		"--expected", edited, "--config", "service=checkout")
	if !errors.Is(err, errOutputDiffers) {
		t.Fatalf("err = %v, want errOutputDiffers; stdout:\n%s", err, stdout)
	}
	wantDiff := "--- " + edited + " (expected)\n+++ actual\n" +
		"@@ -1,4 +1,5 @@\n" +
		" " + strings.TrimSpace(lines[0]) + "\n" +
		"+" + strings.TrimSpace(lines[1]) + "\n" +
		" " + strings.TrimSpace(lines[2]) + "\n" +
		" " + strings.TrimSpace(lines[3]) + "\n" +
		" " + strings.TrimSpace(lines[4]) + "\n"
	if stdout != wantDiff {
		t.Fatalf("diff:\n%s\nwant:\n%s", stdout, wantDiff)
	}

	// Through main's error path: the command fails, so slspipe exits with status 1.
	_, _, err = runTestCmd(t, "", "--module", mod, "--input", filepath.Join(src, "input.jsonl"),
		"--expected", filepath.Join(src, "expected.jsonl"), "--config", "service=other")
	if !errors.Is(err, errOutputDiffers) {
		t.Fatalf("different config: err = %v, want errOutputDiffers", err)
	}
}

// TestTestBadModule shows that a module that cannot be used is reported with its path
// and the problem.
func TestTestBadModule(t *testing.T) {
	in := filepath.Join("..", "..", "plugins", "examples", "pii-mask", "input.jsonl")
	cases := []struct{ module, want string }{
		{guestModule(t, "not_wasm"), "not a WebAssembly module"},
		{guestModule(t, "wat_abi_v2"), "ABI version"},
		{guestModule(t, "wat_unknown_import"), "unknown import"},
		{filepath.Join(t.TempDir(), "missing.wasm"), "no such file"},
	}
	for _, c := range cases {
		_, _, err := runTestCmd(t, "", "--module", c.module, "--input", in)
		if err == nil {
			t.Errorf("%s: no error", c.module)
			continue
		}
		for _, want := range []string{c.module, c.want} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q lacks %q", filepath.Base(c.module), err, want)
			}
		}
	}
	// A configuration the module refuses names the module and the key.
	_, _, err := runTestCmd(t, "", "--module", guestModule(t, "rust_filter_enrich"), "--input", in, "--config", "min_status=high")
	if err == nil || !strings.Contains(err.Error(), "rust_filter_enrich") || !strings.Contains(err.Error(), `min_status "high" is not a number`) {
		t.Fatalf("refused config: err = %v", err)
	}
}

// TestTestPinsClockAndTime shows that --now is both the modules' clock and the time of
// records without __time__, that records are read from stdin, and that traps, routes,
// serializer fields and attributes are printed.
func TestTestPinsClockAndTime(t *testing.T) {
	mod := guestModule(t, "c_behave")
	in := `{"_action": "clock", "n": "1"}
{"__time__": 1700000000, "__time_ns__": 250, "__topic__": "t", "__source__": "1.2.3.4", "__tag__:zone": "a", "_action": "dup"}

{"__time__": 1700000001, "_action": "serialize", "n": "{\"a\": 1}"}
{"__time__": 1700000002, "_action": "trap"}
{"__time__": 1700000003, "_action": "error"}
`
	stdout, stderr, err := runTestCmd(t, in, "--module", mod, "--input", "-", "--now", "2030-06-01T12:00:00Z", "--routes", "copies")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	got := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(got) != 5 {
		t.Fatalf("%d lines, want 5:\n%s", len(got), stdout)
	}
	const now = "1906545600" // 2030-06-01T12:00:00Z
	wants := []string{
		`{"__time__":` + now + `,"_action":"clock","n":"1","now":"` + now + `000000000"}`,
		`{"__time__":1700000000,"__time_ns__":250,"__topic__":"t","__source__":"1.2.3.4","__tag__:zone":"a","_action":"dup","__route__":"copies"}`,
		`{"__time__":1700000001,"kept":"yes","_subject":"subj","_hash_key":"k","_payload":{"a":1}}`,
		`{"__error__":`,
		`{"__error__":`,
	}
	for i, w := range wants {
		if !strings.HasPrefix(got[i], w) {
			t.Errorf("line %d:\n%s\nwant prefix:\n%s", i+1, got[i], w)
		}
	}
	if !strings.Contains(got[3], "unreachable") || !strings.HasSuffix(got[3], `"__input__":5}`) {
		t.Errorf("trap line: %s", got[3])
	}
	if !strings.Contains(got[4], "record refused by behave") || !strings.HasSuffix(got[4], `"__input__":6}`) {
		t.Errorf("error line: %s", got[4])
	}
}

// TestTestRejectsBadInput names the input line that is not a JSON object.
func TestTestRejectsBadInput(t *testing.T) {
	_, _, err := runTestCmd(t, "{\"a\":\"b\"}\n[1]\n", "--module", "unused.wasm", "--input", "-")
	if err == nil || !strings.Contains(err.Error(), "-:2: want one JSON object per line") {
		t.Fatalf("err = %v", err)
	}
	_, _, err = runTestCmd(t, "", "--input", "-")
	if err == nil || !strings.Contains(err.Error(), "either a pipeline file or --module") {
		t.Fatalf("no module: err = %v", err)
	}
}

func TestUnifiedDiff(t *testing.T) {
	a := []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"}
	b := []string{"1", "2", "x", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13"}
	got := strings.Join(unifiedDiff(a, b, 2), "")
	want := "@@ -1,5 +1,5 @@\n 1\n 2\n-3\n+x\n 4\n 5\n" +
		"@@ -11,2 +11,3 @@\n 11\n 12\n+13\n"
	if got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	if d := unifiedDiff(a, a, 3); d != nil {
		t.Fatalf("equal inputs gave %q", d)
	}
	if got := strings.Join(unifiedDiff(nil, []string{"x"}, 3), ""); got != "@@ -0,0 +1 @@\n+x\n" {
		t.Fatalf("from empty: %q", got)
	}
}

// TestTestAssemblyScriptAbort shows that an AssemblyScript module's abort (a throw)
// becomes the error of the record that caused it, with the message, while the other
// records go on.
func TestTestAssemblyScriptAbort(t *testing.T) {
	mod := guestModule(t, "as_abort")
	in := "{\"action\": \"keep\"}\n{\"action\": \"abort\"}\n{\"action\": \"keep\"}\n"
	stdout, stderr, err := runTestCmd(t, in, "--module", mod, "--input", "-")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	got := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(got) != 3 || got[0] != `{"__time__":1735689600,"action":"keep"}` || got[2] != `{"__time__":1735689600,"action":"keep"}` {
		t.Fatalf("outputs:\n%s", stdout)
	}
	if !strings.Contains(got[1], "abort: asked to abort record 1 at sdk/assemblyscript/tests/abort.ts:") ||
		!strings.HasSuffix(got[1], `"__input__":2}`) {
		t.Fatalf("abort line: %s", got[1])
	}
}

// TestTestAppliesSourceQuery: `slspipe test pipeline.yaml` runs the source's
// SPL statement on the sample records before the steps, as SLS would on
// the pull, and reports a record the statement fails on.
func TestTestAppliesSourceQuery(t *testing.T) {
	pipeline := writeFile(t, "pipeline.yaml", `name: q
source:
  sls:
    endpoint: http://127.0.0.1:9100
    project: demo
    logstore: access
    query: |
      * | where cast(status as bigint) >= 500
        | extend slow = try_cast(rt as double) > 1
        | project uri, status, slow
sink:
  stdout: {}
`)
	input := `{"__time__":1735689600,"status":"200","uri":"/a","rt":"0.1"}
{"__time__":1735689600,"status":"503","uri":"/b","rt":"2.5","ua":"curl"}
{"__time__":1735689600,"status":"oops","uri":"/c"}
{"__time__":1735689600,"status":"500","uri":"/d"}
`
	stdout, stderr, err := runTestCmd(t, input, pipeline, "--input", "-")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	got := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(got) != 3 {
		t.Fatalf("outputs:\n%s\nwant 3 lines", stdout)
	}
	for i, want := range []string{
		`"status":"503","uri":"/b","slow":"true"}`,
		`"__step__":"source.sls.query"`,
		`"status":"500","uri":"/d"}`,
	} {
		if !strings.Contains(got[i], want) {
			t.Errorf("line %d: %s\nwant …%s", i+1, got[i], want)
		}
	}
	if !strings.Contains(got[1], "cannot cast 'oops' to BIGINT") || !strings.Contains(got[1], `"__input__":3`) {
		t.Errorf("failed record: %s", got[1])
	}
	if strings.Contains(stdout, `"ua"`) || strings.Contains(stdout, `"rt"`) {
		t.Errorf("project left other fields: %s", stdout)
	}
}
