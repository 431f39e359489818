// Package abi holds the byte layout of slspipe guest ABI v1 and validates what a guest
// returns. docs/abi.md is the normative description;
// the constants here must match it and plugins/sdk/c/slspipe.h.
package abi

// Magic numbers that open the input and output headers ("SPB1" and "SPO1" little-endian).
const (
	InputMagic  uint32 = 0x31425053
	OutputMagic uint32 = 0x314f5053
)

// Sizes, in bytes, of the fixed-layout parts.
const (
	InputHeaderSize  = 64
	OutputHeaderSize = 32
	RecordSize       = 24
	FieldSize        = 16
	OutcomeSize      = 24
)

// Outcome statuses written by the guest, one per input record.
const (
	StatusOK    uint32 = 0
	StatusError uint32 = 1
	// StatusPass forwards the input record unchanged, with no output record written.
	StatusPass uint32 = 2
)

// Export and import names of ABI v1.
const (
	ExportVersion   = "slspipe_abi_v1"
	ExportArena     = "slspipe_arena"
	ExportInit      = "slspipe_init"
	ExportProcess   = "slspipe_process"
	ExportLastError = "slspipe_last_error"
	ExportMemory    = "memory"

	ImportModule     = "slspipe"
	ImportLog        = "log"
	ImportCounterAdd = "counter_add"
	ImportClockNow   = "clock_now"

	VersionPrefix = "slspipe_abi_v"
)
