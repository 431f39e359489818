package wasmhost_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slspipe/slspipe/wasmhost"
)

func TestOpenRejectsBadModules(t *testing.T) {
	cases := []struct {
		module string
		kind   error
		detail string
	}{
		{"not_wasm", wasmhost.ErrNotWasm, "magic bytes"},
		{"wat_abi_v2", wasmhost.ErrABIVersion, "targets ABI v2, this host speaks v1"},
		{"wat_no_process", wasmhost.ErrMissingExport, "slspipe_process"},
		{"wat_unknown_import", wasmhost.ErrUnknownImport, "env.fetch_url"},
	}
	for _, c := range cases {
		t.Run(c.module, func(t *testing.T) {
			_, err := wasmhost.Open(context.Background(), modulePath(t, c.module), wasmhost.Options{})
			var me *wasmhost.ModuleError
			if !errors.Is(err, c.kind) || !errors.As(err, &me) || me.Module != c.module+".wasm" || !strings.Contains(err.Error(), c.detail) {
				t.Fatalf("err = %v; want %v mentioning %q and the module name", err, c.kind, c.detail)
			}
			t.Log(err)
		})
	}
}

func TestOpenMissingFile(t *testing.T) {
	_, err := wasmhost.Open(context.Background(), "/nonexistent/x.wasm", wasmhost.Options{})
	if err == nil || !strings.Contains(err.Error(), "x.wasm") {
		t.Fatalf("err = %v", err)
	}
}

func TestOpenMemoryMinimumOverLimit(t *testing.T) {
	// A Go module starts with several MiB of memory: a 1 MiB limit cannot hold it.
	_, err := wasmhost.Open(context.Background(), modulePath(t, "go_identity"), wasmhost.Options{MemoryLimitPages: 16})
	if !errors.Is(err, wasmhost.ErrMemoryLimit) {
		t.Fatalf("err = %v", err)
	}
}

func TestOutOfRangeOutputRejected(t *testing.T) {
	ctx := context.Background()
	m, err := wasmhost.Open(ctx, modulePath(t, "wat_bad_output"), wasmhost.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	var res wasmhost.Result
	err = m.Process(ctx, sampleBatch(3), &res)
	if !errors.Is(err, wasmhost.ErrBadOutput) || !strings.Contains(err.Error(), "outside memory") {
		t.Fatalf("err = %v", err)
	}
	t.Log(err)
}

func TestWASIGrants(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "greeting.txt"), []byte("hello from disk\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GREETING", "leaked from the host")
	run := func(opts wasmhost.Options) (env, file string) {
		t.Helper()
		m, err := wasmhost.Open(ctx, modulePath(t, "c_sandbox"), opts)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close(ctx)
		var res wasmhost.Result
		if err := m.Process(ctx, sampleBatch(1), &res); err != nil {
			t.Fatal(err)
		}
		out := res.Outputs(0)[0]
		env, _ = field(out, "env")
		file, _ = field(out, "file")
		return env, file
	}
	if env, file := run(wasmhost.Options{}); env != "-" || file != "-" {
		t.Fatalf("no grants: the module saw env %q and file %q", env, file)
	}
	env, file := run(wasmhost.Options{Env: map[string]string{"GREETING": "granted"}, Dirs: map[string]string{"/data": dir}})
	if env != "granted" || file != "hello from disk" {
		t.Fatalf("with grants: env %q, file %q", env, file)
	}
}
