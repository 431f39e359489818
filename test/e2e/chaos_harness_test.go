package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/slspipe/slspipe/emulator"
	"github.com/slspipe/slspipe/emulator/faults"
)

// chaosRow is one line of the chaos table.
type chaosRow struct {
	scenario   string
	produced   int
	delivered  int // distinct records that arrived
	lost       int
	duplicated int
	outOfOrder string // records after a later record of their key, or "—"
	faults     string
	wall       time.Duration
}

// chaosTable collects the rows of TestChaos's subtests.
type chaosTable struct {
	mu   sync.Mutex
	rows []chaosRow
}

func (tb *chaosTable) add(r chaosRow) {
	tb.mu.Lock()
	tb.rows = append(tb.rows, r)
	tb.mu.Unlock()
}

// markdown renders the table.
func (tb *chaosTable) markdown(title string) string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n", title)
	b.WriteString("| scenario | records produced | delivered | lost | duplicated | out of key order | faults injected | wall time |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---|---:|\n")
	for _, r := range tb.rows {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %s | %s | %.1fs |\n",
			r.scenario, r.produced, r.delivered, r.lost, r.duplicated, r.outOfOrder, r.faults, r.wall.Seconds())
	}
	b.WriteString("\nDelivered, lost and duplicated count the records' own sequence numbers. Lost must be 0; duplicated must be 0 into\n" +
		"JetStream (de-duplicated by Nats-Msg-Id) and is counted for the SLS sink (at-least-once). Out of key order counts records\n" +
		"that arrived after a later record of the same hash key: it must be 0 through the NATS outage and the split and merge; after a\n" +
		"SIGKILL a restart replays from the checkpoint, and it is not defined for the SLS sink, whose replays come later.\n")
	return b.String()
}

// chaosRecord is what the chaos writers put into every record: a sequence
// number unique over the run, a hash key and the record's sequence number
// within its key.
type chaosRecord struct {
	Seq  string `json:"seq"`
	Key  string `json:"key"`
	KSeq string `json:"kseq"`
}

// chaosKeys is how many hash keys the writers spread records over.
const chaosKeys = 32

func chaosKey(i int) string { return fmt.Sprintf("k%02d", i) }

// chaosTally compares what was produced with what arrived, by the records'
// own sequence numbers (not by de-duplication ids, so that a replay under
// another id would count as a duplicate).
type chaosTally struct {
	produced   int
	messages   int // everything that arrived, duplicates included
	delivered  int // distinct sequence numbers
	lost       int
	duplicated int
	outOfOrder int // records that arrived after a later record of their key
	unexpected int // sequence numbers nobody produced

	seen    []bool         // by sequence number
	maxKSeq map[string]int // by key, the highest kseq arrived
}

func newTally(produced int) *chaosTally {
	return &chaosTally{produced: produced, seen: make([]bool, produced), maxKSeq: map[string]int{}}
}

// see counts one arrived record.
func (c *chaosTally) see(r chaosRecord) {
	c.messages++
	seq, err := strconv.Atoi(r.Seq)
	if err != nil || seq < 0 || seq >= len(c.seen) {
		c.unexpected++
		return
	}
	if c.seen[seq] {
		c.duplicated++
	} else {
		c.seen[seq] = true
		c.delivered++
	}
	if k, err := strconv.Atoi(r.KSeq); err == nil {
		if last, ok := c.maxKSeq[r.Key]; ok && k < last {
			c.outOfOrder++
		} else {
			c.maxKSeq[r.Key] = k
		}
	}
}

func (c *chaosTally) finish() { c.lost = c.produced - c.delivered }

func (c *chaosTally) row(scenario, faults string, wall time.Duration) chaosRow {
	return chaosRow{scenario: scenario, produced: c.produced, delivered: c.delivered, lost: c.lost,
		duplicated: c.duplicated, outOfOrder: strconv.Itoa(c.outOfOrder), faults: faults, wall: wall}
}

// tallyStream reads the whole stream and tallies its records.
func tallyStream(t *testing.T, w *streamWatch, produced int) *chaosTally {
	t.Helper()
	ctx := context.Background()
	s, err := w.js.Stream(ctx, w.name)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	c := newTally(produced)
	for {
		batch, err := cons.Fetch(5000, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			var r chaosRecord
			if err := json.Unmarshal(m.Data(), &r); err != nil {
				t.Fatalf("message %q is not a chaos record: %v", m.Data(), err)
			}
			c.see(r)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	c.finish()
	return c
}

// tallySLS reads every shard of project/logstore and tallies its records.
func tallySLS(t *testing.T, client sls.ClientInterface, project, logstore string, produced int) *chaosTally {
	t.Helper()
	c := newTally(produced)
	for _, logs := range readAll(t, client, project, logstore) {
		for _, l := range logs {
			m := contents(l)
			c.see(chaosRecord{Seq: m["seq"], Key: m["key"], KSeq: m["kseq"]})
		}
	}
	c.finish()
	return c
}

// slsWriter writes numbered records into an SLS logstore, a log group of
// one key at a time, routed by the MD5 of the key, at a steady rate.
type slsWriter struct {
	client            sls.ClientInterface
	project, logstore string
	rate              float64 // records per second
	perGroup          int
	written           atomic.Int64
}

func newSLSWriter(t *testing.T, client sls.ClientInterface, project, logstore string, rate float64) *slsWriter {
	t.Helper()
	// One call before the concurrent ones: the SDK client finishes its
	// lazy, unsynchronised set-up on its first request.
	if _, err := client.GetLogStore(project, logstore); err != nil {
		t.Fatal(err)
	}
	return &slsWriter{client: client, project: project, logstore: logstore, rate: rate, perGroup: 20}
}

// records returns how many records were written so far.
func (w *slsWriter) records() int { return int(w.written.Load()) }

// run writes records until total are written (total < 0: until ctx
// ends). A write is retried: the chaos scenarios do not fault writes to
// the source logstore, so a failure is a transient network error.
func (w *slsWriter) run(ctx context.Context, total int) error {
	hashKeys := make([]string, chaosKeys)
	for i := range hashKeys {
		sum := md5.Sum([]byte(chaosKey(i)))
		hashKeys[i] = hex.EncodeToString(sum[:])
	}
	kseq := make([]int, chaosKeys)
	pad := strings.Repeat("chaos-", 16)
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for seq, g := 0, 0; total < 0 || seq < total; g++ {
		key := g % chaosKeys
		n := w.perGroup
		if total >= 0 {
			n = min(n, total-seq)
		}
		lg := &sls.LogGroup{Topic: proto.String("chaos"), Source: proto.String("127.0.0.1"), Logs: make([]*sls.Log, n)}
		now := uint32(time.Now().Unix())
		for i := range n {
			lg.Logs[i] = &sls.Log{Time: proto.Uint32(now), Contents: []*sls.LogContent{
				{Key: proto.String("seq"), Value: proto.String(strconv.Itoa(seq + i))},
				{Key: proto.String("key"), Value: proto.String(chaosKey(key))},
				{Key: proto.String("kseq"), Value: proto.String(strconv.Itoa(kseq[key] + i))},
				{Key: proto.String("pad"), Value: proto.String(pad)},
			}}
		}
		var err error
		for attempt := 0; attempt < 20; attempt++ {
			if err = w.client.PostLogStoreLogs(w.project, w.logstore, lg, &hashKeys[key]); err == nil || ctx.Err() != nil {
				break
			}
			timer.Reset(50 * time.Millisecond)
			select {
			case <-ctx.Done():
			case <-timer.C:
			}
		}
		if err == nil {
			seq += n
			kseq[key] += n
			w.written.Store(int64(seq))
		}
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("write records %d-%d: %w", seq, seq+n-1, err)
		}
		due := start.Add(time.Duration(float64(seq) / w.rate * float64(time.Second)))
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return nil
			case <-timer.C:
			}
		}
	}
	return nil
}

// startWriter runs w in the background until total records are written or
// the test stops it; stop cancels it and returns its error.
func startWriter(t *testing.T, w *slsWriter, total int) (stop func() error, done <-chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	fin := make(chan struct{})
	var err error
	go func() {
		defer close(fin)
		err = w.run(ctx, total)
	}()
	var once sync.Once
	stop = func() error {
		once.Do(func() { cancel(); <-fin })
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop, fin
}

// chaosProcess is a started `slspipe run` whose stderr lines are kept, so
// that tests can await what it logs.
type chaosProcess struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed once the process was waited for

	mu      sync.Mutex // guards lines and changed
	lines   []string
	changed chan struct{} // closed and replaced on every new line
}

// startChaosRun starts `slspipe run path` with extra environment entries.
func startChaosRun(t *testing.T, name, path string, env ...string) *chaosProcess {
	t.Helper()
	p := &chaosProcess{name: name, done: make(chan struct{}), changed: make(chan struct{})}
	p.cmd = exec.Command(slspipeBin, "run", path)
	p.cmd.Env = append(os.Environ(), env...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			close(p.changed)
			p.changed = make(chan struct{})
			p.mu.Unlock()
		}
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// exited reports whether the process has ended.
func (p *chaosProcess) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// tail returns the last n lines it logged.
func (p *chaosProcess) tail(n int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines[max(0, len(p.lines)-n):], "\n")
}

// logged returns how many lines contain all of parts.
func (p *chaosProcess) logged(parts ...string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, l := range p.lines {
		if containsAll(l, parts) {
			n++
		}
	}
	return n
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// awaitLog waits until a line containing all of parts was logged.
func (p *chaosProcess) awaitLog(t *testing.T, limit time.Duration, parts ...string) {
	t.Helper()
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		found := false
		for _, l := range p.lines {
			if containsAll(l, parts) {
				found = true
				break
			}
		}
		changed := p.changed
		p.mu.Unlock()
		if found {
			return
		}
		select {
		case <-changed:
		case <-p.done:
			// A last line may have arrived with the end.
			if p.logged(parts...) > 0 {
				return
			}
			t.Fatalf("%s exited before logging %q; log tail:\n%s", p.name, parts, p.tail(40))
		case <-deadline.C:
			t.Fatalf("%s did not log %q within %s; log tail:\n%s", p.name, parts, limit, p.tail(40))
		}
	}
}

// kill ends the process with SIGKILL and waits for it.
func (p *chaosProcess) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !p.exited() {
		t.Fatal(err)
	}
	<-p.done
}

// stop ends the process with SIGTERM and returns its exit code. It first
// awaits the pipeline's start: a signal before slspipe handles signals
// would just kill it.
func (p *chaosProcess) stop(t *testing.T) int {
	t.Helper()
	if !p.exited() {
		p.awaitLog(t, 30*time.Second, `msg="pipeline started"`)
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not stop within 60s of SIGTERM; log tail:\n%s", p.name, p.tail(40))
	}
	return p.cmd.ProcessState.ExitCode()
}

// awaitCond polls a condition held by other processes until it holds or
// limit passes; it fails the test if one of procs exits meanwhile.
func awaitCond(t *testing.T, what string, limit time.Duration, procs []*chaosProcess, cond func() bool) bool {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		for _, p := range procs {
			if p.exited() {
				t.Fatalf("%s exited (code %d) while awaiting %s; log tail:\n%s", p.name, p.cmd.ProcessState.ExitCode(), what, p.tail(40))
			}
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// writeChaosFile writes a pipeline file into a new directory.
func writeChaosFile(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pipeline.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// slsToJetStream returns a pipeline that reads chaos/in from the emulator
// at addr into the stream of the NATS server at natsURL; source holds
// extra source settings, indented by four spaces.
func slsToJetStream(name, addr, natsURL, stream, source string) string {
	return fmt.Sprintf(`version: 1
name: %s
source:
  sls:
    endpoint: http://%s
    project: chaos
    logstore: in
    access_key_id: %s
    access_key_secret: %s
    fetch_interval: 20ms
    max_per_fetch: 50
    shard_discovery_interval: 1s
%s
sink:
  nats:
    url: %s
    subject: chaos.%s
    stream: %s
    create_stream: true
    duplicate_window: 10m
checkpoint: {path: ./state.db, interval: 100ms}
limits: {shutdown_timeout: 20s}
metrics: {listen: ""}
`, name, addr, emulator.DefaultAccessKeyID, emulator.DefaultAccessKeySecret, source, natsURL, name, stream)
}

// faultsAdmin steers the fault injector of the emulator process at addr.
type faultsAdmin struct{ url string }

func newFaultsAdmin(addr string) faultsAdmin {
	return faultsAdmin{url: "http://" + addr + "/_emulator/faults"}
}

func (a faultsAdmin) call(t *testing.T, method string, body any) faults.State {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, a.url, rd)
	if err != nil {
		t.Fatal(err)
	}
	// As with curl: the emulator's secret as a bearer token.
	req.Header.Set("Authorization", "Bearer "+emulator.DefaultAccessKeySecret)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st faults.State
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: status %d", method, a.url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// plan replaces the emulator's fault plan.
func (a faultsAdmin) plan(t *testing.T, p faults.Plan) { a.call(t, http.MethodPut, p) }

// clear removes every fault and returns the plan as it stood, with the
// hits of each fault.
func (a faultsAdmin) clear(t *testing.T) faults.State {
	t.Helper()
	st := a.call(t, http.MethodGet, nil)
	a.plan(t, faults.Plan{})
	return st
}

// describeFaults summarises the errors injected, by kind and status.
func describeFaults(st faults.State) string {
	type kindStatus struct {
		kind   faults.Kind
		status int
	}
	hits := map[kindStatus]int{}
	var order []kindStatus
	for _, f := range st.Faults {
		k := kindStatus{f.Match.Kind, f.Status}
		if _, ok := hits[k]; !ok {
			order = append(order, k)
		}
		hits[k] += f.Hits
	}
	var parts []string
	for _, k := range order {
		parts = append(parts, fmt.Sprintf("%d× %s %d", hits[k], k.kind, k.status))
	}
	return strings.Join(parts, ", ")
}
