package engine

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"strconv"
)

// statusPage is the status page: one HTML file with its styles and script
// inline, so that it works offline and from any listener.
//
//go:embed statuspage/index.html
var statusPage []byte

// handleStatus adds the status page and its JSON to mux.
func (p *Pipeline) handleStatus(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		// Everything the page needs is inline; it fetches only its own
		// /api/status.
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; img-src data:")
		_, _ = w.Write(statusPage)
	})
	mux.HandleFunc("GET /api/status", func(w http.ResponseWriter, r *http.Request) {
		var since int64
		if v := r.URL.Query().Get("since"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				http.Error(w, "since: want Unix milliseconds, got "+strconv.Quote(v), http.StatusBadRequest)
				return
			}
			since = n
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(p.Status(since))
	})
}
