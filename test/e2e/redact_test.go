package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestURLCredentialsAreNeverPrinted gives the binary URLs that carry user
// information (user:password@ or token@) where a user would: a mistyped SLS
// endpoint, a NATS URL with a password, a dev run pointed at a remote
// server, a preflight against a server that is down. Every command names the
// URL it is about, with its host, and never prints the password.
func TestURLCredentialsAreNeverPrinted(t *testing.T) {
	const pass = "hunter2-not-for-logs"
	cases := []struct {
		name string
		args []string // after the pipeline path is appended
		yaml string
		want []string // each must appear in the output
	}{
		{
			name: "validate: SLS endpoint with user information",
			args: []string{"validate"},
			yaml: `version: 1
name: redact
source:
  sls:
    endpoint: http://admin:` + pass + `@127.0.0.1:9100
    project: demo
    logstore: nginx
sink:
  stdout: {}
`,
			want: []string{"source.sls.endpoint", "127.0.0.1:9100", "<redacted>"},
		},
		{
			name: "validate: NATS URL with a wrong scheme",
			args: []string{"validate"},
			yaml: `version: 1
name: redact
source:
  generate: {count: 1}
sink:
  nats:
    url: http://bob:` + pass + `@nats.example.com:4222
    subject: out
`,
			want: []string{"sink.nats.url", "nats.example.com:4222", "<redacted>"},
		},
		{
			name: "validate --print: NATS URL with a password",
			args: []string{"validate", "--print"},
			yaml: `version: 1
name: redact
source:
  generate: {count: 1}
sink:
  nats:
    url: nats://bob:` + pass + `@nats.example.com:4222
    subject: out
`,
			want: []string{"url: nats://<redacted>@nats.example.com:4222"},
		},
		{
			name: "dev: NATS URL that is not a loopback address",
			args: []string{"dev", "--rate", "0", "--progress", "0"},
			yaml: `version: 1
name: redact
source:
  generate: {count: 1}
sink:
  nats:
    url: nats://bob:` + pass + `@nats.example.com:4222
    subject: out
`,
			want: []string{"sink.nats.url must be a loopback address", "nats://<redacted>@nats.example.com:4222"},
		},
		{
			name: "check: NATS server down",
			args: []string{"check"},
			yaml: `version: 1
name: redact
source:
  generate: {count: 1}
sink:
  nats:
    url: nats://bob:` + pass + `@127.0.0.1:1
    subject: out
`,
			want: []string{"127.0.0.1:1"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "p.yaml")
			if err := os.WriteFile(path, []byte(c.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, slspipeBin, append(c.args, path)...)
			cmd.Dir = filepath.Dir(path)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			var exit *exec.ExitError
			if err != nil && !errors.As(err, &exit) {
				t.Fatal(err)
			}
			got := out.String()
			if strings.Contains(got, pass) {
				t.Errorf("the password was printed:\n%s", got)
			}
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("output lacks %q:\n%s", w, got)
				}
			}
		})
	}
}
