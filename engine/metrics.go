package engine

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are a pipeline's Prometheus collectors, registered on the
// pipeline's own registry. Per-stage children are resolved once so that the
// hot path only touches atomics.
type metrics struct {
	recordsIn       *prometheus.CounterVec
	recordsOut      *prometheus.CounterVec
	recordsDropped  *prometheus.CounterVec
	recordsSkipped  *prometheus.CounterVec
	recordsDeadLet  *prometheus.CounterVec
	stageCallErrors *prometheus.CounterVec
	stageNsPerRec   *prometheus.HistogramVec
	shardLag        *prometheus.GaugeVec
	shardCommitTime *prometheus.GaugeVec
	batchLatency    prometheus.Histogram
	sinkLatency     prometheus.Histogram
	inflightBytes   prometheus.Gauge
	sourceBlocked   prometheus.Counter
	recordsWritten  prometheus.Counter
	recordsConfirm  prometheus.Counter
	sourceRecords   prometheus.Counter
	sourceBytes     prometheus.Counter
	checkpointFails prometheus.Counter
}

type stageMetrics struct {
	in, out, dropped, skipped, deadLettered, callErrors prometheus.Counter
	nsPerRecord                                         prometheus.Observer
}

func newMetrics(reg prometheus.Registerer) *metrics {
	const ns = "slspipe"
	m := &metrics{
		recordsIn: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "stage_records_in_total",
			Help: "Records passed into a stage."}, []string{"stage"}),
		recordsOut: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "stage_records_out_total",
			Help: "Records a stage produced."}, []string{"stage"}),
		recordsDropped: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "stage_records_dropped_total",
			Help: "Input records a stage filtered out (zero outputs)."}, []string{"stage"}),
		recordsSkipped: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "stage_records_skipped_total",
			Help: "Records a stage rejected that the skip policy dropped."}, []string{"stage"}),
		recordsDeadLet: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "stage_records_dead_lettered_total",
			Help: "Records a stage rejected that were sent to the dead-letter sink."}, []string{"stage"}),
		stageCallErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "stage_call_errors_total",
			Help: "Stage calls that failed as a whole (trap, timeout)."}, []string{"stage"}),
		stageNsPerRec: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "stage_ns_per_record",
			Help:    "Stage processing time per input record, in nanoseconds, observed once per call.",
			Buckets: prometheus.ExponentialBuckets(10, 2, 20)}, []string{"stage"}),
		shardLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "shard_lag_seconds",
			Help: "Seconds between now and the shard's committed cursor time."}, []string{"logstore", "shard"}),
		shardCommitTime: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "shard_committed_cursor_time_seconds",
			Help: "Unix time of the shard's committed cursor."}, []string{"logstore", "shard"}),
		batchLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "batch_latency_seconds",
			Help:    "Time from a batch's emission to its completion.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 18)}),
		sinkLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "sink_confirm_latency_seconds",
			Help:    "Time from a sink write to its last confirmation.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 20)}),
		inflightBytes: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "inflight_bytes",
			Help: "Bytes of batches emitted and not yet done."}),
		sourceBlocked: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "source_blocked_total",
			Help: "Times a source waited for the memory budget (backpressure)."}),
		recordsWritten: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "sink_records_written_total",
			Help: "Records handed to the sink."}),
		recordsConfirm: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "sink_records_confirmed_total",
			Help: "Records the sink confirmed as stored."}),
		sourceRecords: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "source_records_total",
			Help: "Records emitted by the source."}),
		sourceBytes: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "source_bytes_total",
			Help: "Bytes of batches emitted by the source, as counted against the memory budget."}),
		checkpointFails: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "checkpoint_save_failures_total",
			Help: "Periodic checkpoint saves that failed and will be retried."}),
	}
	reg.MustRegister(m.recordsIn, m.recordsOut, m.recordsDropped, m.recordsSkipped, m.recordsDeadLet,
		m.stageCallErrors, m.stageNsPerRec, m.shardLag, m.shardCommitTime, m.batchLatency, m.sinkLatency,
		m.inflightBytes, m.sourceBlocked, m.recordsWritten, m.recordsConfirm, m.sourceRecords, m.sourceBytes,
		m.checkpointFails)
	return m
}

func (m *metrics) stage(name string) stageMetrics {
	return stageMetrics{
		in:           m.recordsIn.WithLabelValues(name),
		out:          m.recordsOut.WithLabelValues(name),
		dropped:      m.recordsDropped.WithLabelValues(name),
		skipped:      m.recordsSkipped.WithLabelValues(name),
		deadLettered: m.recordsDeadLet.WithLabelValues(name),
		callErrors:   m.stageCallErrors.WithLabelValues(name),
		nsPerRecord:  m.stageNsPerRec.WithLabelValues(name),
	}
}

func (m *metrics) shardGauges(k ShardKey) (lag, commitTime prometheus.Gauge) {
	s := strconv.Itoa(k.Shard)
	return m.shardLag.WithLabelValues(k.Logstore, s), m.shardCommitTime.WithLabelValues(k.Logstore, s)
}

func (m *metrics) forgetShard(k ShardKey) {
	s := strconv.Itoa(k.Shard)
	m.shardLag.DeleteLabelValues(k.Logstore, s)
	m.shardCommitTime.DeleteLabelValues(k.Logstore, s)
}
