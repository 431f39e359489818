package producer

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes of a batch, the values of the outcome label.
const (
	outcomeOK      = "ok"      // stored at the first attempt
	outcomeRetried = "retried" // stored after one or more retries
	outcomeFailed  = "failed"  // confirmed failed
)

// metrics are the producer's Prometheus collectors. The children of its
// project and logstore are resolved once, so that accounting for a batch
// touches only atomics.
type metrics struct {
	logs            prometheus.Counter
	failedLogs      prometheus.Counter
	rawBytes        prometheus.Counter
	compressedBytes prometheus.Counter
	batchesOK       prometheus.Counter
	batchesRetried  prometheus.Counter
	batchesFailed   prometheus.Counter
	retries         *prometheus.CounterVec // curried; reason
	latency         prometheus.Observer
	buffered        prometheus.Gauge
	maxMemory       prometheus.Gauge
	limit           float64 // this producer's share of maxMemory
}

// release takes this producer's budget out of the max_memory gauge, when it
// closes or fails to start.
func (m *metrics) release() { m.maxMemory.Sub(m.limit) }

// newMetrics creates the collectors and, when reg is set, registers them.
// A collector of the same name and labels already registered with reg (a
// second producer sharing the registry) is used instead: the producers
// then add to the same series, distinct as long as their labels differ.
// limit is added to the max_memory gauge.
func newMetrics(reg prometheus.Registerer, project, logstore string, limit int64) (*metrics, error) {
	const ns, sub = "slspipe", "sls_sink"
	labels := []string{"project", "logstore"}
	logs := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "logs_total",
		Help: "Logs SLS confirmed stored (PutLogs answered 200)."}, labels)
	failedLogs := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "logs_failed_total",
		Help: "Logs confirmed failed: in failed batches, or over the SLS limit on one log."}, labels)
	rawBytes := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "bytes_total",
		Help: "Uncompressed bytes of the log groups stored (x-log-bodyrawsize)."}, labels)
	compressedBytes := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "compressed_bytes_total",
		Help: "Compressed bytes of the log groups stored, as sent once."}, labels)
	batches := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "batches_total",
		Help: "Batches (log groups) finished, by outcome: ok (stored at the first attempt), retried (stored after retries), failed."},
		append(labels, "outcome"))
	retries := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "retries_total",
		Help: "PutLogs requests retried, by reason: the SLS error code, http_<status> without one, or network (no answer)."},
		append(labels, "reason"))
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "request_duration_seconds",
		Help:    "Duration of PutLogs requests, answered or not, retries included.",
		Buckets: prometheus.ExponentialBuckets(0.002, 2, 15)}, labels)
	buffered := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "buffered_bytes",
		Help: "Bytes of encoded logs accepted and not yet confirmed, charged to max_memory."}, labels)
	maxMemory := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "max_memory_bytes",
		Help: "The max_memory budget that buffered_bytes is bounded by."}, labels)

	if err := errors.Join(adopt(reg, &logs), adopt(reg, &failedLogs), adopt(reg, &rawBytes),
		adopt(reg, &compressedBytes), adopt(reg, &batches), adopt(reg, &retries), adopt(reg, &latency),
		adopt(reg, &buffered), adopt(reg, &maxMemory)); err != nil {
		return nil, fmt.Errorf("register sls sink metrics: %w", err)
	}

	m := &metrics{
		logs:            logs.WithLabelValues(project, logstore),
		failedLogs:      failedLogs.WithLabelValues(project, logstore),
		rawBytes:        rawBytes.WithLabelValues(project, logstore),
		compressedBytes: compressedBytes.WithLabelValues(project, logstore),
		batchesOK:       batches.WithLabelValues(project, logstore, outcomeOK),
		batchesRetried:  batches.WithLabelValues(project, logstore, outcomeRetried),
		batchesFailed:   batches.WithLabelValues(project, logstore, outcomeFailed),
		retries:         retries.MustCurryWith(prometheus.Labels{"project": project, "logstore": logstore}),
		latency:         latency.WithLabelValues(project, logstore),
		buffered:        buffered.WithLabelValues(project, logstore),
	}
	// Added, not set, so that producers sharing a series sum up; release takes it back.
	m.maxMemory, m.limit = maxMemory.WithLabelValues(project, logstore), float64(limit)
	m.maxMemory.Add(m.limit)
	return m, nil
}

// adopt registers *c with reg, if set. When an equal collector is already
// registered, *c becomes that one.
func adopt[T prometheus.Collector](reg prometheus.Registerer, c *T) error {
	if reg == nil {
		return nil
	}
	err := reg.Register(*c)
	var are prometheus.AlreadyRegisteredError
	if !errors.As(err, &are) {
		return err
	}
	existing, ok := are.ExistingCollector.(T)
	if !ok {
		return fmt.Errorf("%w (as %T)", err, are.ExistingCollector)
	}
	*c = existing
	return nil
}

// finished accounts for a batch of count logs once it is confirmed:
// attempts requests were sent (0 when none was), body is its compressed
// form and raw its uncompressed size.
func (m *metrics) finished(count, raw, body, attempts int, err error) {
	if err != nil {
		m.batchesFailed.Inc()
		m.failedLogs.Add(float64(count))
		return
	}
	if attempts > 1 {
		m.batchesRetried.Inc()
	} else {
		m.batchesOK.Inc()
	}
	m.logs.Add(float64(count))
	m.rawBytes.Add(float64(raw))
	m.compressedBytes.Add(float64(body))
}

// retried counts a request about to be sent again after se.
func (m *metrics) retried(se *SendError) {
	m.retries.WithLabelValues(retryReason(se)).Inc()
}

// retryReason is the reason label of a retry after se: the service's error
// code, http_<status> for an answer without one, network for no answer.
func retryReason(se *SendError) string {
	switch {
	case se == nil || se.Status == 0:
		return "network"
	case se.Code != "":
		return se.Code
	default:
		return "http_" + strconv.Itoa(se.Status)
	}
}
