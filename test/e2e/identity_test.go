package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slspipe/slspipe/emulator"
)

const (
	e2eRole = "acs:ram::1234567890:role/slspipe"
	e2eOIDC = "acs:ram::1234567890:oidc-provider/ack-rrsa"
)

// stsEmulator is an emulator process with an STS, a metadata service and
// an HTTPS listener.
type stsEmulator struct {
	addr, tlsAddr, caFile string
}

// startSTSEmulator runs `slspipe emulator` with temporary credentials of
// the given lifetime, the chaos/in logstore and HTTPS.
func startSTSEmulator(t *testing.T, lifetime time.Duration, flags ...string) stsEmulator {
	t.Helper()
	e := stsEmulator{caFile: filepath.Join(t.TempDir(), "emulator-ca.pem")}
	args := append([]string{"emulator", "--addr", "127.0.0.1:0", "--tls-addr", "127.0.0.1:0", "--ca-file", e.caFile,
		"--role", e2eRole, "--oidc-provider", e2eOIDC, "--instance-role", "slspipe-ecs",
		"--token-lifetime", lifetime.String()}, flags...)
	cmd := exec.Command(slspipeBin, args...)
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
	for _, p := range []struct {
		prefix string
		to     *string
	}{{"listening on ", &e.addr}, {"listening with TLS on ", &e.tlsAddr}} {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("emulator did not say where it listens: %v", err)
		}
		v, ok := strings.CutPrefix(strings.TrimSpace(line), p.prefix)
		if !ok {
			t.Fatalf("emulator printed %q, want %q…", line, p.prefix)
		}
		*p.to = v
	}
	go func() { _, _ = io.Copy(io.Discard, rd) }()
	return e
}

// writeOIDCToken writes a service account token as RRSA projects it.
func writeOIDCToken(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "token")
	tok := emulator.NewOIDCToken("system:serviceaccount:logs:slspipe", "https://oidc.example", time.Hour)
	if err := os.WriteFile(path, []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

var metricsAddrRe = regexp.MustCompile(`msg="serving metrics" addr=(\S+)`)

// scrape returns the sum of the samples of metric name whose label set
// contains labels (`provider="oidc"`), from the process's /metrics.
func scrape(t *testing.T, p *chaosProcess, name, labels string) float64 {
	t.Helper()
	p.awaitLog(t, 30*time.Second, `msg="serving metrics"`)
	var addr string
	p.mu.Lock()
	for _, l := range p.lines {
		if m := metricsAddrRe.FindStringSubmatch(l); m != nil {
			addr = m[1]
		}
	}
	p.mu.Unlock()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	sum := 0.0
	for _, l := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(l, name+"{") || !strings.Contains(l, labels) {
			continue
		}
		f := strings.Fields(l)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

// TestCredentialsRotateUnderLoad moves 200,000 logs from SLS into
// JetStream while every temporary credential of the emulator lives two
// seconds, once with the ECS instance role (metadata service) and once
// with RRSA (AssumeRoleWithOIDC through the default chain, over HTTPS):
// nothing is lost or duplicated, the pipeline never restarts, and the
// renewals show in slspipe_sls_credentials_renewals_total.
func TestCredentialsRotateUnderLoad(t *testing.T) {
	const total = 200_000
	const lifetime = 2 * time.Second
	for _, tc := range []struct {
		name     string
		provider string // the label of the renewals
		pipeline func(e stsEmulator, natsURL string) (yaml string, env []string)
	}{
		{"metadata service", "ecs_ram_role", func(e stsEmulator, natsURL string) (string, []string) {
			return rotationPipeline("http://"+e.addr, natsURL, `
    credentials:
      provider: ecs_ram_role
      metadata_endpoint: http://`+e.addr), nil
		}},
		{"oidc", "chain/oidc", func(e stsEmulator, natsURL string) (string, []string) {
			return rotationPipeline("https://"+e.tlsAddr, natsURL, `
    ca_file: `+e.caFile+`
    credentials:
      sts_endpoint: `+e.tlsAddr), []string{
					"ALIBABA_CLOUD_ROLE_ARN=" + e2eRole,
					"ALIBABA_CLOUD_OIDC_PROVIDER_ARN=" + e2eOIDC,
					"ALIBABA_CLOUD_OIDC_TOKEN_FILE=" + writeOIDCToken(t),
					"SSL_CERT_FILE=" + e.caFile, // STS is called over HTTPS only
				}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			began := time.Now()
			e := startSTSEmulator(t, lifetime, "--logstore", "chaos/in:4")
			ns := startNATS(t)
			yaml, env := tc.pipeline(e, ns.URL())
			run := startChaosRun(t, "slspipe run", writeChaosFile(t, yaml), env...)
			run.awaitLog(t, 30*time.Second, `msg="pipeline started"`)

			w := newSLSWriter(t, emulatorClient(e.addr), "chaos", "in", 40_000)
			w.perGroup = 200
			stopWriting, written := startWriter(t, w, total)
			stream := watchStream(t, ns.URL(), "ROTATE")
			procs := []*chaosProcess{run}
			if !awaitCond(t, "every log in JetStream", 90*time.Second, procs, func() bool {
				select {
				case <-written:
				default:
					return false
				}
				return stream.msgs() >= total
			}) {
				t.Fatalf("%d of %d logs in JetStream; log tail:\n%s", stream.msgs(), total, run.tail(30))
			}
			if err := stopWriting(); err != nil {
				t.Fatal(err)
			}
			renewals := func() float64 {
				return scrape(t, run, "slspipe_sls_credentials_renewals_total", `provider="`+tc.provider+`"`)
			}
			if !awaitCond(t, "five renewals", 30*time.Second, procs, func() bool { return renewals() >= 5 }) {
				t.Fatalf("renewals = %v, want at least 5", renewals())
			}
			refused := scrape(t, run, "slspipe_sls_credentials_refused_total", "")
			renewed := renewals()
			if code := run.stop(t); code != 0 {
				t.Fatalf("slspipe run exited %d; log tail:\n%s", code, run.tail(30))
			}
			c := tallyStream(t, stream, total)
			t.Logf("%s: %d delivered, %d lost, %d duplicated, %v renewals, %v refused tokens re-signed, %.1fs",
				tc.name, c.delivered, c.lost, c.duplicated, renewed, refused, time.Since(began).Seconds())
			if c.lost != 0 || c.duplicated != 0 || c.unexpected != 0 {
				t.Errorf("lost %d, duplicated %d, unexpected %d; want none", c.lost, c.duplicated, c.unexpected)
			}
			if n := run.logged(`msg="pipeline started"`); n != 1 {
				t.Errorf("the pipeline started %d times, want once", n)
			}
			if n := run.logged("level=ERROR"); n != 0 {
				t.Errorf("%d error lines; log tail:\n%s", n, run.tail(30))
			}
		})
	}
}

// rotationPipeline reads chaos/in at endpoint, with no access key in the
// file, into the ROTATE stream; source holds the credential settings.
func rotationPipeline(endpoint, natsURL, source string) string {
	return fmt.Sprintf(`version: 1
name: rotate
source:
  sls:
    endpoint: %s
    project: chaos
    logstore: in
    fetch_interval: 20ms
    max_per_fetch: 100
    shard_discovery_interval: 1s%s
sink:
  nats:
    url: %s
    subject: chaos.rotate
    stream: ROTATE
    create_stream: true
    duplicate_window: 10m
checkpoint: {path: ./state.db, interval: 100ms}
limits: {shutdown_timeout: 20s}
metrics: {listen: "127.0.0.1:0"}
`, endpoint, source, natsURL)
}
