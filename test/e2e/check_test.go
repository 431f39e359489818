package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckReportsDeniedWrite runs `slspipe check` against an emulator
// process whose key may not write: without --write-test every probed call
// passes (exit 0); with it the write is reported missing, with the RAM
// statement that grants it, and the exit status is 1.
func TestCheckReportsDeniedWrite(t *testing.T) {
	addr := startEmulatorWith(t, "--logstore", "demo/in:2", "--logstore", "demo/out:2",
		"--deny", "slspipe-local=log:PostLogStoreLogs")
	const secret = "slspipe-local-secret"
	path := filepath.Join(t.TempDir(), "p.yaml")
	yaml := fmt.Sprintf(`version: 1
name: e2e-check
source:
  sls:
    endpoint: http://%[1]s
    project: demo
    logstore: in
    access_key_id: slspipe-local
    access_key_secret: ${CHECK_SECRET}
sink:
  sls:
    endpoint: http://%[1]s
    project: demo
    logstore: out
    access_key_id: slspipe-local
    access_key_secret: ${CHECK_SECRET}
`, addr)
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	check := func(args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command(slspipeBin, append([]string{"check"}, args...)...)
		cmd.Env = append(os.Environ(), "CHECK_SECRET="+secret)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			code = ee.ExitCode()
		case err != nil:
			t.Fatal(err)
		}
		t.Logf("slspipe check %s: exit %d\n%s%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
		if strings.Contains(stdout.String()+stderr.String(), secret) {
			t.Error("the access key secret was printed")
		}
		return stdout.String(), stderr.String(), code
	}

	out, _, code := check(path)
	if code != 0 {
		t.Fatalf("check without --write-test exited %d, want 0", code)
	}
	for _, want := range []string{
		"ok       ListShards (log:ListShards)",
		"acs:log:*:*:project/demo/logstore/in",
		"skipped  PostLogStoreLogs (log:PostLogStoreLogs)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}

	out, stderr, code := check("--write-test", path)
	if code != 1 {
		t.Fatalf("check --write-test exited %d, want 1", code)
	}
	for _, want := range []string{
		"MISSING  PostLogStoreLogs (log:PostLogStoreLogs)",
		`add to the policy: {"Effect": "Allow", "Action": ["log:PostLogStoreLogs"], "Resource": "acs:log:*:*:project/demo/logstore/out"}`,
		"RAM policy granting everything missing",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if !strings.Contains(stderr, "1 missing") {
		t.Errorf("stderr = %q, want the count of missing permissions", stderr)
	}
}
