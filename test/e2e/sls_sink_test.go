package e2e

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/slspipe/slspipe/emulator"
	"github.com/slspipe/slspipe/internal/slstest"
)

// readAll pulls every log of every shard of project/logstore, by shard.
func readAll(t *testing.T, client sls.ClientInterface, project, logstore string) map[int][]*sls.Log {
	t.Helper()
	groups, err := slstest.ReadAll(client, project, logstore)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int][]*sls.Log{}
	for shard, gs := range groups {
		for _, g := range gs {
			out[shard] = append(out[shard], g.Logs...)
		}
	}
	return out
}

func contents(l *sls.Log) map[string]string {
	m := map[string]string{}
	for _, c := range l.Contents {
		m[c.GetKey()] = c.GetValue()
	}
	return m
}

// TestNATSThroughModuleIntoSLS reads JSON events from a JetStream stream,
// masks them with a C module and writes them into an SLS logstore keyed by
// user: every message lands, masked, on the shard whose hash range holds
// MD5(user).
func TestNATSThroughModuleIntoSLS(t *testing.T) {
	const total = 3000
	mod := guestModule(t, "c_pii_mask")
	addr := startEmulatorProcess(t, "demo/events:4")
	client := emulatorClient(addr)

	ns := startNATS(t)
	nc, err := nats.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "EVENTS", Subjects: []string{"events.>"}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < total; i++ {
		ev, _ := json.Marshal(map[string]string{"user": "u" + strconv.Itoa(i%37), "seq": strconv.Itoa(i), "contact": "user" + strconv.Itoa(i) + "@example.com"})
		if _, err := js.PublishAsync("events.signup", ev, jetstream.WithStallWait(30*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(30 * time.Second):
		t.Fatal("publishing the events timed out")
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "p.yaml")
	yaml := fmt.Sprintf(`version: 1
name: e2e-nats-sls
source:
  nats: {url: %s, stream: EVENTS, durable: e2e, batch: 500}
steps:
  - {name: parse, role: deserialize, builtin: json}
  - {name: mask, role: transform, module: %s}
sink:
  sls:
    endpoint: http://%s
    project: demo
    logstore: events
    access_key_id: %s
    access_key_secret: %s
    partitioner: field
    partition_field: user
    linger: 100ms
checkpoint: {path: ./state.db, interval: 100ms}
metrics: {listen: ""}
`, ns.URL(), mod, addr, emulator.DefaultAccessKeyID, emulator.DefaultAccessKeySecret)
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(slspipeBin, "run", path)
	cmd.Env = append(os.Environ(), "SLSPIPE_CACHE_DIR="+filepath.Join(dir, "cache"))
	r := &runningPipeline{cmd: cmd, done: make(chan struct{})}
	cmd.Stderr = &r.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(r.done) }()
	defer func() { _ = cmd.Process.Kill(); <-r.done }()

	// The consumer's acknowledgements show when everything was confirmed by
	// the SLS sink (a message is acknowledged only then).
	deadline := time.Now().Add(90 * time.Second)
	for {
		c, err := js.Consumer(ctx, "EVENTS", "e2e")
		if err == nil {
			if info, err := c.Info(ctx); err == nil && info.AckFloor.Stream == total {
				break
			}
		}
		select {
		case <-r.done:
			t.Fatalf("slspipe exited early; stderr:\n%s", r.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("not every message acknowledged after 90s; stderr:\n%s", r.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	shards, err := client.ListShards("demo", "events")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for shard, logs := range readAll(t, client, "demo", "events") {
		var rng *sls.Shard
		for _, s := range shards {
			if s.ShardID == shard {
				rng = s
			}
		}
		for _, l := range logs {
			c := contents(l)
			sum := md5.Sum([]byte(c["user"]))
			key := hex.EncodeToString(sum[:])
			if key < rng.InclusiveBeginKey || key >= rng.ExclusiveBeginKey {
				t.Fatalf("user %s (key %s) landed on shard %d [%s, %s)", c["user"], key, shard, rng.InclusiveBeginKey, rng.ExclusiveBeginKey)
			}
			if c["contact"] == "" || c["contact"] == "user"+c["seq"]+"@example.com" {
				t.Fatalf("contact %q was not masked", c["contact"])
			}
			seen[c["seq"]] = true
		}
	}
	if len(seen) != total {
		t.Fatalf("%d distinct events in the logstore, want %d", len(seen), total)
	}
}
