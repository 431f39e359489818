package emulator

import (
	"net/http"
	"strings"

	"github.com/slspipe/slspipe/emulator/internal/apierr"
)

// serveAdmin serves the emulator's own endpoints under /_emulator/. They
// take no signature: they exist only on the emulator, for tests and demos
// to steer it.
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if p == adminPrefix+"faults" || strings.HasPrefix(p, adminPrefix+"faults/") {
		s.serveFaultsAdmin(w, r)
		return
	}
	s.writeError(w, apierr.New(http.StatusNotFound, "RequestNotSupported", "unknown emulator endpoint %s", p))
}
