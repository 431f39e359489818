// Package engine is slspipe's pipeline runtime and vocabulary.
//
// A [Pipeline] moves [Batch]es of [Record]s from a [Source] through a chain
// of [Stage]s to a [Sink], and commits each shard's source position to its
// [Committer]s only once every record derived from it is done: confirmed by
// the sink, filtered out by a stage, skipped by policy, or confirmed by the
// dead-letter sink.
//
// The package imports no connector and no WebAssembly host: connectors,
// modules and checkpoint stores implement the interfaces declared here.
//
// # Notes
//
//   - Batches of one shard go through the stages in order, one at a time;
//     shards are processed in parallel by a fixed number of workers, however
//     many shards there are.
//   - The committed cursor of a shard is the next cursor of the longest
//     prefix of its batches that are done. Batches may complete out of order;
//     the committed cursor never skips one.
//   - Memory is bounded by a byte budget acquired when a batch is emitted and
//     released when it is done, so a slow sink slows the source.
package engine
