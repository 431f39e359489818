package e2e

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slspipe/slspipe/emulator"
)

// TestRunRefusesBadSLSInput runs the binary against an unknown logstore,
// with a wrong secret and against an endpoint nothing listens on: each ends
// promptly with exit code 1 and one error line naming the logstore, the
// endpoint and what went wrong, and the secret is never printed.
func TestRunRefusesBadSLSInput(t *testing.T) {
	addr := startEmulatorProcess(t, "demo/nginx:2")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := ln.Addr().String()
	ln.Close() // nothing listens there any more

	cases := []struct {
		name, endpoint, logstore, secret string
		want                             []string
	}{
		{"unknown logstore", addr, "nope", emulator.DefaultAccessKeySecret, []string{`logstore "nope"`, addr, "LogStoreNotExist"}},
		{"wrong credentials", addr, "nginx", "not-the-secret-42", []string{`logstore "nginx"`, addr, "401 SignatureNotMatch"}},
		{"unreachable endpoint", deadAddr, "nginx", emulator.DefaultAccessKeySecret, []string{deadAddr, "unreachable", "connection refused"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "p.yaml")
			yaml := fmt.Sprintf(`version: 1
name: bad-input
source:
  sls:
    endpoint: http://%s
    project: demo
    logstore: %s
    access_key_id: %s
    access_key_secret: ${SECRET}
sink: {discard: {}}
checkpoint: {path: ./state.db}
metrics: {listen: ""}
`, c.endpoint, c.logstore, emulator.DefaultAccessKeyID)
			if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			errLine, output := runFailing(t, path, "SECRET="+c.secret)
			for _, w := range c.want {
				if !strings.Contains(errLine, w) {
					t.Errorf("error line lacks %q: %s", w, errLine)
				}
			}
			if strings.Contains(output, c.secret) {
				t.Error("the access key secret was printed")
			}
		})
	}
}

// runFailing runs `slspipe run path` with extra environment entries, which
// must end with exit code 1 and exactly one "slspipe: " error line; it
// returns that line and everything the process printed.
func runFailing(t *testing.T, path string, env ...string) (errLine, output string) {
	t.Helper()
	cmd := exec.Command(slspipeBin, "run", path)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit %v, want 1; stderr:\n%s", err, stderr.String())
	}
	var errLines []string
	for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if strings.HasPrefix(l, "slspipe: ") {
			errLines = append(errLines, l)
		}
	}
	if len(errLines) != 1 {
		t.Fatalf("want one error line, got %d:\n%s", len(errLines), stderr.String())
	}
	return errLines[0], stdout.String() + stderr.String()
}
