package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/connectors/discard"
	"github.com/slspipe/slspipe/connectors/generate"
	"github.com/slspipe/slspipe/engine"
)

func TestStatusURL(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:9464":                        "http://127.0.0.1:9464/api/status",
		"http://127.0.0.1:9464/":                "http://127.0.0.1:9464/api/status",
		"http://host:9464/api/status?since=5":   "http://host:9464/api/status",
		"https://ops:secret@host/slspipe/":      "https://host/slspipe/api/status",
		"http://[::1]:9464/slspipe/api/status/": "http://[::1]:9464/slspipe/api/status",
	} {
		got, err := statusURL(in)
		if err != nil || got != want {
			t.Errorf("statusURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := statusURL("ftp://host/"); err == nil {
		t.Error("statusURL accepted ftp://")
	}
}

func TestDevStatusLine(t *testing.T) {
	for listen, want := range map[string]string{
		"127.0.0.1:9464": "dev: status page http://127.0.0.1:9464/ (or: slspipe status 127.0.0.1:9464)",
		":9464":          "dev: status page http://127.0.0.1:9464/ (or: slspipe status 127.0.0.1:9464)",
		"0.0.0.0:80":     "dev: status page http://127.0.0.1:80/ (or: slspipe status 127.0.0.1:80)",
		"":               "dev: no status page: metrics.listen is empty",
	} {
		if got := devStatusLine(listen); got != want {
			t.Errorf("devStatusLine(%q) = %q, want %q", listen, got, want)
		}
	}
	if got := devStatusLine("127.0.0.1:0"); !strings.Contains(got, "serving metrics") {
		t.Errorf("devStatusLine on port 0 = %q, want it to point to the log line", got)
	}
}

// TestStatusCommandPrintsTables runs a pipeline with a step described as a
// module file, serves its handler and runs `slspipe status` against it.
func TestStatusCommandPrintsTables(t *testing.T) {
	mod := filepath.Join(t.TempDir(), "mask.wasm")
	content := []byte("\x00asm\x01\x00\x00\x00 not really a module, only hashed")
	if err := os.WriteFile(mod, content, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(content)
	src, err := generate.New(generate.Config{Shards: 3, Count: 3000, BatchSize: 50})
	if err != nil {
		t.Fatal(err)
	}
	pass := engine.StageFunc("mask", func(_ context.Context, in []engine.Record, out *engine.Results) error {
		for i := range in {
			out.Emit(in[i])
		}
		return nil
	})
	step := describeStep(pass, config.Step{Name: "mask", Module: mod})
	p, err := engine.New("orders", src, []engine.StageFactory{step}, discard.New(), engine.NewConfig().WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p.Handler())
	defer srv.Close()

	var out bytes.Buffer
	root := newRootCmd()
	root.SetOut(&out)
	root.SetArgs([]string{"status", srv.URL})
	err = root.ExecuteContext(context.Background())
	var code exitCode
	if !errors.As(err, &code) || code != 2 {
		t.Fatalf("status of a stopped pipeline returned %v, want exit code 2", err)
	}
	text := out.String()
	for _, want := range []string{
		"pipeline orders: STOPPED",
		"total 3000 in, 3000 written, 3000 confirmed",
		"memory: 0 B of 64.0 MiB budget in use",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	for shard := range 3 {
		if !regexp.MustCompile(`(?m)^\s*generated/` + string(rune('0'+shard)) + `\s+finished\s+-\s+`).MatchString(text) {
			t.Errorf("no table row for shard %d:\n%s", shard, text)
		}
	}
	if !regexp.MustCompile(`(?m)^\s*mask\s+module ` + regexp.QuoteMeta(mod) + `\s+\d+\s+3000\s+3000\s+0\s+0\s+0\s+` + hex.EncodeToString(sum[:]) + `\s*$`).MatchString(text) {
		t.Errorf("step row lacks the module, its counts and its SHA-256 %x:\n%s", sum, text)
	}

	srv.Close()
	root = newRootCmd()
	root.SetOut(&out)
	root.SetArgs([]string{"status", srv.URL})
	if err := root.ExecuteContext(context.Background()); err == nil || !strings.Contains(err.Error(), "cannot reach the pipeline") {
		t.Errorf("status of a closed listener: %v, want \"cannot reach the pipeline\"", err)
	}
}
