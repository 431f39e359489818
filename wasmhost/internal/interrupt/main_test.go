package interrupt_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
)

// modulesEnv names a directory of prebuilt guest modules (plugins/build.sh OUTDIR). When
// unset, TestMain builds them into a temporary directory and sets it, so that fuzzing
// workers, which inherit the environment, reuse the build.
const modulesEnv = "SLSPIPE_INTERRUPT_MODULES"

// modDir holds the guest modules every plugin toolchain builds.
var modDir string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if dir := os.Getenv(modulesEnv); dir != "" {
		modDir = dir
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "interrupt-modules-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command("../../../plugins/build.sh", dir)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build guest modules:", err)
		return 1
	}
	modDir = dir
	os.Setenv(modulesEnv, dir)
	return m.Run()
}

// guestModule is one module plugins/build.sh built.
type guestModule struct {
	name string
	wasm []byte
}

// guestModules returns the built modules that are WebAssembly binaries, smaller than
// maxSize bytes when maxSize > 0, failing if there are none.
func guestModules(tb testing.TB, maxSize int64) []guestModule {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join(modDir, "*.wasm"))
	if err != nil {
		tb.Fatal(err)
	}
	sort.Strings(paths)
	var mods []guestModule
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		if len(b) < 4 || string(b[:4]) != "\x00asm" || maxSize > 0 && int64(len(b)) >= maxSize {
			continue
		}
		mods = append(mods, guestModule{name: filepath.Base(p), wasm: b})
	}
	if len(mods) == 0 {
		tb.Fatalf("no guest modules in %s", modDir)
	}
	return mods
}
