// Package slstest holds what tests of SLS-facing code share: reading a
// logstore back with the official SDK client.
package slstest

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"testing"

	sls "github.com/aliyun/aliyun-log-go-sdk"
)

// TrustInDefaultTransport makes the HTTP clients that Alibaba Cloud's
// credentials library builds (clones of http.DefaultTransport) trust the
// PEM CA certificate caPEM, such as the emulator's, until the test ends.
// Tests that use it must not run in parallel.
func TrustInDefaultTransport(t testing.TB, caPEM []byte) {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("no PEM certificate to trust")
	}
	tr := http.DefaultTransport.(*http.Transport)
	saved := tr.TLSClientConfig
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	t.Cleanup(func() { tr.TLSClientConfig = saved })
}

// ReadAll pulls every log group of every shard of project/logstore, from
// each shard's begin cursor to its end, and returns them by shard id.
func ReadAll(c sls.ClientInterface, project, logstore string) (map[int][]*sls.LogGroup, error) {
	shards, err := c.ListShards(project, logstore)
	if err != nil {
		return nil, fmt.Errorf("list shards of %s/%s: %w", project, logstore, err)
	}
	out := make(map[int][]*sls.LogGroup, len(shards))
	for _, sh := range shards {
		cur, err := c.GetCursor(project, logstore, sh.ShardID, "begin")
		if err != nil {
			return nil, fmt.Errorf("begin cursor of shard %d: %w", sh.ShardID, err)
		}
		for {
			gl, next, err := c.PullLogs(project, logstore, sh.ShardID, cur, "", 1000)
			if err != nil {
				return nil, fmt.Errorf("pull shard %d at %s: %w", sh.ShardID, cur, err)
			}
			out[sh.ShardID] = append(out[sh.ShardID], gl.LogGroups...)
			if next == cur {
				break
			}
			cur = next
		}
	}
	return out, nil
}
