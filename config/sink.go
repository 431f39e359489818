package config

// Sink is where records go: exactly one kind is set. The dead-letter
// destination has the same shape.
type Sink struct {
	NATS    *NATSSink    `yaml:"nats,omitempty" doc:"Publish to NATS: JetStream with acknowledgements and de-duplication, or core NATS."`
	SLS     *SLSSink     `yaml:"sls,omitempty" doc:"Write to an SLS logstore through a batching producer."`
	Stdout  *StdoutSink  `yaml:"stdout,omitempty" doc:"Print records to standard output (trying pipelines)."`
	Discard *DiscardSink `yaml:"discard,omitempty" doc:"Drop records, acknowledging them at once (benchmarks)."`
}

func (*Sink) isUnion() {}

// Kind returns the name of the configured kind: "nats", "sls", "stdout" or
// "discard".
func (s Sink) Kind() string {
	switch {
	case s.NATS != nil:
		return "nats"
	case s.SLS != nil:
		return "sls"
	case s.Stdout != nil:
		return "stdout"
	case s.Discard != nil:
		return "discard"
	}
	return ""
}

// NATSSink publishes records to NATS.
type NATSSink struct {
	NATSConn        `yaml:",inline"`
	Mode            string            `yaml:"mode" default:"jetstream" enum:"jetstream|core" doc:"jetstream: wait for the stream's acknowledgement and set Nats-Msg-Id, so replays are de-duplicated. core: fire and forget, at-least-once at best."`
	Subject         string            `yaml:"subject" format:"subject" defaultdoc:"slspipe.<name>" doc:"Subject to publish to; {{field}} is replaced by the record's field, e.g. logs.{{host}}."`
	Stream          string            `yaml:"stream" format:"stream" doc:"JetStream stream the subject belongs to; needed by create_stream."`
	CreateStream    bool              `yaml:"create_stream" default:"false" doc:"Create the stream (capturing the subject) if it does not exist."`
	DuplicateWindow Duration          `yaml:"duplicate_window" default:"2m" min:"1s" doc:"De-duplication window of a created stream; replays within it are dropped."`
	MaxInflight     int               `yaml:"max_inflight" default:"4096" min:"1" max:"1000000" doc:"Published messages awaiting acknowledgement before publishing waits."`
	Headers         map[string]string `yaml:"headers" doc:"Headers added to every message."`
}

func (n *NATSSink) check(c *checkCtx) {
	n.NATSConn.check(c)
	if n.CreateStream && n.Stream == "" {
		c.errorf("create_stream", "needs stream")
	}
	if n.Mode == "core" && (n.Stream != "" || n.CreateStream) {
		c.errorf("mode", "core NATS has no streams; remove stream/create_stream or use mode jetstream")
	}
}

// SLSSink writes records to an SLS logstore.
type SLSSink struct {
	SLSAuth        `yaml:",inline"`
	Logstore       string            `yaml:"logstore" required:"true" format:"logstore" doc:"Logstore to write to."`
	IOThreads      int               `yaml:"io_threads" flink:"IO_THREAD_NUM" default:"8" min:"1" max:"256" doc:"Concurrent PutLogs requests."`
	Linger         Duration          `yaml:"linger" flink:"FLUSH_INTERVAL_MS" default:"3000ms" min:"0s" max:"1h" doc:"Longest time a partial batch waits for more records."`
	MaxBatchCount  int               `yaml:"max_batch_count" default:"4096" min:"1" max:"40960" doc:"Logs per batch."`
	MaxBatchBytes  Size              `yaml:"max_batch_bytes" default:"3MiB" min:"1KiB" max:"5MiB" doc:"Bytes per batch."`
	MaxMemory      Size              `yaml:"max_memory" flink:"TOTAL_SIZE_IN_BYTES" default:"100MiB" min:"1MiB" doc:"Memory for pending batches; writing waits when it is full."`
	Partitioner    string            `yaml:"partitioner" default:"random" enum:"random|field|fixed" doc:"How logs are routed to shards: random (load balanced), field (MD5 of partition_field; a record without it is load balanced), fixed (hash_key). A hash key set by a serialize step wins. Keyed logs are batched per shard, which needs log:ListShards."`
	PartitionField string            `yaml:"partition_field" doc:"Record field hashed into the shard key; with partitioner field."`
	HashKey        string            `yaml:"hash_key" format:"hashkey" doc:"Shard hash key (hex); with partitioner fixed."`
	Topic          string            `yaml:"topic" doc:"Topic of written log groups; when set it wins over the record's topic."`
	Source         string            `yaml:"source" doc:"Source of written log groups; when empty, the record's source, else the host's address."`
	Tags           map[string]string `yaml:"tags" doc:"Tags added to every log group."`
	Compression    string            `yaml:"compression" default:"lz4" enum:"lz4|zstd" doc:"Compression of PutLogs bodies."`
	Retries        int               `yaml:"retries" default:"10" min:"0" doc:"Retries of a batch that failed with a quota (403), server (5xx) or network error, before the error stops the pipeline. Other errors (400, 401, 404) are not retried. A record with a payload and no fields is written as one field named content."`
	BaseBackoff    Duration          `yaml:"base_backoff" default:"100ms" min:"1ms" doc:"First wait after a failed write; doubles each retry."`
	MaxBackoff     Duration          `yaml:"max_backoff" default:"50s" min:"1ms" doc:"Longest wait between retries."`
}

func (s *SLSSink) check(c *checkCtx) {
	s.SLSAuth.check(c)
	switch s.Partitioner {
	case "field":
		if s.PartitionField == "" {
			c.errorf("partition_field", "required when partitioner is field")
		}
	case "fixed":
		if s.HashKey == "" {
			c.errorf("hash_key", "required when partitioner is fixed")
		}
	}
	if s.PartitionField != "" && s.Partitioner != "field" {
		c.errorf("partition_field", "only used with partitioner field")
	}
	if s.HashKey != "" && s.Partitioner != "fixed" {
		c.errorf("hash_key", "only used with partitioner fixed")
	}
	if s.MaxMemory < s.MaxBatchBytes && c.ok("max_memory", "max_batch_bytes") {
		c.errorf("max_memory", "must be at least max_batch_bytes (%s)", s.MaxBatchBytes)
	}
	if s.MaxBackoff < s.BaseBackoff && c.ok("base_backoff", "max_backoff") {
		c.errorf("max_backoff", "must not be less than base_backoff (%s)", s.BaseBackoff)
	}
}

// StdoutSink prints records, one per line.
type StdoutSink struct {
	Format string `yaml:"format" default:"json" enum:"json|text" doc:"json: one JSON object per record; text: key=value pairs."`
}

// DiscardSink drops every record. It has no settings.
type DiscardSink struct{}
