package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	sls "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/slspipe/slspipe/emulator"
)

// TestEmulatorCommand runs `slspipe emulator`, waits for its one
// "listening on" line, uses it with the SDK, and stops it by cancelling
// the context as SIGTERM does.
func TestEmulatorCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	root := newRootCmd()
	root.SetOut(pw)
	var stderr bytes.Buffer
	root.SetErr(&stderr)
	root.SetArgs([]string{"emulator", "--addr", "127.0.0.1:0", "--logstore", "demo/nginx:3",
		"--access-key-id", "ak-cli", "--access-key-secret", "sk-cli"})
	done := make(chan error, 1)
	go func() {
		done <- root.ExecuteContext(ctx)
		pw.Close()
	}()

	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the listening line: %v", err)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if !ok || !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("first stdout line = %q", line)
	}
	go io.Copy(io.Discard, pr)

	c := sls.CreateNormalInterface(addr, "ak-cli", "sk-cli", "")
	c.SetHTTPClient(emulator.DialClient(addr))
	shards, err := c.ListShards("demo", "nginx")
	if err != nil || len(shards) != 3 {
		t.Fatalf("ListShards = %d shards, %v", len(shards), err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("emulator command returned %v", err)
	}
}

func TestEmulatorCommandRejectsBadSpecWithoutSecrets(t *testing.T) {
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs([]string{"emulator", "--logstore", "nope", "--access-key-id", "ak", "--access-key-secret", "very-secret-value"})
	err := root.ExecuteContext(context.Background())
	if err == nil {
		t.Fatal("a malformed --logstore was accepted")
	}
	if strings.Contains(err.Error()+out.String(), "very-secret-value") {
		t.Fatal("the access key secret was printed")
	}
}
