package faults

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// maxAdminBody bounds an admin request body; plans are small.
const maxAdminBody = 1 << 20

// Plan is the whole fault configuration, as PUT to the admin handler.
type Plan struct {
	Faults []Fault `json:"faults"`
	Quotas Quotas  `json:"quotas"`
	// Seed, when set, reseeds the random source (see SetSeed).
	Seed *uint64 `json:"seed,omitempty"`
}

// State is what GET on the admin handler returns.
type State struct {
	Seed   uint64        `json:"seed"`
	Quotas Quotas        `json:"quotas"`
	Faults []ActiveFault `json:"faults"`
	Stats  Stats         `json:"stats"`
}

// SetPlan replaces the faults and quotas with p (counters are kept).
func (in *Injector) SetPlan(p Plan) error {
	for i, f := range p.Faults {
		if err := f.Validate(); err != nil {
			return fmt.Errorf("fault %d: %w", i, err)
		}
	}
	if err := p.Quotas.Validate(); err != nil {
		return err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	clear(in.faults)
	in.faults = make([]*entry, 0, len(p.Faults))
	for _, f := range p.Faults {
		in.nextID++
		in.faults = append(in.faults, &entry{Fault: f, id: in.nextID})
	}
	in.quotas = p.Quotas
	in.shards = make(map[shardKey]*shardBuckets)
	in.project = make(map[string]*projectBuckets)
	if p.Seed != nil {
		in.setSeedLocked(*p.Seed)
	}
	in.updateActiveLocked()
	return nil
}

// State returns the seed, quotas, plan and counters.
func (in *Injector) State() State {
	faults := in.Faults()
	in.mu.Lock()
	defer in.mu.Unlock()
	return State{Seed: in.seed, Quotas: in.quotas, Faults: faults, Stats: in.statsLocked()}
}

// AdminHandler returns the HTTP interface to the Injector, JSON in and out,
// for callers that present one of tokens as "Authorization: Bearer
// <token>". It ignores the request path, so it can be mounted under any
// prefix:
//
//	GET     the State: seed, quotas, faults with their hits, counters
//	POST    add one Fault (body: a Fault); answers {"id": n}
//	PUT     replace faults and quotas (body: a Plan); answers the State
//	DELETE  with ?id=n remove one fault; without, reset everything
//	        including the counters; answers the State
//
// Errors are answered as {"errorCode","errorMessage"} with status 400, 401,
// 403, 404, 405, 413 or 415. With curl, against the emulator and its default
// key:
//
//	curl -H 'Authorization: Bearer slspipe-local-secret' -H 'Content-Type: application/json' \
//	  -X POST 127.0.0.1:9100/_emulator/faults -d '{"match":{"kind":"read"},"count":20,"status":403}'
//
// # Notes
//
//   - The handler changes how a whole server answers, so it is never open:
//     a request without a matching token is refused (401 Unauthorized),
//     and with no tokens given every request is.
//   - Nothing a web page could send is served, whatever its token: a
//     request carrying an Origin header or a Sec-Fetch-Site other than
//     "none" is refused (403 Forbidden), which covers a cross-site form
//     post, a no-cors fetch and a DNS-rebound page; curl and Go clients
//     send neither header.
//   - A body (POST, PUT) must be Content-Type application/json (415
//     InvalidContentType) and at most 1 MiB, refused (413
//     PostBodyTooLarge) before more than that is read.
func (in *Injector) AdminHandler(tokens ...string) http.Handler {
	g := adminGuard{next: http.HandlerFunc(in.serveAdmin)}
	for _, t := range tokens {
		if t != "" {
			g.tokens = append(g.tokens, []byte(t))
		}
	}
	return g
}

func (in *Injector) serveAdmin(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, in.State())
	case http.MethodPost:
		var f Fault
		if !decodeBody(w, r, &f) {
			return
		}
		id, err := in.Add(f)
		if err != nil {
			writeAdminError(w, http.StatusBadRequest, "ParameterInvalid", err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]int{"id": id})
	case http.MethodPut:
		var p Plan
		if !decodeBody(w, r, &p) {
			return
		}
		if err := in.SetPlan(p); err != nil {
			writeAdminError(w, http.StatusBadRequest, "ParameterInvalid", err.Error())
			return
		}
		writeJSON(w, http.StatusOK, in.State())
	case http.MethodDelete:
		if raw := r.URL.Query().Get("id"); raw != "" {
			id, err := strconv.Atoi(raw)
			if err != nil {
				writeAdminError(w, http.StatusBadRequest, "ParameterInvalid", "id must be an integer")
				return
			}
			if !in.Remove(id) {
				writeAdminError(w, http.StatusNotFound, "FaultNotExist", fmt.Sprintf("fault %d does not exist", id))
				return
			}
		} else {
			in.Reset()
		}
		writeJSON(w, http.StatusOK, in.State())
	default:
		w.Header().Set("Allow", "GET, POST, PUT, DELETE")
		writeAdminError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", r.Method+" is not supported")
	}
}

// decodeBody reads r's JSON body strictly into v, answering 400 on error,
// or 413 past maxAdminBody bytes (the guard bounds the body before it is
// read).
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeAdminError(w, http.StatusRequestEntityTooLarge, "PostBodyTooLarge", fmt.Sprintf("body exceeds %d bytes", maxAdminBody))
			return false
		}
		writeAdminError(w, http.StatusBadRequest, "PostBodyInvalid", "invalid JSON body: "+err.Error())
		return false
	}
	return true
}

func writeAdminError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"errorCode": code, "errorMessage": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// The status is already sent; a failed write means the client left.
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // read in a terminal, never embedded in HTML
	_ = enc.Encode(v)
}
