package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/internal/browsertest"
)

// freeLoopback returns a loopback address with a port nobody listens on.
func freeLoopback(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// devProcess is a running `slspipe dev` whose stdout lines arrive on lines.
type devProcess struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr strings.Builder
}

func startDev(t *testing.T, pipeline string, args ...string) *devProcess {
	t.Helper()
	d := &devProcess{lines: make(chan string, 1024)}
	d.cmd = exec.Command(slspipeBin, append([]string{"dev", pipeline}, args...)...)
	d.cmd.Stderr = &d.stderr
	out, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(d.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case d.lines <- sc.Text():
			default: // nobody reads any more
			}
		}
	}()
	t.Cleanup(func() {
		if d.cmd.ProcessState == nil {
			_ = d.cmd.Process.Kill()
			_ = d.cmd.Wait()
		}
	})
	return d
}

// line returns the next stdout line.
func (d *devProcess) line(t *testing.T) string {
	t.Helper()
	select {
	case l, ok := <-d.lines:
		if !ok {
			t.Fatalf("slspipe dev exited; stderr:\n%s", d.stderr.String())
		}
		return l
	case <-time.After(60 * time.Second):
		t.Fatalf("slspipe dev printed nothing for 60s; stderr:\n%s", d.stderr.String())
	}
	return ""
}

// waitListening waits until url answers 200, while dev runs.
func waitListening(t *testing.T, url string, dev *devProcess) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer within 60s (%v); stderr:\n%s", url, err, dev.stderr.String())
		}
		select {
		case _, ok := <-dev.lines:
			if !ok {
				t.Fatalf("slspipe dev exited; stderr:\n%s", dev.stderr.String())
			}
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func getStatus(t *testing.T, base string) engine.Status {
	t.Helper()
	resp, err := http.Get(base + "api/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s engine.Status
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// pageShard is one row of the page's shard table.
type pageShard struct {
	Key    string `json:"key"`
	State  string `json:"state"`
	Owner  string `json:"owner"`
	Behind string `json:"behind"`
	Lag    string `json:"lag"`
}

const pageShardsJS = `[...document.querySelectorAll("#shards tbody tr[data-key]")].map(tr => ({
	key: tr.dataset.key,
	state: tr.querySelector('[data-col=state]').innerText.trim(),
	owner: tr.querySelector('[data-col=owner]').innerText.trim(),
	behind: tr.querySelector('[data-col=behind]').innerText.trim(),
	lag: tr.querySelector('[data-col=lag]').innerText.trim(),
}))`

// TestStatusPageInBrowser runs `slspipe dev` (SLS emulator, generated logs,
// embedded JetStream), opens the status page its first line names in a
// headless Chromium, waits for the plots to show data and compares the
// shard table with /api/status. Then it stops the pipeline: the page must
// say so and grey out what it shows instead of passing it off as live.
//
// With SLSPIPE_STATUS_SCREENSHOT=path it also saves a screenshot there
// (docs/status-page.png is made that way).
func TestStatusPageInBrowser(t *testing.T) {
	ctx := browsertest.New(t, 1280, 1000)
	slsAddr, natsAddr, metricsAddr := freeLoopback(t), freeLoopback(t), freeLoopback(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "pipeline.yaml")
	yaml := fmt.Sprintf(`version: 1
name: status-page
source:
  sls:
    endpoint: http://%s
    project: demo
    logstore: nginx
    access_key_id: status-key
    access_key_secret: status-secret
    fetch_interval: 50ms
steps:
  - name: decode
    role: deserialize
    builtin: sls
  - name: encode
    role: serialize
    builtin: json
sink:
  nats:
    url: nats://%s
    subject: logs.nginx
checkpoint: {interval: 500ms}
limits: {shutdown_timeout: 10s}
metrics: {listen: "%s"}
`, slsAddr, natsAddr, metricsAddr)
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	dev := startDev(t, path, "--rate", "1500", "--shards", "3", "--progress", "0")

	// The first line points to the page.
	first := dev.line(t)
	base := "http://" + metricsAddr + "/"
	if !strings.HasPrefix(first, "dev: status page "+base) {
		t.Fatalf("first line of slspipe dev = %q, want it to start with \"dev: status page %s\"", first, base)
	}
	waitListening(t, base+"healthz", dev)

	browsertest.Navigate(t, ctx, base)
	browsertest.WaitTrue(t, ctx, "the throughput plot to show data",
		`+document.getElementById("plot-rate").dataset.points >= 4 && +document.getElementById("plot-lat").dataset.points >= 2`, 60*time.Second)
	browsertest.WaitTrue(t, ctx, "three shards with their head read",
		`document.querySelectorAll("#shards tbody tr[data-key]").length === 3 &&
		 [...document.querySelectorAll("#shards [data-col=behind]")].every(td => td.innerText.includes("logs"))`, 30*time.Second)
	if live := browsertest.Eval[string](t, ctx, `document.body.dataset.live`); live != "true" {
		t.Fatalf("page of a running pipeline has data-live=%q", live)
	}
	if pill := browsertest.Eval[string](t, ctx, `document.getElementById("state").innerText.trim().toLowerCase()`); pill != "running" {
		t.Fatalf("state pill says %q, want running", pill)
	}

	rows := browsertest.Eval[[]pageShard](t, ctx, pageShardsJS)
	api := getStatus(t, base)
	var want, got []string
	for _, sh := range api.Shards {
		want = append(want, fmt.Sprintf("%s/%d %s", sh.Logstore, sh.Shard, sh.State))
		if sh.BehindGroups == nil {
			t.Errorf("/api/status shard %s/%d has no behind_groups", sh.Logstore, sh.Shard)
		}
	}
	for _, r := range rows {
		got = append(got, r.Key+" "+r.State)
		if r.Owner != "this process" {
			t.Errorf("shard %s owner shows %q, want \"this process\" (no consumer group)", r.Key, r.Owner)
		}
		if r.Lag == "" || r.Lag == "–" {
			t.Errorf("shard %s shows no lag", r.Key)
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) || len(want) != 3 {
		t.Fatalf("page shards %q, /api/status shards %q", got, want)
	}
	steps := browsertest.Eval[[]string](t, ctx, `[...document.querySelectorAll("#steps tbody tr[data-step]")].map(tr => tr.dataset.step)`)
	if !slices.Equal(steps, []string{"encode"}) {
		t.Errorf("steps table lists %q, want the serializer \"encode\" (the sls deserializer runs natively)", steps)
	}
	// slspipe status prints the same shards.
	out, err := exec.Command(slspipeBin, "status", metricsAddr).CombinedOutput()
	if err != nil {
		t.Fatalf("slspipe status %s: %v\n%s", metricsAddr, err, out)
	}
	if !strings.HasPrefix(string(out), "pipeline status-page: RUNNING") {
		t.Errorf("slspipe status output starts %q, want the running pipeline", strings.SplitN(string(out), "\n", 2)[0])
	}
	for _, sh := range api.Shards {
		row := regexp.MustCompile(fmt.Sprintf(`(?m)^%s/%d\s+reading\s+-\s+\S+\s+\d+\s+\d+\s+\d+\s`, sh.Logstore, sh.Shard))
		if !row.Match(out) {
			t.Errorf("slspipe status has no reading row with heads for shard %d:\n%s", sh.Shard, out)
		}
	}
	if shot := os.Getenv("SLSPIPE_STATUS_SCREENSHOT"); shot != "" {
		if err := os.WriteFile(shot, browsertest.Screenshot(t, ctx), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// A phone: nothing wider than the screen but the tables, which scroll.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(3))); err != nil {
		t.Fatal(err)
	}
	browsertest.WaitTrue(t, ctx, "the page to fit a phone's width",
		`document.documentElement.scrollWidth <= window.innerWidth && document.getElementById("plot-rate").getBoundingClientRect().width <= window.innerWidth`, 10*time.Second)

	// Stop the pipeline: the page must say it stopped, not go on as live.
	if err := dev.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := dev.cmd.Wait(); err != nil {
		t.Fatalf("slspipe dev after SIGINT: %v; stderr:\n%s", err, dev.stderr.String())
	}
	browsertest.WaitTrue(t, ctx, "the page to show that the pipeline stopped",
		`document.body.dataset.live === "false" && document.body.dataset.state === "unreachable"`, 20*time.Second)
	banner := browsertest.Eval[string](t, ctx, `(() => { const b = document.getElementById("banner");
		return getComputedStyle(b).display === "none" ? "" : b.innerText })()`)
	if !strings.Contains(banner, "stopped") || !strings.Contains(banner, "not live") {
		t.Errorf("banner of a stopped pipeline = %q, want it to say it stopped and that the figures are not live", banner)
	}
	if f := browsertest.Eval[string](t, ctx, `getComputedStyle(document.getElementById("plot-rate")).filter`); !strings.Contains(f, "grayscale") {
		t.Errorf("plots of a stopped pipeline have filter %q, want them greyed", f)
	}
}
