package wasmhost

import (
	"errors"
	"fmt"
)

// Problems a module can have. Errors returned by this package match one of them with
// errors.Is, and are *ModuleError values naming the module.
var (
	ErrNotWasm       = errors.New("not a WebAssembly module")
	ErrABIVersion    = errors.New("unsupported ABI version")
	ErrMissingExport = errors.New("missing export")
	ErrUnknownImport = errors.New("unknown import")
	ErrInit          = errors.New("init failed")
	ErrTrap          = errors.New("trap")
	ErrDeadline      = errors.New("batch deadline exceeded")
	ErrMemoryLimit   = errors.New("memory limit reached")
	ErrBadOutput     = errors.New("invalid output")
	ErrGuestStatus   = errors.New("module reported failure")
	ErrClosed        = errors.New("module closed")
)

// ModuleError is a failure attributed to one module.
type ModuleError struct {
	Module string // the module's name (Options.Name)
	Kind   error  // one of the Err… values above
	Detail string // what exactly went wrong; for traps, includes the guest stack trace
}

// Error names the module, the kind of problem and its detail.
func (e *ModuleError) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("wasm module %q: %v", e.Module, e.Kind)
	}
	return fmt.Sprintf("wasm module %q: %v: %s", e.Module, e.Kind, e.Detail)
}

// Unwrap lets errors.Is match the kind.
func (e *ModuleError) Unwrap() error { return e.Kind }

func moduleErr(name string, kind error, format string, args ...any) *ModuleError {
	return &ModuleError{Module: name, Kind: kind, Detail: fmt.Sprintf(format, args...)}
}

// RecordError is the error outcome of one input record: the guest rejected it, or
// processing it alone trapped or overran the deadline (Kind is then ErrTrap, ErrDeadline
// or ErrMemoryLimit and Detail holds the guest stack trace and stderr tail).
type RecordError struct {
	Module string
	Index  int   // the record's index in the batch given to Process
	Kind   error // nil when the guest itself returned the error outcome
	Detail string
}

// Error names the module, the record and what went wrong with it.
func (e *RecordError) Error() string {
	if e.Kind == nil {
		return fmt.Sprintf("wasm module %q rejected record %d: %s", e.Module, e.Index, e.Detail)
	}
	return fmt.Sprintf("wasm module %q, record %d: %v: %s", e.Module, e.Index, e.Kind, e.Detail)
}

// Unwrap lets errors.Is match the kind.
func (e *RecordError) Unwrap() error { return e.Kind }
