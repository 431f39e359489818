package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slspipe/slspipe/emulator"
	"github.com/slspipe/slspipe/state"
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
	lines := startEmulatorLines(t, 2, append([]string{"--tls-addr", "127.0.0.1:0", "--ca-file", e.caFile,
		"--role", e2eRole, "--oidc-provider", e2eOIDC, "--instance-role", "slspipe-ecs",
		"--token-lifetime", lifetime.String()}, flags...)...)
	var ok1, ok2 bool
	e.addr, ok1 = strings.CutPrefix(lines[0], "listening on ")
	e.tlsAddr, ok2 = strings.CutPrefix(lines[1], "listening with TLS on ")
	if !ok1 || !ok2 {
		t.Fatalf("emulator printed %q", lines)
	}
	return e
}

// awaitWritten waits until the writer is done and total messages are in
// the stream, failing the test after limit or when one of procs exits.
func awaitWritten(t *testing.T, limit time.Duration, procs []*chaosProcess, written <-chan struct{}, stream *streamWatch, total int) {
	t.Helper()
	if !awaitCond(t, "every log in JetStream", limit, procs, func() bool {
		select {
		case <-written:
		default:
			return false
		}
		return stream.msgs() >= uint64(total)
	}) {
		t.Fatalf("%d of %d logs in JetStream; log tail:\n%s", stream.msgs(), total, procs[0].tail(30))
	}
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
			awaitWritten(t, 90*time.Second, procs, written, stream, total)
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

// groupPipeline reads chaos/in in distributed mode of consumer group
// "shared" into the SHARED stream; name, when set, is the consumer_name.
func groupPipeline(addr, natsURL, name string) string {
	consumer := ""
	if name != "" {
		consumer = "\n    consumer_name: " + name
	}
	return slsToJetStream("shared", addr, natsURL, "SHARED", `    consumer_group: shared
    group_mode: distributed
    heartbeat_interval: 1s
    heartbeat_timeout: 3s`+consumer)
}

var assignedRe = regexp.MustCompile(`msg="shard assigned" .*shard=(\d+) consumer=(\S+)`)

// assigned returns the shards each consumer name logged as assigned.
func assigned(p *chaosProcess) map[string][]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string][]string{}
	for _, l := range p.lines {
		if m := assignedRe.FindStringSubmatch(l); m != nil {
			out[m[2]] = append(out[m[2]], m[1])
		}
	}
	return out
}

// TestReplicasWithDefaultNamesShareShards starts two replicas of one
// distributed pipeline on one host without consumer_name: their default
// names differ, the group splits the four shards between them, and every
// log reaches JetStream once.
func TestReplicasWithDefaultNamesShareShards(t *testing.T) {
	const total = 20_000
	e := startSTSEmulator(t, time.Hour, "--logstore", "chaos/in:4")
	ns := startNATS(t)
	path := writeChaosFile(t, groupPipeline(e.addr, ns.URL(), ""))
	a := startChaosRun(t, "replica a", path)
	b := startChaosRun(t, "replica b", path)
	procs := []*chaosProcess{a, b}
	for _, p := range procs {
		p.awaitLog(t, 30*time.Second, `msg="shard assigned"`)
	}
	w := newSLSWriter(t, emulatorClient(e.addr), "chaos", "in", 20_000)
	stopWriting, written := startWriter(t, w, total)
	stream := watchStream(t, ns.URL(), "SHARED")
	awaitWritten(t, 60*time.Second, procs, written, stream, total)
	if err := stopWriting(); err != nil {
		t.Fatal(err)
	}
	na, nb := assigned(a), assigned(b)
	if len(na) != 1 || len(nb) != 1 {
		t.Fatalf("consumer names: a %v, b %v; want one each", na, nb)
	}
	for name := range na {
		if _, same := nb[name]; same {
			t.Fatalf("both replicas are consumer %q", name)
		}
	}
	for _, p := range procs {
		if code := p.stop(t); code != 0 {
			t.Fatalf("%s exited %d; log tail:\n%s", p.name, code, p.tail(30))
		}
	}
	c := tallyStream(t, stream, total)
	t.Logf("consumers %v and %v; %d delivered, %d lost, %d duplicated", na, nb, c.delivered, c.lost, c.duplicated)
	if c.lost != 0 || c.duplicated != 0 {
		t.Errorf("lost %d, duplicated %d; want none", c.lost, c.duplicated)
	}
}

// TestReplicaWithATakenConsumerNameRefusesToStart starts a second replica
// with the explicit consumer_name of a running one: it exits 1 with an
// error naming the collision and the fix, having taken no shard, and the
// first replica delivers everything once.
func TestReplicaWithATakenConsumerNameRefusesToStart(t *testing.T) {
	const total = 10_000
	e := startSTSEmulator(t, time.Hour, "--logstore", "chaos/in:4")
	ns := startNATS(t)
	path := writeChaosFile(t, groupPipeline(e.addr, ns.URL(), "pod-0"))
	a := startChaosRun(t, "replica a", path)
	a.awaitLog(t, 30*time.Second, `msg="shard assigned"`)
	w := newSLSWriter(t, emulatorClient(e.addr), "chaos", "in", 5_000)
	stopWriting, written := startWriter(t, w, total)
	stream := watchStream(t, ns.URL(), "SHARED")
	if !awaitCond(t, "the first logs in JetStream", 30*time.Second, []*chaosProcess{a}, func() bool { return stream.msgs() > 0 }) {
		t.Fatal("nothing reached JetStream")
	}

	b := startChaosRun(t, "replica b", path)
	select {
	case <-b.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the second replica did not stop; log tail:\n%s", b.tail(30))
	}
	if code := b.cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("second replica exited %d, want 1", code)
	}
	if b.logged(`consumer name "pod-0" is in use by another live consumer of consumer group "shared"`, "consumer_name") == 0 {
		t.Fatalf("the second replica did not name the collision; log tail:\n%s", b.tail(30))
	}
	if n := b.logged(`msg="shard assigned"`); n != 0 {
		t.Errorf("the refused replica took %d shards", n)
	}

	awaitWritten(t, 60*time.Second, []*chaosProcess{a}, written, stream, total)
	if err := stopWriting(); err != nil {
		t.Fatal(err)
	}
	if code := a.stop(t); code != 0 {
		t.Fatalf("first replica exited %d", code)
	}
	if c := tallyStream(t, stream, total); c.lost != 0 || c.duplicated != 0 {
		t.Errorf("lost %d, duplicated %d; want none", c.lost, c.duplicated)
	}
}

// TestRunRefusesBadCredentials runs the binary with credentials that
// cannot work: each run exits 1 with one error line naming the provider
// and what to fix, prints no secret, and commits nothing.
func TestRunRefusesBadCredentials(t *testing.T) {
	e := startSTSEmulator(t, time.Second, "--logstore", "chaos/in:2")
	expired := issueExpired(t, e)
	cases := []struct {
		name, source string
		env          []string
		want         []string
	}{
		{"missing OIDC token file", `
    credentials:
      provider: oidc
      role_arn: ` + e2eRole + `
      oidc_provider_arn: ` + e2eOIDC + `
      oidc_token_file: /var/run/secrets/nope/token
      sts_endpoint: ` + e.tlsAddr,
			nil, []string{"credentials provider oidc", "oidc_token_file", "/var/run/secrets/nope/token"}},
		{"unreachable metadata service", `
    credentials:
      provider: ecs_ram_role
      metadata_endpoint: http://127.0.0.1:1`,
			nil, []string{"credentials provider ecs_ram_role", "metadata service at http://127.0.0.1:1", "RAM role attached"}},
		{"role that cannot be assumed", `
    access_key_id: ` + emulator.DefaultAccessKeyID + `
    access_key_secret: ${SECRET}
    credentials:
      provider: assume_role
      base_provider: static
      role_arn: acs:ram::1234567890:role/nobody
      sts_endpoint: ` + e.tlsAddr,
			[]string{"SECRET=" + emulator.DefaultAccessKeySecret, "SSL_CERT_FILE=" + e.caFile},
			[]string{"credentials provider assume_role", "EntityNotExist.Role", "role/nobody", "role_arn"}},
		{"expired static token", `
    access_key_id: ` + expired.AccessKeyID + `
    access_key_secret: ${SECRET}
    security_token: ${TOKEN}
    credentials: {provider: static}`,
			[]string{"SECRET=" + expired.AccessKeySecret, "TOKEN=" + expired.SecurityToken},
			[]string{"credentials provider static", "has expired", "cannot be renewed", "security_token"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "p.yaml")
			yaml := fmt.Sprintf(`version: 1
name: bad-credentials
source:
  sls:
    endpoint: http://%s
    project: chaos
    logstore: in%s
sink: {discard: {}}
checkpoint: {path: ./state.db, interval: 100ms}
metrics: {listen: ""}
`, e.addr, c.source)
			if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			errLine, output := runFailing(t, path, c.env...)
			for _, w := range c.want {
				if !strings.Contains(errLine, w) {
					t.Errorf("error line lacks %q: %s", w, errLine)
				}
			}
			for _, secret := range []string{emulator.DefaultAccessKeySecret, expired.AccessKeySecret, expired.SecurityToken} {
				if strings.Contains(output, secret) {
					t.Error("a secret was printed")
				}
			}
			assertNothingCommitted(t, filepath.Join(dir, "state.db"), "bad-credentials")
		})
	}
}

// metadataCredentials is the metadata service's answer.
type metadataCredentials struct {
	AccessKeyID     string    `json:"AccessKeyId"`
	AccessKeySecret string    `json:"AccessKeySecret"`
	SecurityToken   string    `json:"SecurityToken"`
	Expiration      time.Time `json:"Expiration"`
}

// issueExpired takes the instance role's credentials from the emulator's
// metadata service and returns them once they have expired.
func issueExpired(t *testing.T, e stsEmulator) metadataCredentials {
	t.Helper()
	resp, err := http.Get("http://" + e.addr + "/latest/meta-data/ram/security-credentials/slspipe-ecs")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var c metadataCredentials
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil || c.SecurityToken == "" {
		t.Fatalf("metadata answer: %+v, %v", c, err)
	}
	time.Sleep(time.Until(c.Expiration) + 100*time.Millisecond) // the event awaited is the expiry itself
	return c
}

// assertNothingCommitted checks that the pipeline's local store, if it was
// created at all, holds no checkpoint.
func assertNothingCommitted(t *testing.T, path, pipeline string) {
	t.Helper()
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return
	}
	st, err := state.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cps, err := st.Load(pipeline)
	if err != nil {
		t.Fatal(err)
	}
	if len(cps) != 0 {
		t.Fatalf("%d shards committed, want none: %+v", len(cps), cps)
	}
}

// TestCheckNamesTheCredentialProvider runs `slspipe check` with the ECS
// instance role: the report says which provider answered and when its
// credentials expire, and prints none of them.
func TestCheckNamesTheCredentialProvider(t *testing.T) {
	e := startSTSEmulator(t, time.Hour, "--logstore", "chaos/in:2")
	path := filepath.Join(t.TempDir(), "p.yaml")
	yaml := fmt.Sprintf(`version: 1
name: check-credentials
source:
  sls:
    endpoint: http://%[1]s
    project: chaos
    logstore: in
    credentials:
      provider: ecs_ram_role
      metadata_endpoint: http://%[1]s
sink: {discard: {}}
`, e.addr)
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(slspipeBin, "check", path).CombinedOutput()
	if err != nil {
		t.Fatalf("check: %v\n%s", err, out)
	}
	t.Logf("%s", out)
	line := ""
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "credentials") {
			line = l
		}
	}
	want := regexp.MustCompile(`ok +credentials .*provider ecs_ram_role answered with temporary credentials \(STS token\); expires \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(in (59m\d+s|1h0m0s)\)`)
	if !want.MatchString(line) {
		t.Fatalf("credentials line %q does not match %s", line, want)
	}
	resp, err := http.Get("http://" + e.addr + "/latest/meta-data/ram/security-credentials/slspipe-ecs")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var c metadataCredentials
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{c.AccessKeyID, c.AccessKeySecret, c.SecurityToken} {
		if strings.Contains(string(out), secret) {
			t.Error("check printed the credentials")
		}
	}
}

// startConnectProxy runs an HTTPS proxy that answers every CONNECT by
// dialling target, and counts the CONNECTs it was asked for.
func startConnectProxy(t *testing.T, target string) (url string, connects func() []string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		mu.Lock()
		seen = append(seen, r.Host)
		mu.Unlock()
		up, err := net.Dial("tcp", target)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			up.Close()
			return
		}
		_, _ = conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
		go func() { _, _ = io.Copy(up, conn); up.Close() }()
		_, _ = io.Copy(conn, up)
		conn.Close()
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String(), func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

// TestHTTPSEndpointThroughProxy reaches an HTTPS endpoint as deployed:
// by name, through HTTPS_PROXY, verified with ca_file; with the endpoint
// in NO_PROXY the proxy is not used (and the made-up name does not
// resolve).
func TestHTTPSEndpointThroughProxy(t *testing.T) {
	e := startSTSEmulator(t, time.Hour, "--logstore", "chaos/in:2")
	proxy, connects := startConnectProxy(t, e.tlsAddr)
	path := filepath.Join(t.TempDir(), "p.yaml")
	yaml := fmt.Sprintf(`version: 1
name: through-proxy
source:
  sls:
    endpoint: https://sls-emulator.test
    project: chaos
    logstore: in
    ca_file: %s
    access_key_id: %s
    access_key_secret: %s
sink: {discard: {}}
`, e.caFile, emulator.DefaultAccessKeyID, emulator.DefaultAccessKeySecret)
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	check := func(env ...string) (string, error) {
		cmd := exec.Command(slspipeBin, "check", path)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := check("HTTPS_PROXY="+proxy, "NO_PROXY=")
	if err != nil {
		t.Fatalf("check through the proxy: %v\n%s", err, out)
	}
	if got := connects(); len(got) == 0 || got[0] != "chaos.sls-emulator.test:443" {
		t.Fatalf("proxy saw CONNECT %v, want chaos.sls-emulator.test:443", got)
	}
	before := len(connects())
	out, err = check("HTTPS_PROXY="+proxy, "NO_PROXY=sls-emulator.test")
	if err == nil || !strings.Contains(out, "unreachable") {
		t.Fatalf("with the endpoint in NO_PROXY: %v\n%s", err, out)
	}
	if len(connects()) != before {
		t.Fatal("the proxy was used despite NO_PROXY")
	}
}
