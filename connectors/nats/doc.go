// Package nats connects pipelines to NATS: a [Sink] that publishes records
// to JetStream (with publish acknowledgements and de-duplication ids) or to
// core NATS, and a [Source] that reads a JetStream stream through a durable
// pull consumer. Package natsserver runs an embedded server for tests and
// the demo.
//
// # Delivery guarantees
//
//   - JetStream sink: a record is confirmed only when the stream has
//     acknowledged it. Every message carries Nats-Msg-Id = the record's
//     identity ("logstore:shard:cursor:index:output"), so a record
//     published twice (a retry after a lost acknowledgement, or a replay
//     after a crash from an older checkpoint) is stored once as long as the
//     copies fall within the stream's duplicate window: effectively
//     exactly-once for deterministic transforms.
//   - Core sink: a write is confirmed after a flush, when the server has
//     received it: at-least-once into the server, nothing more.
//   - Source: at-least-once into the sink. Messages are acknowledged only
//     when the engine commits a position past them, i.e. after the sink
//     confirmed them; whatever was read but not committed is read again on
//     the next start.
//
// # Subjects
//
// A record goes to its Subject when a serializer set one, otherwise to the
// configured subject, in which {{field}} is replaced by the value of that
// record field (logs.{{host}}). A record lacking the field, or with an
// empty value, fails with an error naming the field: it is never published
// to a guessed subject. Whitespace, control characters, '*' and '>' in a
// value become '_'; a '.' in a value adds subject tokens. With
// create_stream, a templated subject is captured as its literal prefix
// followed by '>' (logs.{{host}} → logs.>).
//
// # Payloads and headers
//
// The payload is the record's Payload (what a serializer produced), or,
// when it is empty, a JSON object of the record's fields in order, values
// as strings. Configured headers are added to every message, besides
// Nats-Msg-Id (set in core mode too, so a stream capturing a core subject
// de-duplicates as well).
//
// # Wiring
//
// The source is also an [engine.Committer] and must be passed to
// [engine.Config.WithCommitters], since committing is what acknowledges.
// Both types own a connection: close them after [engine.Pipeline.Run]
// returns.
package nats
