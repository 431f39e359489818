// Package producer is the SLS sink: it batches records into log groups,
// encodes them as protobuf by hand, compresses them (lz4 or zstd) and sends
// them with PostLogStoreLogs, signed with the SDK's v1 or v4 signer. Each
// record is confirmed once, after the request holding it was answered 200.
//
// # Records to logs
//
//   - Fields become the log's contents, in order. A record with a payload
//     and no fields (what a serializer produced) is written as one content
//     "content" holding the payload.
//   - Time gives Log.Time and Log.TimeNs; a record without a time (Sec 0)
//     is stamped with the time of Write. SLS refuses times more than 7 days
//     old or 15 minutes ahead (400 InvalidTimestamp), which fails the batch.
//   - The configured topic and source win over the record's; without
//     either, the source is the host's address. Tags are the configured ones
//     (sorted by key) followed by the record's, keys as given.
//   - Hash key: the record's own HashKey (set by a serializer), else the
//     partitioner: random (none: load-balanced), field (lowercase hex MD5 of
//     the field's value; a record without the field is load-balanced),
//     fixed (hash_key).
//
// # Batching, memory and retries
//
//   - Batches are keyed by (shard, topic, source, tags) and sealed when
//     full (max_batch_count, max_batch_bytes), after linger, when Write runs
//     short of memory with nothing queued, or on Close. Keyed records are
//     batched per shard: the producer lists the shard ranges (every minute)
//     and sends each batch with the begin key of its shard; until the ranges
//     are known, or if listing is refused, it batches per hash key.
//   - Encoded logs are charged to max_memory from the moment Write accepts
//     them until their batch is confirmed; Write blocks while it is spent.
//     Beyond it, each sender keeps one compressed body.
//   - 403 (throttling), 429, 5xx and transport errors are retried with
//     capped exponential backoff (jittered within its upper half); other
//     statuses fail the batch at once. A 401 or 404 also stops all further
//     sending. Failed batches are confirmed failed, never dropped.
//   - Delivery is at-least-once: a request the service stored but whose
//     answer was lost is sent again.
//
// # Metrics
//
// With WithRegisterer, the producer counts per batch, never per log, the
// logs and bytes stored, batches by outcome, retries by reason and request
// durations, and follows the memory budget in use (see metrics.go for the
// names; docs/operations.md for their meaning).
package producer
