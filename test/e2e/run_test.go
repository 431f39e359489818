package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/slspipe/slspipe/state"
)

const generatorTotal = 6000

// writePipeline writes a generator → stdout pipeline into dir.
func writePipeline(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "pipeline.yaml")
	yaml := fmt.Sprintf(`version: 1
name: e2e-run
source:
  generate:
    shards: 4
    count: %d
    rate: 3000
    seed: 7
sink:
  stdout: {}
checkpoint:
  path: ./state.db
  interval: 50ms
limits:
  shutdown_timeout: 10s
metrics:
  listen: ""
`, generatorTotal)
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// runningPipeline is a started `slspipe run` whose stdout lines are collected.
type runningPipeline struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	mu     sync.Mutex
	lines  []string
	more   chan struct{}
	done   chan struct{}
}

func startRun(t *testing.T, pipeline string) *runningPipeline {
	t.Helper()
	r := &runningPipeline{more: make(chan struct{}, 1), done: make(chan struct{})}
	r.cmd = exec.Command(slspipeBin, "run", pipeline)
	r.cmd.Stderr = &r.stderr
	out, err := r.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(r.done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			r.mu.Lock()
			r.lines = append(r.lines, sc.Text())
			r.mu.Unlock()
			select {
			case r.more <- struct{}{}:
			default:
			}
		}
	}()
	return r
}

// waitLines waits until at least n lines were printed.
func (r *runningPipeline) waitLines(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		r.mu.Lock()
		got := len(r.lines)
		r.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-r.more:
		case <-r.done:
			t.Fatalf("slspipe exited after %d lines; stderr:\n%s", got, r.stderr.String())
		case <-deadline:
			t.Fatalf("only %d lines after 60s; stderr:\n%s", got, r.stderr.String())
		}
	}
}

// wait waits for the process and returns its exit code and lines.
func (r *runningPipeline) wait(t *testing.T) (int, []string) {
	t.Helper()
	<-r.done
	err := r.cmd.Wait()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = -int(ws.Signal())
		}
	} else if err != nil {
		t.Fatal(err)
	}
	return code, r.lines
}

// requestIDs returns the request_id of each printed record.
func requestIDs(t *testing.T, lines []string) []string {
	t.Helper()
	ids := make([]string, 0, len(lines))
	for _, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("stdout line is not a JSON record: %q", l)
		}
		id, _ := rec["request_id"].(string)
		if id == "" {
			t.Fatalf("record without request_id: %q", l)
		}
		ids = append(ids, id)
	}
	return ids
}

// TestRunSIGTERMDrainsCommitsAndResumes stops a run with SIGTERM: it exits
// 0 having committed everything it printed, and a second run prints exactly
// the rest — nothing lost, nothing repeated.
func TestRunSIGTERMDrainsCommitsAndResumes(t *testing.T) {
	dir := t.TempDir()
	pipeline := writePipeline(t, dir)

	first := startRun(t, pipeline)
	first.waitLines(t, 1000)
	if err := first.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code, lines1 := first.wait(t)
	if code != 0 {
		t.Fatalf("after SIGTERM slspipe exited %d; stderr:\n%s", code, first.stderr.String())
	}
	if len(lines1) >= generatorTotal {
		t.Fatalf("the first run printed everything (%d) before SIGTERM; the test proves nothing", len(lines1))
	}
	assertCommitted(t, filepath.Join(dir, "state.db"), 4)

	second := startRun(t, pipeline)
	code, lines2 := second.wait(t)
	if code != 0 {
		t.Fatalf("second run exited %d; stderr:\n%s", code, second.stderr.String())
	}
	seen := map[string]int{}
	for _, id := range append(requestIDs(t, lines1), requestIDs(t, lines2)...) {
		seen[id]++
	}
	dups := 0
	for _, n := range seen {
		if n > 1 {
			dups++
		}
	}
	if len(seen) != generatorTotal || dups != 0 {
		t.Fatalf("runs printed %d+%d records: %d distinct of %d, %d repeated", len(lines1), len(lines2), len(seen), generatorTotal, dups)
	}
}

// TestRunSIGKILLLosesNothing kills a run without warning; the next run
// resumes from the last checkpoint, so every record is printed at least once.
func TestRunSIGKILLLosesNothing(t *testing.T) {
	dir := t.TempDir()
	pipeline := writePipeline(t, dir)

	first := startRun(t, pipeline)
	first.waitLines(t, 1500)
	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	code, lines1 := first.wait(t)
	if code != -int(syscall.SIGKILL) {
		t.Fatalf("first run ended with %d, want killed", code)
	}

	second := startRun(t, pipeline)
	code, lines2 := second.wait(t)
	if code != 0 {
		t.Fatalf("second run exited %d; stderr:\n%s", code, second.stderr.String())
	}
	if len(lines2) >= generatorTotal {
		t.Errorf("the second run started over (%d records): the checkpoint was not used", len(lines2))
	}
	seen := map[string]bool{}
	for _, id := range append(requestIDs(t, lines1), requestIDs(t, lines2)...) {
		seen[id] = true
	}
	if len(seen) != generatorTotal {
		t.Fatalf("%d distinct records of %d after a SIGKILL and a restart", len(seen), generatorTotal)
	}
	t.Logf("killed after %d records; the restart printed %d (%d again)", len(lines1), len(lines2), len(lines1)+len(lines2)-generatorTotal)
}

// TestRunReportsConfigErrors shows a broken file's problems and exits 1.
func TestRunReportsConfigErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(path, []byte("version: 1\nname: x\nsource:\n  generate: {shards: -1}\nsink:\n  stdot: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(slspipeBin, "run", path)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit %v, want 1; output:\n%s", err, out)
	}
	for _, want := range []string{path + ":4:", path + ":6:", `did you mean "stdout"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func assertCommitted(t *testing.T, path string, shards int) {
	t.Helper()
	st, err := state.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cps, err := st.Load("e2e-run")
	if err != nil {
		t.Fatal(err)
	}
	if len(cps) != shards {
		t.Fatalf("%d shards committed, want %d: %+v", len(cps), shards, cps)
	}
}
