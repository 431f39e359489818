package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestRunIntoJetStreamExactlyOnceAcrossSIGKILL kills `slspipe run` several
// times while it publishes into JetStream and restarts it each time: the
// stream ends with every record exactly once, because replays carry the
// same Nats-Msg-Id and the stream drops them.
func TestRunIntoJetStreamExactlyOnceAcrossSIGKILL(t *testing.T) {
	const total = 20000
	srv := startNATS(t)

	dir := t.TempDir()
	path := filepath.Join(dir, "p.yaml")
	yaml := fmt.Sprintf(`version: 1
name: e2e-nats
source:
  generate: {shards: 4, count: %d, rate: 8000, seed: 3}
sink:
  nats:
    url: %s
    subject: logs.e2e
    stream: E2E
    create_stream: true
    duplicate_window: 10m
checkpoint: {path: ./state.db, interval: 200ms}
metrics: {listen: ""}
`, total, srv.URL())
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}

	stream := watchStream(t, srv.URL(), "E2E")
	streamMsgs := stream.msgs

	kills := 0
	for kills < 3 && streamMsgs() < total {
		r := startRun(t, path)
		// Kill it once the stream has grown by a few thousand messages
		// (polled: the stream is in another process's hands).
		target := streamMsgs() + 3000
		deadline := time.Now().Add(60 * time.Second)
		exited := false
		for !exited && streamMsgs() < target && time.Now().Before(deadline) {
			select {
			case <-r.done:
				exited = true
			case <-time.After(20 * time.Millisecond):
			}
		}
		if exited {
			r.wait(t)
			break
		}
		if err := r.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		r.wait(t)
		kills++
	}
	if kills == 0 {
		t.Fatal("the pipeline finished before it could be killed; the test proves nothing")
	}
	final := startRun(t, path)
	if code, _ := final.wait(t); code != 0 {
		t.Fatalf("final run exited %d; stderr:\n%s", code, final.stderr.String())
	}

	// Every generated record is in the stream once: count and distinct ids.
	if got := streamMsgs(); got != total {
		t.Fatalf("stream holds %d messages after %d kills, want %d", got, kills, total)
	}
	if got := stream.distinctIDs(); got != total {
		t.Fatalf("%d distinct Nats-Msg-Id in the stream, want %d", got, total)
	}
	t.Logf("%d records exactly once after %d SIGKILLs", total, kills)
}
