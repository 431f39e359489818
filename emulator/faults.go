package emulator

import (
	"net/http"

	"github.com/slspipe/slspipe/emulator/faults"
)

// Faults returns the emulator's fault injector: quotas (403 throttling),
// server errors, latency and dropped connections, all off until configured.
// It is also served over HTTP under /_emulator/faults, to callers that
// present the secret of one of the access keys as a bearer token.
func (s *Server) Faults() *faults.Injector {
	return s.faults
}

// admit asks the injector how to treat op. It returns handled=true when the
// request was answered (the connection dropped, or the client went away
// during an injected delay), and an *apierr.Error to answer with otherwise.
func (s *Server) admit(req *request, op faults.Op) (handled bool, err error) {
	d := s.faults.Before(op)
	if err := d.Wait(req.r.Context()); err != nil {
		return true, nil
	}
	if d.Drop {
		if err := faults.DropConnection(req.w); err != nil {
			s.log.Debug("drop connection", "err", err)
		}
		return true, nil
	}
	if d.Err != nil {
		return false, d.Err
	}
	return false, nil
}

// opFor classifies a routed request for the injector; for writes the shard
// is filled in once known.
func opFor(req *request, kind faults.Kind, shard int) faults.Op {
	return faults.Op{Kind: kind, Project: req.project, Logstore: req.logstore, Shard: shard, Bytes: len(req.body)}
}

func (s *Server) afterRead(req *request, shard, n int) {
	s.faults.AfterRead(opFor(req, faults.Read, shard), n)
}

// serveFaultsAdmin serves the injector's admin API to callers that present
// the secret of one of the emulator's access keys as a bearer token.
func (s *Server) serveFaultsAdmin(w http.ResponseWriter, r *http.Request) {
	s.adminFaults.ServeHTTP(w, r)
}
