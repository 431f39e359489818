package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/slspipe/slspipe/connectors/generate"
	"github.com/slspipe/slspipe/emulator"
	"github.com/slspipe/slspipe/internal/slsload"
)

// startEmulatorProcess runs `slspipe emulator` with one logstore and returns
// its address.
func startEmulatorProcess(t *testing.T, logstore string) string {
	t.Helper()
	return startEmulatorWith(t, "--logstore", logstore)
}

// startEmulatorWith runs `slspipe emulator` with flags and returns its address.
func startEmulatorWith(t *testing.T, flags ...string) string {
	t.Helper()
	addr, ok := strings.CutPrefix(startEmulatorLines(t, 1, flags...)[0], "listening on ")
	if !ok {
		t.Fatal("emulator did not say where it listens")
	}
	return addr
}

// startEmulatorLines runs `slspipe emulator --addr 127.0.0.1:0` with flags,
// stopped when the test ends, and returns the first n lines it prints
// (where it listens).
func startEmulatorLines(t *testing.T, n int, flags ...string) []string {
	t.Helper()
	cmd := exec.Command(slspipeBin, append([]string{"emulator", "--addr", "127.0.0.1:0"}, flags...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	rd := bufio.NewReader(out)
	lines := make([]string, n)
	for i := range lines {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("emulator did not say where it listens: %v", err)
		}
		lines[i] = strings.TrimSpace(line)
	}
	go func() { _, _ = io.Copy(io.Discard, rd) }()
	return lines
}

// emulatorClient returns the SDK client for an emulator process at addr,
// with its default keys.
func emulatorClient(addr string) sls.ClientInterface {
	c := sls.CreateNormalInterface(addr, emulator.DefaultAccessKeyID, emulator.DefaultAccessKeySecret, "")
	c.SetHTTPClient(emulator.DialClient(addr))
	return c
}

// TestConsumerGroupReplicasSurviveSIGKILL runs three replicas of one
// pipeline in one consumer group over 8 shards, kills one with SIGKILL while
// data keeps arriving, and checks that its shards move to the others: every
// record reaches JetStream and the group's checkpoints end at each shard's
// end.
func TestConsumerGroupReplicasSurviveSIGKILL(t *testing.T) {
	const batch = 4000
	addr := startEmulatorProcess(t, "demo/nginx:8")
	client := emulatorClient(addr)

	ns := startNATS(t)

	dir := t.TempDir()
	path := filepath.Join(dir, "p.yaml")
	yaml := fmt.Sprintf(`version: 1
name: e2e-group
source:
  sls:
    endpoint: http://%s
    project: demo
    logstore: nginx
    access_key_id: %s
    access_key_secret: %s
    consumer_group: e2e-group
    group_mode: distributed
    consumer_name: ${REPLICA}
    heartbeat_interval: 1s
    heartbeat_timeout: 3s
    shard_discovery_interval: 1s
    fetch_interval: 50ms
sink:
  nats:
    url: %s
    subject: logs.group
    stream: GROUP
    create_stream: true
    duplicate_window: 10m
checkpoint: {interval: 200ms}
limits: {shutdown_timeout: 10s}
metrics: {listen: ""}
`, addr, emulator.DefaultAccessKeyID, emulator.DefaultAccessKeySecret, ns.URL())
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}

	replicas := map[string]*runningPipeline{}
	for _, name := range []string{"r1", "r2", "r3"} {
		r := &runningPipeline{more: make(chan struct{}, 1), done: make(chan struct{})}
		r.cmd = exec.Command(slspipeBin, "run", path)
		r.cmd.Env = append(os.Environ(), "REPLICA="+name)
		r.cmd.Stderr = &r.stderr
		if err := r.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { _ = r.cmd.Wait(); close(r.done) }()
		replicas[name] = r
	}
	defer func() {
		for _, r := range replicas {
			_ = r.cmd.Process.Kill()
			<-r.done
		}
	}()

	streamMsgs := watchStream(t, ns.URL(), "GROUP").msgs
	// waitFor polls a condition held by other processes, with a deadline.
	waitFor := func(what string, limit time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(limit)
		for !cond() {
			for name, r := range replicas {
				select {
				case <-r.done:
					if name != "r2" {
						t.Fatalf("replica %s exited; stderr:\n%s", name, r.stderr.String())
					}
				default:
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not after %s (stream holds %d)", what, limit, streamMsgs())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// Kill r2 once every replica has committed shards of its own, so that
	// the kill really leaves shards to move.
	owners := func() map[int]string {
		cps, err := client.GetCheckpoint("demo", "nginx", "e2e-group")
		if err != nil {
			return nil
		}
		m := map[int]string{}
		for _, cp := range cps {
			if cp.CheckPoint != "" {
				m[cp.ShardID] = cp.Consumer
			}
		}
		return m
	}
	// Logs keep arriving on every shard while the replicas run.
	loadCtx, stopLoad := context.WithCancel(context.Background())
	loader := slsload.New(client, "demo", "nginx", "request_id")
	loaded := make(chan error, 1)
	go func() {
		gen, err := generate.New(generate.Config{Shards: 8, Rate: 4000, BatchSize: 20, Start: time.Now(), Seed: 5})
		if err == nil {
			err = loader.Run(loadCtx, gen)
		}
		loaded <- err
	}()
	defer stopLoad()

	var r2Shards []int
	waitFor("every replica owning shards", 60*time.Second, func() bool {
		held := map[string][]int{}
		for shard, c := range owners() {
			held[c] = append(held[c], shard)
		}
		r2Shards = held["r2"]
		return len(held["r1"]) > 0 && len(held["r2"]) > 0 && len(held["r3"]) > 0
	})
	if err := replicas["r2"].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-replicas["r2"].done
	killed := time.Now()
	atKill := loader.Records()
	// Keep writing for a while after the kill (r2's shards included).
	waitFor("more logs written after the kill", 60*time.Second, func() bool { return loader.Records() >= atKill+batch })
	stopLoad()
	if err := <-loaded; err != nil {
		t.Fatal(err)
	}
	total := uint64(loader.Records())

	waitFor("every record delivered after the kill", 90*time.Second, func() bool { return streamMsgs() >= total })
	t.Logf("all %d records delivered %.1fs after the SIGKILL of r2, which held shards %v (heartbeat timeout 3s)",
		total, time.Since(killed).Seconds(), r2Shards)
	if got := streamMsgs(); got != total {
		t.Fatalf("stream holds %d messages, want %d", got, total)
	}

	// The group's checkpoints reach every shard's end.
	waitFor("group checkpoints at every shard's end", 30*time.Second, func() bool {
		cps, err := client.GetCheckpoint("demo", "nginx", "e2e-group")
		if err != nil {
			return false
		}
		byShard := map[int]string{}
		for _, cp := range cps {
			byShard[cp.ShardID] = cp.CheckPoint
		}
		for shard := 0; shard < 8; shard++ {
			end, err := client.GetCursor("demo", "nginx", shard, "end")
			if err != nil || byShard[shard] != end {
				return false
			}
		}
		// r2's shards were taken over: their final commits are the others'.
		for _, shard := range r2Shards {
			if owners()[shard] == "r2" {
				return false
			}
		}
		return true
	})

	for _, name := range []string{"r1", "r3"} {
		r := replicas[name]
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		<-r.done
		if code := r.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("replica %s exited %d after SIGTERM; stderr:\n%s", name, code, r.stderr.String())
		}
	}
}
