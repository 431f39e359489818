package engine

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves the pipeline's operational endpoints:
//
//   - /metrics: the pipeline's Prometheus registry;
//   - /healthz: 200 while the process is up;
//   - /readyz: 200 while the pipeline runs and its sink (when it implements
//     [ReadinessChecker]) is connected, 503 otherwise;
//   - /: the status page, one self-contained HTML page that polls
//     /api/status;
//   - /api/status: [Pipeline.Status] as JSON (?since=MS sends only the
//     samples taken after MS, Unix milliseconds).
func (p *Pipeline) Handler() http.Handler {
	mux := http.NewServeMux()
	p.handleStatus(mux)
	mux.Handle("/metrics", promhttp.HandlerFor(p.reg, promhttp.HandlerOpts{Registry: p.reg}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := p.ready(r.Context()); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	return mux
}

func (p *Pipeline) ready(ctx context.Context) error {
	if !p.running.Load() || p.isFailed() {
		return fmt.Errorf("pipeline %q is not running", p.name)
	}
	if rc, ok := p.sink.(ReadinessChecker); ok {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := rc.Ready(ctx); err != nil {
			return err
		}
	}
	return nil
}
