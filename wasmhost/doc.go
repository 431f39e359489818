// Package wasmhost runs slspipe's WebAssembly modules: it compiles a module once (with an
// optional on-disk compilation cache), keeps a fixed pool of instances, and calls each
// instance once per batch through guest ABI v1 (docs/abi.md).
//
// The host encodes a Batch into the guest's arena, calls slspipe_process, bounds-checks
// every offset and length the guest returns and copies the outputs into a Result. When an
// instance traps or overruns its per-batch deadline, the instance is discarded and the batch
// is bisected until the offending record is isolated; that record gets an error outcome
// carrying the trap and its stack trace, and every other record is processed normally.
//
// # Notes
//
//   - Modules get no filesystem, network or environment unless Options grants them.
//   - A Module is safe for concurrent use; concurrency is bounded by Options.Instances.
package wasmhost
