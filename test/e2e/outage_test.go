package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slspipe/slspipe/connectors/generate"
	"github.com/slspipe/slspipe/emulator"
	"github.com/slspipe/slspipe/internal/slsload"
)

// rssMiB returns a process's resident memory in MiB, or 0.
func rssMiB(pid int) int {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return kb / 1024
		}
	}
	return 0
}

// TestSLSIntoJetStreamSurvivesSIGKILLAndNATSOutage moves 200,000 records
// from an SLS logstore (the emulator, its own process) into JetStream. The
// pipeline is SIGKILLed in the middle and restarted; later the NATS server
// is stopped for 10 seconds and started again on the same port and store.
// The stream ends with every record exactly once (count and distinct
// Nats-Msg-Id), and memory stays bounded during the outage.
func TestSLSIntoJetStreamSurvivesSIGKILLAndNATSOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 200,000 records")
	}
	const total = 200000
	addr := startEmulatorProcess(t, "demo/nginx:8")
	client := emulatorClient(addr)
	gen, err := generate.New(generate.Config{Shards: 8, Count: total, BatchSize: 200, Start: time.Now(), Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	if err := slsload.New(client, "demo", "nginx", "request_id").Run(context.Background(), gen); err != nil {
		t.Fatal(err)
	}

	ns := startNATS(t)

	dir := t.TempDir()
	path := filepath.Join(dir, "p.yaml")
	yaml := fmt.Sprintf(`version: 1
name: e2e-outage
source:
  sls:
    endpoint: http://%s
    project: demo
    logstore: nginx
    access_key_id: %s
    access_key_secret: %s
    max_per_fetch: 50
sink:
  nats:
    url: %s
    subject: logs.outage
    stream: OUTAGE
    create_stream: true
    duplicate_window: 10m
    max_inflight: 2048
checkpoint: {path: ./state.db, interval: 200ms}
limits: {max_inflight_bytes: 16MiB, shutdown_timeout: 20s}
metrics: {listen: ""}
`, addr, emulator.DefaultAccessKeyID, emulator.DefaultAccessKeySecret, ns.URL())
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}

	stream := watchStream(t, ns.URL(), "OUTAGE")
	streamMsgs := stream.msgs
	waitStream := func(r *runningPipeline, n uint64) {
		t.Helper()
		deadline := time.Now().Add(120 * time.Second)
		for streamMsgs() < n {
			select {
			case <-r.done:
				t.Fatalf("slspipe exited at %d messages; stderr:\n%s", streamMsgs(), r.stderr.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("stream at %d after 120s, waiting for %d", streamMsgs(), n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// Run 1: killed in the middle.
	first := startRun(t, path)
	waitStream(first, total/3)
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.wait(t)
	killedAt := streamMsgs()

	// Run 2: resumes from the checkpoint; NATS goes away for 10 s mid-run.
	second := startRun(t, path)
	waitStream(second, killedAt+total/6)
	ns.Stop()
	outage := time.Now()
	peak := 0
	for time.Since(outage) < 10*time.Second { // the outage itself lasts 10 s
		peak = max(peak, rssMiB(second.cmd.Process.Pid))
		select {
		case <-second.done:
			t.Fatalf("slspipe exited during the NATS outage; stderr:\n%s", second.stderr.String())
		case <-time.After(200 * time.Millisecond):
		}
	}
	if err := ns.Restart(); err != nil {
		t.Fatal(err)
	}
	waitStream(second, total)
	if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, _ := second.wait(t); code != 0 {
		t.Fatalf("second run exited %d after SIGTERM; stderr:\n%s", code, second.stderr.String())
	}
	t.Logf("killed at %d messages; peak RSS during the 10 s NATS outage %d MiB", killedAt, peak)
	if peak > 512 {
		t.Errorf("RSS reached %d MiB during the outage with a 16 MiB in-flight budget", peak)
	}

	// Exactly once: the count and the distinct de-duplication ids.
	if got := streamMsgs(); got != total {
		t.Fatalf("stream holds %d messages, want %d", got, total)
	}
	if got := stream.distinctIDs(); got != total {
		t.Fatalf("%d distinct Nats-Msg-Id, want %d", got, total)
	}
}
