package slsapi

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// CredentialMetrics are the Prometheus collectors of credentials, labelled
// with the provider that answered ("chain/ecs_ram_role", "oidc"…).
type CredentialMetrics struct {
	renewals *prometheus.CounterVec
	refusals *prometheus.CounterVec
	expiry   *prometheus.GaugeVec
}

// NewCredentialMetrics creates the collectors and, when reg is set,
// registers them. Collectors already registered with reg (by another
// source or sink of the process) are used instead, so that every user of
// one registry adds to the same series.
func NewCredentialMetrics(reg prometheus.Registerer) (*CredentialMetrics, error) {
	const ns, sub = "slspipe", "sls_credentials"
	m := &CredentialMetrics{
		renewals: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "renewals_total",
			Help: "Times temporary credentials were replaced by new ones from their provider, without a restart."}, []string{"provider"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "refused_total",
			Help: "Requests SLS refused for an expired or invalid security token; each was signed again with renewed credentials and sent again."}, []string{"provider"}),
		expiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "expiry_timestamp_seconds",
			Help: "When the credentials in use expire (unix seconds); absent for long-lived access keys."}, []string{"provider"}),
	}
	if reg == nil {
		return m, nil
	}
	if err := errors.Join(adopt(reg, &m.renewals), adopt(reg, &m.refusals), adopt(reg, &m.expiry)); err != nil {
		return nil, fmt.Errorf("register sls credential metrics: %w", err)
	}
	return m, nil
}

// adopt registers *c with reg, or replaces it with the collector of the
// same description already registered.
func adopt[T prometheus.Collector](reg prometheus.Registerer, c *T) error {
	err := reg.Register(*c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(T); ok {
			*c = existing
			return nil
		}
	}
	return err
}

// credentialMetrics is what a Credentials counts into; a nil one counts
// nothing.
type credentialMetrics struct{ m *CredentialMetrics }

func (m *CredentialMetrics) forUse() *credentialMetrics { return &credentialMetrics{m: m} }

// obtained records new credentials.
func (c *credentialMetrics) obtained(a Answer, renewed bool) {
	if c.m == nil {
		return
	}
	if renewed {
		c.m.renewals.WithLabelValues(a.Provider).Inc()
	}
	if !a.Expiry.IsZero() {
		c.m.expiry.WithLabelValues(a.Provider).Set(float64(a.Expiry.Unix()))
	}
}

func (c *credentialMetrics) refused(provider string) {
	if c.m != nil {
		c.m.refusals.WithLabelValues(provider).Inc()
	}
}
