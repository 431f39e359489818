// Package bench is slspipe's benchmark harness, what make bench runs
// through cmd/slsbench.
//
// [Run] starts the SLS emulator and a NATS JetStream server as their own
// processes, preloads generated records into a multi-shard logstore, and
// measures on that same data, in one run: the raw decode limit (pull and
// protobuf scan, no processing), the program a user would write with the
// official consumer library (bench/cmd/libconsumer), publishing to JetStream
// and with a no-op processor, the JetStream publish limit (bench/cmd/jspub),
// and slspipe run with no module (to JetStream and to the discard sink, the
// source benchmark against the no-op library), the identity module and an
// example chain, each as a separate process whose peak RSS and CPU time are
// taken from its rusage. A shard sweep runs slspipe over
// 1 to 256 shards. [Report.Markdown] renders the table.
//
// # Notes
//
// The harness builds its helper commands with go build, so it must run
// inside this module. It stops every process it started and removes its
// temporary directory before Run returns, also when the context is
// cancelled.
package bench
