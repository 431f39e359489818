// Package e2e tests the built slspipe binary as a user runs it: separate
// processes, signals, files on disk.
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// slspipeBin is the binary under test, built once by TestMain.
var slspipeBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "slspipe-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	slspipeBin = filepath.Join(dir, "slspipe")
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	build := exec.Command("go", "build", "-o", slspipeBin, "./cmd/slspipe")
	build.Dir = root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building slspipe:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
