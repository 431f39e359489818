package bench_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/slspipe/slspipe/bench"
)

// TestHarnessEndToEnd runs the whole harness on a few thousand records: the
// emulator, the NATS server, the consumer library program (publishing and
// no-op), the publish limit and every slspipe scenario run as real
// processes, and the table has a row with a non-zero rate for each and the
// source benchmark's ratio.
func TestHarnessEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers and builds binaries")
	}
	dir := t.TempDir()
	slspipe := filepath.Join(dir, "slspipe")
	build := exec.Command("go", "build", "-o", slspipe, "github.com/slspipe/slspipe/cmd/slspipe")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build slspipe: %v\n%s", err, out)
	}
	modules := filepath.Join(dir, "wasm")
	scenarios := []string{bench.ScenarioRawDecode, bench.ScenarioLibrary, bench.ScenarioLibraryNoop,
		bench.ScenarioJetStreamLimit, bench.ScenarioNoModule, bench.ScenarioDiscard, bench.ScenarioSweep}
	if buildIdentity(t, modules) {
		// Without the examples the chain is the identity module twice.
		scenarios = append(scenarios, bench.ScenarioIdentity, bench.ScenarioChain)
	}

	var progress strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	report, err := bench.Run(ctx, bench.Config{
		Slspipe: slspipe, ModulesDir: modules, WorkDir: dir,
		Records: 3000, Shards: 4, SweepShards: []int{1, 8}, SweepRecords: 1000,
		Scenarios: scenarios, Timeout: time.Minute, Progress: &progress,
	})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, progress.String())
	}
	table := report.Markdown()
	t.Logf("\n%s", table)

	for _, key := range scenarios {
		if key == bench.ScenarioSweep {
			continue
		}
		row, ok := report.Row(key)
		if !ok {
			t.Errorf("no row for %s", key)
			continue
		}
		if row.Unavailable != "" || row.RecordsPerSecond() <= 0 || row.MBPerSecond() <= 0 {
			t.Errorf("%s: rate %.0f records/s, %.2f MB/s, unavailable %q", key, row.RecordsPerSecond(), row.MBPerSecond(), row.Unavailable)
		}
		if !strings.Contains(table, row.Scenario) {
			t.Errorf("table lacks %q", row.Scenario)
		}
		if key != bench.ScenarioRawDecode && (row.PeakRSS <= 0 || row.CPU <= 0) {
			t.Errorf("%s: peak RSS %d, CPU %s: the process was not measured", key, row.PeakRSS, row.CPU)
		}
	}
	if s, l, ok := report.SourceBenchmark(); !ok || !strings.Contains(table, "source benchmark: slspipe ") {
		t.Errorf("no source benchmark line: slspipe %.0f, library %.0f records/s", s, l)
	}
	if len(report.Sweep) != 2 {
		t.Fatalf("sweep has %d rows, want 2", len(report.Sweep))
	}
	for _, s := range report.Sweep {
		if s.Unavailable != "" || s.Duration <= 0 || s.PeakRSS <= 0 {
			t.Errorf("sweep %d shards: %+v", s.Shards, s)
		}
	}
}

// buildIdentity compiles c_identity.wasm into dir the way plugins/build.sh
// does, reporting false when clang cannot target wasm here.
func buildIdentity(t *testing.T, dir string) bool {
	t.Helper()
	if _, err := exec.LookPath("clang"); err != nil {
		t.Log("clang not found: the module scenarios are not tested")
		return false
	}
	_, file, _, _ := runtime.Caller(0)
	plugins := filepath.Join(filepath.Dir(file), "..", "plugins")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("clang", "--target=wasm32", "-O2", "-nostdlib", "-mbulk-memory", "-Wl,--no-entry", "-Wl,--strip-all",
		"-I", filepath.Join(plugins, "sdk", "c"), "-o", filepath.Join(dir, "c_identity.wasm"),
		filepath.Join(plugins, "testdata", "c", "identity.c"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Logf("clang cannot build c_identity.wasm here: the module scenarios are not tested: %v\n%s", err, out)
		return false
	}
	return true
}
