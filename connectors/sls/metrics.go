package sls

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the source's Prometheus collectors.
type metrics struct {
	cursorExpired *prometheus.CounterVec // logstore, policy
	retries       *prometheus.CounterVec // logstore, reason
	pulledLogs    *prometheus.CounterVec // logstore
	pulledBytes   *prometheus.CounterVec // logstore
	queryRead     *prometheus.CounterVec // logstore
	queryFailed   *prometheus.CounterVec // logstore
}

// newMetrics creates the collectors and registers them with reg when set.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		cursorExpired: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slspipe_sls_source_cursor_expired_total",
			Help: "Cursors found expired (data past the logstore TTL), by the on_cursor_expired policy applied.",
		}, []string{"logstore", "policy"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slspipe_sls_source_retries_total",
			Help: "SLS calls retried, by reason (throttled, server, network).",
		}, []string{"logstore", "reason"}),
		pulledLogs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slspipe_sls_source_logs_total",
			Help: "Logs pulled from SLS.",
		}, []string{"logstore"}),
		pulledBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slspipe_sls_source_pulled_bytes_total",
			Help: "Compressed bytes of pull answers received from SLS.",
		}, []string{"logstore"}),
		queryRead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slspipe_sls_source_query_read_logs_total",
			Help: "With source.sls.query: logs SLS read before running the statement (x-log-rawdatalines).",
		}, []string{"logstore"}),
		queryFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slspipe_sls_source_query_failed_logs_total",
			Help: "With source.sls.query: logs the statement failed on, which SLS left out (x-log-failedlines).",
		}, []string{"logstore"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.cursorExpired, m.retries, m.pulledLogs, m.pulledBytes, m.queryRead, m.queryFailed} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
