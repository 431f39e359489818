package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

var (
	modulesOnce sync.Once
	modulesDir  string
	modulesErr  error
)

// guestModule returns a module built from plugins/ sources by plugins/build.sh.
func guestModule(t *testing.T, name string) string {
	t.Helper()
	modulesOnce.Do(func() {
		modulesDir, modulesErr = os.MkdirTemp("", "slspipe-e2e-modules-")
		if modulesErr != nil {
			return
		}
		_, file, _, _ := runtime.Caller(0)
		cmd := exec.Command(filepath.Join(filepath.Dir(file), "..", "..", "plugins", "build.sh"), modulesDir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			modulesErr = errors.New(string(out))
		}
	})
	if modulesErr != nil {
		t.Fatalf("building guest modules: %v", modulesErr)
	}
	p := filepath.Join(modulesDir, name+".wasm")
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("module %s was not built: %v", name, err)
		}
		t.Skipf("module %s not built (toolchain missing; run scripts/setup-wasm.sh)", name)
	}
	return p
}

// TestRunWithModule runs a pipeline whose transform is a C module: every
// generated record comes out, and validate accepts the file.
func TestRunWithModule(t *testing.T) {
	mod := guestModule(t, "c_identity")
	dir := t.TempDir()
	path := filepath.Join(dir, "p.yaml")
	yaml := `version: 1
name: e2e-module
source:
  generate: {shards: 3, count: 300}
steps:
  - name: ident
    role: transform
    module: ` + mod + `
sink:
  stdout: {}
checkpoint: {path: ./state.db}
metrics: {listen: ""}
`
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "SLSPIPE_CACHE_DIR="+filepath.Join(dir, "cache"))
	v := exec.Command(slspipeBin, "validate", path)
	v.Env = env
	if out, err := v.CombinedOutput(); err != nil {
		t.Fatalf("validate: %v\n%s", err, out)
	}
	r := exec.Command(slspipeBin, "run", path)
	r.Env = env
	out, err := r.Output()
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	ids := requestIDs(t, strings.Split(strings.TrimSpace(string(out)), "\n"))
	seen := map[string]bool{}
	for _, id := range ids {
		seen[id] = true
	}
	if len(ids) != 300 || len(seen) != 300 {
		t.Fatalf("%d records out (%d distinct), want 300", len(ids), len(seen))
	}
}

// TestValidateRejectsBadModules shows each module problem at the step's
// module line, naming the step and the problem, with exit code 1.
func TestValidateRejectsBadModules(t *testing.T) {
	dir := t.TempDir()
	notWasm := filepath.Join(dir, "not.wasm")
	if err := os.WriteFile(notWasm, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ module, want string }{
		{notWasm, "not a WebAssembly module"},
		{guestModule(t, "wat_abi_v2"), "ABI version"},
		{guestModule(t, "wat_no_process"), "slspipe_process"},
		{guestModule(t, "wat_unknown_import"), "unknown import"},
	}
	for _, c := range cases {
		path := filepath.Join(dir, "p.yaml")
		yaml := "version: 1\nname: bad-module\nsource:\n  generate: {}\nsteps:\n  - name: broken\n    role: transform\n    module: " + c.module + "\nsink:\n  discard: {}\n"
		if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(slspipeBin, "validate", path)
		cmd.Env = append(os.Environ(), "SLSPIPE_CACHE_DIR="+filepath.Join(dir, "cache"))
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Errorf("%s: exit %v, want 1; output:\n%s", filepath.Base(c.module), err, out)
			continue
		}
		for _, want := range []string{path + ":8:13:", "step broken", c.want} {
			if !strings.Contains(string(out), want) {
				t.Errorf("%s: output lacks %q:\n%s", filepath.Base(c.module), want, out)
			}
		}
	}
}
