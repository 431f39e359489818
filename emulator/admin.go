package emulator

import (
	"net/http"
	"strings"

	"github.com/slspipe/slspipe/emulator/internal/apierr"
)

// serveAdmin serves the emulator's own endpoints under /_emulator/. They
// exist only on the emulator, for tests and demos to steer it. They take no
// SLS signature, which curl cannot make, but "Authorization: Bearer
// <secret>" with the secret of one of the emulator's access keys: whoever
// may call the API may steer it, and nobody else.
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if p == adminPrefix+"faults" || strings.HasPrefix(p, adminPrefix+"faults/") {
		s.serveFaultsAdmin(w, r)
		return
	}
	s.writeError(w, apierr.New(http.StatusNotFound, "RequestNotSupported", "unknown emulator endpoint %s", p))
}

// adminTokens returns the bearer tokens the admin endpoints accept: the
// secrets of keys.
func adminTokens(keys map[string]string) []string {
	out := make([]string, 0, len(keys))
	for _, secret := range keys {
		out = append(out, secret)
	}
	return out
}
