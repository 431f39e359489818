package main

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/engine"
)

// describedStep tells the pipeline's status what a step runs: its module
// file and that file's SHA-256, or its built-in. It changes nothing else:
// the stages its factory makes are the wrapped factory's own.
//
// # Notes
//
// The wrapper hides any other optional interface of the wrapped factory
// from the engine; the engine discovers none on stage factories but
// [engine.StageDescriber].
type describedStep struct {
	engine.StageFactory
	info engine.StageInfo
}

// StageInfo implements [engine.StageDescriber].
func (d describedStep) StageInfo() engine.StageInfo { return d.info }

// describeStep wraps f with what step runs.
func describeStep(f engine.StageFactory, step config.Step) engine.StageFactory {
	if _, ok := f.(engine.StageDescriber); ok {
		return f
	}
	info := engine.StageInfo{Kind: "builtin", Module: step.Builtin}
	if step.Module != "" {
		info = engine.StageInfo{Kind: "module", Module: step.Module, ModuleSHA256: fileSHA256(step.Module)}
	}
	return describedStep{StageFactory: f, info: info}
}

// fileSHA256 returns the hex SHA-256 of a file, or "" when it cannot be
// read (the module loaded already, so that is rare and only the status
// loses the digest).
func fileSHA256(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}
