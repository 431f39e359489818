// Package enginetest provides in-memory implementations of the engine's
// source, sink and checkpoint store, for tests of the engine and of
// connectors.
//
// Data is deterministic: the source's record (shard s, batch b, index i) is
// the same in every run, so a test can check at-least-once delivery across a
// crash and a restart by record id.
package enginetest
