package emulator

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/slspipe/slspipe/emulator/faults"
	"github.com/slspipe/slspipe/emulator/internal/apierr"
	"github.com/slspipe/slspipe/emulator/internal/auth"
	"github.com/slspipe/slspipe/emulator/internal/groups"
	"github.com/slspipe/slspipe/emulator/internal/ram"
	"github.com/slspipe/slspipe/emulator/internal/wire"
)

// maxRequestBody bounds what is read of any request body: a compressed
// body is never larger than its raw form plus LZ4's worst-case overhead.
const maxRequestBody = wire.MaxRawBody + wire.MaxRawBody/255 + 1024

// adminPrefix is where the emulator's own endpoints live; they bypass
// signature checks.
const adminPrefix = "/_emulator/"

var (
	requestIDPrefix = newRequestIDPrefix()
	requestSeq      atomic.Uint64
)

func newRequestIDPrefix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

// newRequestID returns a unique 24-character ID like the service's.
func newRequestID() string {
	n := requestSeq.Add(1)
	var b [24]byte
	copy(b[:], requestIDPrefix)
	const digits = "0123456789ABCDEF"
	for i := 23; i >= 8; i-- {
		b[i] = digits[n&15]
		n >>= 4
	}
	return string(b[:])
}

// request is one API call being served.
type request struct {
	w           http.ResponseWriter
	r           *http.Request
	body        []byte
	project     string
	logstore    string // "" when the path names none
	rest        string // path after /logstores/{logstore}
	accessKeyID string // who signed it, for authorization
}

// ServeHTTP serves the SLS API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("x-log-requestid", newRequestID())
	w.Header().Set("Server", "sls-emulator")
	if strings.HasPrefix(r.URL.Path, adminPrefix) {
		s.serveAdmin(w, r)
		return
	}
	if isMetadataRequest(r) {
		s.serveMetadata(w, r)
		return
	}
	body, err := readBody(r)
	if err != nil {
		s.writeError(w, err)
		return
	}
	if isSTSRequest(r) {
		s.serveSTS(w, r, body)
		return
	}
	if err := s.temp.check(r, auth.AccessKeyID(r)); err != nil {
		s.writeError(w, err)
		return
	}
	if err := s.verifier.Verify(r, body); err != nil {
		s.writeError(w, err)
		return
	}
	req := &request{w: w, r: r, body: body, project: projectFromHost(r.Host), accessKeyID: auth.AccessKeyID(r)}
	if err := s.route(req); err != nil {
		s.writeError(w, err)
	}
}

func readBody(r *http.Request) ([]byte, error) {
	if r.ContentLength > maxRequestBody {
		return nil, apierr.New(http.StatusBadRequest, "PostBodyTooLarge", "body size %d exceeds the limit", r.ContentLength)
	}
	if r.ContentLength == 0 {
		return nil, nil
	}
	var body []byte
	if r.ContentLength > 0 {
		body = make([]byte, r.ContentLength)
		if _, err := io.ReadFull(r.Body, body); err != nil {
			return nil, apierr.New(http.StatusBadRequest, "PostBodyInvalid", "read body: %v", err)
		}
		return body, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		return nil, apierr.New(http.StatusBadRequest, "PostBodyInvalid", "read body: %v", err)
	}
	if len(body) > maxRequestBody {
		return nil, apierr.New(http.StatusBadRequest, "PostBodyTooLarge", "body exceeds the limit")
	}
	return body, nil
}

// projectFromHost takes the project as the Host up to its first '.', the
// SDK sending "<project>.<endpoint>". A bare IP or single label names none.
func projectFromHost(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if net.ParseIP(host) != nil {
		return ""
	}
	p, _, ok := strings.Cut(host, ".")
	if !ok {
		return ""
	}
	return p
}

// route dispatches on the path. Every API names the RAM action it needs
// and the resource it acts on next to its route; s.allow refuses a caller
// whose access key is denied the action, before anything else is looked
// at, as the service does.
func (s *Server) route(req *request) error {
	path := req.r.URL.Path
	method := req.r.Method
	switch {
	case path == "/" || path == "":
		if handled, err := s.admit(req, opFor(req, faults.Meta, -1)); handled || err != nil {
			return err
		}
		switch method {
		case http.MethodGet:
			return s.allow(req, "log:GetProject", ram.ProjectResource(req.project), s.serveProject)
		case http.MethodPost:
			return s.allow(req, "log:CreateProject", ram.ProjectResource(req.project), s.serveProject)
		}
		return errMethod(req)
	case path == "/logstores":
		if handled, err := s.admit(req, opFor(req, faults.Meta, -1)); handled || err != nil {
			return err
		}
		all := ram.LogstoreResource(req.project, "*")
		switch method {
		case http.MethodGet:
			return s.allow(req, "log:ListLogStores", all, s.listLogstores)
		case http.MethodPost:
			return s.allow(req, "log:CreateLogStore", all, s.createLogstore)
		}
		return errMethod(req)
	case strings.HasPrefix(path, "/logstores/"):
		name, rest, _ := strings.Cut(path[len("/logstores/"):], "/")
		req.logstore = name
		if rest != "" {
			rest = "/" + rest
		}
		req.rest = rest
		return s.routeLogstore(req)
	}
	return apierr.New(http.StatusNotFound, "RequestNotSupported", "%s %s is not supported by the emulator", method, path)
}

func (s *Server) routeLogstore(req *request) error {
	if req.project == "" {
		return apierr.New(http.StatusNotFound, "ProjectNotExist", "no project in the Host header")
	}
	method := req.r.Method
	rest := req.rest
	if handled, err := s.admitLogstoreCall(req); handled || err != nil {
		return err
	}
	logstore := ram.LogstoreResource(req.project, req.logstore)
	switch {
	case rest == "":
		switch method {
		case http.MethodGet:
			return s.allow(req, "log:GetLogStore", logstore, s.getLogstore)
		case http.MethodPut:
			return s.allow(req, "log:UpdateLogStore", logstore, s.updateLogstore)
		case http.MethodDelete:
			return s.allow(req, "log:DeleteLogStore", logstore, s.deleteLogstore)
		case http.MethodPost:
			return s.allow(req, "log:PostLogStoreLogs", logstore, func(req *request) error {
				return s.putLogs(req, "")
			})
		}
	case rest == "/shards":
		if method == http.MethodGet {
			return s.allow(req, "log:ListShards", logstore, s.listShards)
		}
	case rest == "/shards/route":
		if method == http.MethodPost {
			return s.allow(req, "log:PostLogStoreLogs", logstore, func(req *request) error {
				key := req.r.URL.Query().Get("key")
				if key == "" {
					return apierr.New(http.StatusBadRequest, "ParameterInvalid", "route needs a hash key")
				}
				return s.putLogs(req, key)
			})
		}
	case rest == "/shards/lb":
		if method == http.MethodPost {
			return s.allow(req, "log:PostLogStoreLogs", logstore, func(req *request) error {
				return s.putLogs(req, req.r.Header.Get("x-log-hashkey"))
			})
		}
	case strings.HasPrefix(rest, "/shards/"):
		id, err := strconv.Atoi(rest[len("/shards/"):])
		if err != nil || id < 0 {
			return apierr.New(http.StatusBadRequest, "ShardNotExist", "shard %q does not exist", rest[len("/shards/"):])
		}
		switch method {
		case http.MethodGet:
			// GetCursor, GetCursorTime and PullLogs share one action.
			return s.allow(req, "log:GetCursorOrData", logstore, func(req *request) error {
				return s.serveShardGet(req, id)
			})
		case http.MethodPost:
			action := "log:SplitShard"
			if req.r.URL.Query().Get("action") == "merge" {
				action = "log:MergeShards"
			}
			return s.allow(req, action, logstore, func(req *request) error {
				return s.serveShardAction(req, id)
			})
		}
	case rest == "/consumergroups" || strings.HasPrefix(rest, "/consumergroups/"):
		sub := rest[len("/consumergroups"):]
		action, group := groups.Action(method, req.r.URL.Query(), sub)
		serve := func(req *request) error { return s.serveConsumerGroups(req, sub) }
		if action == "" {
			return serve(req) // refused by the registry with its own error
		}
		return s.allow(req, action, ram.ConsumerGroupResource(req.project, req.logstore, group), serve)
	default:
		return apierr.New(http.StatusNotFound, "RequestNotSupported", "%s %s is not supported by the emulator", method, req.r.URL.Path)
	}
	return errMethod(req)
}

// allow serves req with serve when the caller's access key may perform
// action on resource, and answers 401 Unauthorized otherwise.
func (s *Server) allow(req *request, action, resource string, serve func(*request) error) error {
	if err := s.policy.Authorize(req.accessKeyID, action, resource); err != nil {
		return err
	}
	return serve(req)
}

// admitLogstoreCall consults the fault injector for reads and metadata
// calls; writes consult it in putLogs once their shard is known.
func (s *Server) admitLogstoreCall(req *request) (bool, error) {
	rest, method := req.rest, req.r.Method
	if method == http.MethodPost && (rest == "" || rest == "/shards/route" || rest == "/shards/lb") {
		return false, nil
	}
	op := opFor(req, faults.Meta, -1)
	if method == http.MethodGet && strings.HasPrefix(rest, "/shards/") {
		if id, err := strconv.Atoi(rest[len("/shards/"):]); err == nil {
			op.Kind, op.Shard = faults.Read, id
		}
	}
	return s.admit(req, op)
}

func errMethod(req *request) error {
	return apierr.New(http.StatusMethodNotAllowed, "MethodNotAllowed", "%s is not allowed on %s", req.r.Method, req.r.URL.Path)
}

// writeError answers err as the service does: JSON errorCode and
// errorMessage. Errors that are not *apierr.Error are internal failures.
func (s *Server) writeError(w http.ResponseWriter, err error) {
	var ae *apierr.Error
	if !errors.As(err, &ae) {
		s.log.Error("emulator request failed", "err", err)
		ae = apierr.New(http.StatusInternalServerError, "InternalServerError", "internal server error")
	}
	b, _ := json.Marshal(struct {
		Code    string `json:"errorCode"`
		Message string `json:"errorMessage"`
	}{ae.Code, ae.Message})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(ae.Status)
	_, _ = w.Write(b)
}

// writeJSON answers 200 with v as JSON.
func writeJSON(w http.ResponseWriter, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	return nil
}

// writeEmpty answers 200 with no body.
func writeEmpty(w http.ResponseWriter) {
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}
