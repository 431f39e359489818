// Package interrupt instruments a WebAssembly module so that the host can stop a guest
// that overruns its deadline, at the cost of about a nanosecond per loop iteration.
//
// wazero's own mechanism, RuntimeConfig.WithCloseOnContextDone, exits from compiled guest
// code to Go at every loop iteration to check whether the module was closed. Instrument
// instead gives the module an exported mutable i32 global, the interrupt flag, and a private
// countdown. Every loop iteration decrements the countdown; every 1024 iterations the guest
// traps with "unreachable" if the flag is set, and otherwise executes memory.grow 0, which
// wazero runs in Go. The host sets the flag from any goroutine (see Flag). A trap after the
// flag was set is the interruption; the same trap with the flag clear is the guest's own.
//
// The periodic exit is not optional: Go cannot preempt a goroutine while it runs compiled
// guest code, so a guest that loops without leaving it blocks every stop-the-world of the
// process (each GC cycle needs one) until it returns, and if the goroutine that would set the
// flag has already been stopped, the process deadlocks.
//
// # Notes
//
//   - The decoder covers every instruction wazero 1.12 accepts: MVP, sign extension,
//     saturating truncation, bulk memory, reference types, multi-value, SIMD, threads, tail
//     calls, exception handling (try_table, throw, throw_ref) and typed function references.
//     Legacy exception handling (try, catch, rethrow, delegate), which wazero rejects, and any
//     unknown opcode are refused with a *FormatError naming the function and offset, rather
//     than instrumented by guesswork.
//   - DWARF custom sections (".debug_*") are dropped because the inserted checks move code
//     offsets; wazero then prints stack traces with function names (the name section is kept
//     and remains valid) but without source lines. A "sourceMappingURL" section, which points
//     outside the module, is kept and goes stale in the same way.
//   - A module without memory is given an empty one (memory 0, no pages, not exported) for
//     memory.grow to act on; memory indices do not change.
//   - An instance whose guest trapped mid-batch is in an undefined state; discard it rather
//     than clearing the flag and calling it again.
package interrupt
