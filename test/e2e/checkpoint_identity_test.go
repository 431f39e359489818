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

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/slspipe/slspipe/state"
)

// putGroups writes n log groups of one log each into project/logstore.
func putGroups(t *testing.T, c sls.ClientInterface, project, logstore string, n int) {
	t.Helper()
	for i := range n {
		lg := &sls.LogGroup{Logs: []*sls.Log{{
			Time:     new(uint32(time.Now().Unix())),
			Contents: []*sls.LogContent{{Key: new("n"), Value: new(project + "-" + strconv.Itoa(i))}},
		}}}
		if err := c.PutLogs(project, logstore, lg); err != nil {
			t.Fatal(err)
		}
	}
}

// stopAfterLines waits for n lines of r, stops it with SIGTERM and checks
// that it exited 0.
func stopAfterLines(t *testing.T, r *runningPipeline, n int) []string {
	t.Helper()
	r.waitLines(t, n)
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code, lines := r.wait(t)
	if code != 0 {
		t.Fatalf("after SIGTERM slspipe exited %d; stderr:\n%s", code, r.stderr.String())
	}
	return lines
}

// expectRefusal waits (at most 30s) for r to exit 1 without printing a
// record, with every part of want in its stderr.
func expectRefusal(t *testing.T, r *runningPipeline, want ...string) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		_, lines := r.wait(t)
		t.Fatalf("slspipe kept running on the old positions and printed %d records; stderr:\n%s", len(lines), r.stderr.String())
	}
	code, lines := r.wait(t)
	if code != 1 || len(lines) != 0 {
		t.Fatalf("slspipe exited %d after %d records, want 1 and none; stderr:\n%s", code, len(lines), r.stderr.String())
	}
	t.Logf("refused: %s", strings.TrimSpace(r.stderr.String()[strings.LastIndex(strings.TrimSpace(r.stderr.String()), "\n")+1:]))
	for _, w := range want {
		if !strings.Contains(r.stderr.String(), w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.stderr.String())
		}
	}
}

// TestCheckpointsStayWithTheirProject runs a pipeline on project alpha,
// then, with the same name and state file, on project beta: the cursors of
// alpha are not positions in beta, so the second run refuses to start and
// says which identities differ and how to start over, instead of skipping
// beta's first logs without a word.
func TestCheckpointsStayWithTheirProject(t *testing.T) {
	addr := startEmulatorWith(t, "--logstore", "alpha/nginx:1", "--logstore", "beta/nginx:1")
	client := emulatorClient(addr)
	putGroups(t, client, "alpha", "nginx", 5)
	putGroups(t, client, "beta", "nginx", 8)

	dir := t.TempDir()
	pipeline := func(project string) string {
		path := filepath.Join(dir, project+".yaml")
		yaml := fmt.Sprintf(`version: 1
name: e2e-moved
source:
  sls:
    endpoint: http://%s
    project: %s
    logstore: nginx
    access_key_id: slspipe-local
    access_key_secret: slspipe-local-secret
sink:
  stdout: {}
checkpoint: {path: ./state.db, interval: 50ms}
metrics: {listen: ""}
`, addr, project)
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}

	stopAfterLines(t, startRun(t, pipeline("alpha")), 5)
	expectRefusal(t, startRun(t, pipeline("beta")),
		"sls://"+addr+"/alpha/nginx", "sls://"+addr+"/beta/nginx", filepath.Join(dir, "state.db"))
}

// TestCheckpointsStayWithTheirStream runs a pipeline on a JetStream
// stream, deletes the stream and creates it again under the same name (its
// sequences start over), and runs the pipeline again: the stored position
// belongs to the old stream, so the run refuses to start, rather than
// acknowledging the new stream's first messages unread.
func TestCheckpointsStayWithTheirStream(t *testing.T) {
	srv := startNATS(t)
	nc, err := nats.Connect(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	stream := func(n int) {
		t.Helper()
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "IN", Subjects: []string{"in.>"}}); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if _, err := js.Publish(ctx, "in.x", []byte(`{"i":`+strconv.Itoa(i)+`}`)); err != nil {
				t.Fatal(err)
			}
		}
	}
	stream(10)

	dir := t.TempDir()
	path := filepath.Join(dir, "p.yaml")
	yaml := fmt.Sprintf(`version: 1
name: e2e-recreated
source:
  nats: {url: %q, stream: IN, durable: reader}
sink:
  stdout: {}
checkpoint: {path: ./state.db, interval: 50ms}
metrics: {listen: ""}
`, srv.URL())
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	stopAfterLines(t, startRun(t, path), 10)

	if err := js.DeleteStream(ctx, "IN"); err != nil {
		t.Fatal(err)
	}
	stream(15)
	expectRefusal(t, startRun(t, path), "nats:IN/reader/0", "jetstream://IN?created=", filepath.Join(dir, "state.db"))
}

// TestUnboundCheckpointsAreBoundOnFirstRun starts from a state file an
// earlier slspipe wrote (its checkpoints say nothing of their project): the
// run resumes from it, warns once that it takes the positions as positions
// in what it reads now, and leaves them bound, so that the next change of
// project is refused.
func TestUnboundCheckpointsAreBoundOnFirstRun(t *testing.T) {
	addr := startEmulatorWith(t, "--logstore", "alpha/nginx:1", "--logstore", "beta/nginx:1")
	client := emulatorClient(addr)
	putGroups(t, client, "alpha", "nginx", 8)
	begin, err := client.GetCursor("alpha", "nginx", 0, "begin")
	if err != nil {
		t.Fatal(err)
	}
	_, third, err := client.PullLogs("alpha", "nginx", 0, begin, "", 3)
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	st, err := state.Open(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Save([]state.Checkpoint{{Pipeline: "e2e-legacy", Logstore: "nginx", Shard: 0, Cursor: third}}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	pipeline := func(project string) string {
		path := filepath.Join(dir, project+".yaml")
		yaml := fmt.Sprintf(`version: 1
name: e2e-legacy
source:
  sls:
    endpoint: http://%s
    project: %s
    logstore: nginx
    access_key_id: slspipe-local
    access_key_secret: slspipe-local-secret
sink:
  stdout: {}
checkpoint: {path: ./state.db, interval: 50ms}
metrics: {listen: ""}
`, addr, project)
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}

	r := startRun(t, pipeline("alpha"))
	lines := stopAfterLines(t, r, 5)
	if len(lines) != 5 {
		t.Fatalf("the run printed %d records, want the 5 after the stored position", len(lines))
	}
	if n := strings.Count(r.stderr.String(), "stored positions do not say what they were read from"); n != 1 {
		t.Errorf("the warning about unbound positions was printed %d times, want once:\n%s", n, r.stderr.String())
	}
	st, err = state.Open(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	cps, err := st.Load("e2e-legacy")
	st.Close()
	if err != nil || len(cps) != 1 || cps[0].Origin != "sls://"+addr+"/alpha/nginx" {
		t.Fatalf("checkpoints after the run: %+v, %v", cps, err)
	}
	expectRefusal(t, startRun(t, pipeline("beta")), "sls://"+addr+"/alpha/nginx", "sls://"+addr+"/beta/nginx")
}

// TestUnboundPositionPastTheStreamEnd: a stored position without its
// stream's identity (an earlier slspipe's) beyond the end of the stream,
// which was created again since: the run refuses to start rather than
// reset the consumer past the new stream's messages and acknowledge them
// unread.
func TestUnboundPositionPastTheStreamEnd(t *testing.T) {
	srv := startNATS(t)
	nc, err := nats.Connect(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "IN", Subjects: []string{"in.>"}}); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := js.Publish(ctx, "in.x", []byte(`{"i":`+strconv.Itoa(i)+`}`)); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	st, err := state.Open(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Save([]state.Checkpoint{{Pipeline: "e2e-old-floor", Logstore: "nats:IN/reader", Shard: 0, Cursor: "101"}}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	path := filepath.Join(dir, "p.yaml")
	yaml := fmt.Sprintf(`version: 1
name: e2e-old-floor
source:
  nats: {url: %q, stream: IN, durable: reader}
sink:
  stdout: {}
checkpoint: {path: ./state.db, interval: 50ms}
metrics: {listen: ""}
`, srv.URL())
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	expectRefusal(t, startRun(t, path), `stream "IN"`, "sequence 101", "ends at sequence 5", filepath.Join(dir, "state.db"))
	cons, err := js.Consumer(ctx, "IN", "reader")
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.AckFloor.Stream != 0 {
		t.Fatalf("the consumer acknowledged up to %d", info.AckFloor.Stream)
	}
}
