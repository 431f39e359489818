package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slspipe/slspipe/config"
)

func runValidateCmd(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := newValidateCmd()
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	err = cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestValidateOK(t *testing.T) {
	t.Setenv("VALIDATE_TEST_SECRET", "supersecret-value")
	path := writeFile(t, "pipeline.yaml", `
name: demo
source:
  sls:
    endpoint: http://127.0.0.1:9100
    project: demo
    logstore: nginx
    access_key_id: LTAI-supersecret-id
    access_key_secret: ${VALIDATE_TEST_SECRET}
steps:
  - {name: a, role: transform, builtin: identity}
  - {name: b, role: transform, builtin: identity}
sink:
  nats: {}
`)
	stdout, stderr, err := runValidateCmd(t, "--print", path)
	if err != nil {
		t.Fatalf("validate: %v\n%s", err, stderr)
	}
	want := path + ": ok (source sls demo/nginx, 2 steps, sink nats)\n"
	if !strings.HasPrefix(stdout, want) {
		t.Errorf("stdout = %q, want it to start with %q", stdout, want)
	}
	if strings.Contains(stdout+stderr, "supersecret") {
		t.Errorf("a secret was printed:\n%s%s", stdout, stderr)
	}
	if !strings.Contains(stdout, "access_key_secret: <redacted>") {
		t.Errorf("--print should show the effective configuration:\n%s", stdout)
	}
}

func TestValidateListsEveryProblem(t *testing.T) {
	path := writeFile(t, "broken.yaml", `
name: demo
source:
  sls:
    endpoint: http://127.0.0.1:9100
    project: demo
    logstore: nginx
    max_per_fetch: 0
    access_key_secret: [supersecret]
sink:
  kafka: {}
`)
	stdout, stderr, err := runValidateCmd(t, path)
	if err == nil || err.Error() != "3 errors in "+path {
		t.Fatalf("err = %v; want \"3 errors in %s\"", err, path)
	}
	if stdout != "" {
		t.Errorf("nothing should go to stdout on failure, got %q", stdout)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	wantPrefixes := []string{path + ":8:20: ", path + ":9:24: ", path + ":11:3: "}
	if len(lines) != len(wantPrefixes) {
		t.Fatalf("stderr has %d lines, want %d:\n%s", len(lines), len(wantPrefixes), stderr)
	}
	for i, p := range wantPrefixes {
		if !strings.HasPrefix(lines[i], p) {
			t.Errorf("line %d = %q, want prefix %q", i, lines[i], p)
		}
	}
	if strings.Contains(stderr, "supersecret") {
		t.Errorf("a secret was printed:\n%s", stderr)
	}
}

func TestValidateRunsExtraChecks(t *testing.T) {
	path := writeFile(t, "pipeline.yaml", "name: demo\nsource: {generate: {}}\nsink: {discard: {}}\n")
	check := func(_ context.Context, p *config.Pipeline) []config.Error {
		return []config.Error{{File: p.File, Line: 2, Column: 9, Msg: "module rejected"}}
	}
	var stderr bytes.Buffer
	err := runValidate(context.Background(), &bytes.Buffer{}, &stderr, path, false, []pipelineCheck{check})
	if err == nil || err.Error() != "1 error in "+path {
		t.Fatalf("err = %v", err)
	}
	if got, want := stderr.String(), path+":2:9: module rejected\n"; got != want {
		t.Errorf("stderr = %q, want %q", got, want)
	}
}

func TestValidateMissingFile(t *testing.T) {
	_, _, err := runValidateCmd(t, filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("err = %v", err)
	}
}
