package emulator

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/slspipe/slspipe/emulator/internal/ram"
)

// The emulator's ECS instance metadata service, the part of it that hands
// an instance its RAM role's credentials:
//
//	PUT /latest/api/token                                 a session token (IMDSv2)
//	GET /latest/meta-data/ram/security-credentials/       the role name
//	GET /latest/meta-data/ram/security-credentials/<role> its credentials, as JSON
//
// On ECS it answers at http://100.100.100.200; a client reaches the
// emulator's instead through it as an HTTP proxy (the path is what counts).

const (
	metadataPrefix      = "/latest/"
	metadataTokenPath   = "/latest/api/token"
	metadataCredsPrefix = "/latest/meta-data/ram/security-credentials/"
	// instanceTokenLifetime is the lifetime of an instance's credentials
	// when Config.TokenLifetime is zero, as on ECS.
	instanceTokenLifetime = 6 * time.Hour
	maxMetadataTokenTTL   = 6 * time.Hour
)

// instanceRole serves the instance role's credentials. Like the service it
// hands out the same credentials until less than half their lifetime is
// left, then new ones, so that a client refreshing ahead of expiry always
// gets credentials that outlive its refresh.
type instanceRole struct {
	mu      sync.Mutex // guards current and tokens
	current *TemporaryCredentials
	issued  time.Time
	tokens  map[string]time.Time // IMDSv2 session tokens → expiry
}

// isMetadataRequest tells a metadata call from an SLS API call.
func isMetadataRequest(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, metadataPrefix)
}

func (s *Server) serveMetadata(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	m := &s.instance
	if r.URL.Path == metadataTokenPath {
		if r.Method != http.MethodPut {
			http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
			return
		}
		ttl, err := strconv.Atoi(r.Header.Get("X-aliyun-ecs-metadata-token-ttl-seconds"))
		if err != nil || ttl < 1 || time.Duration(ttl)*time.Second > maxMetadataTokenTTL {
			http.Error(w, "Bad Request: X-aliyun-ecs-metadata-token-ttl-seconds must be 1 to 21600", http.StatusBadRequest)
			return
		}
		token := randomText(32)
		m.mu.Lock()
		if m.tokens == nil {
			m.tokens = map[string]time.Time{}
		}
		now := time.Now()
		for t, exp := range m.tokens {
			if now.After(exp) {
				delete(m.tokens, t)
			}
		}
		m.tokens[token] = now.Add(time.Duration(ttl) * time.Second)
		m.mu.Unlock()
		_, _ = w.Write([]byte(token))
		return
	}
	if r.Method != http.MethodGet {
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	if t := r.Header.Get("X-aliyun-ecs-metadata-token"); t != "" {
		m.mu.Lock()
		exp, ok := m.tokens[t]
		m.mu.Unlock()
		if !ok || time.Now().After(exp) {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
	}
	role := s.cfg.InstanceRole
	name, ok := strings.CutPrefix(r.URL.Path, metadataCredsPrefix)
	switch {
	case !ok || role == "":
		http.Error(w, "Not Found", http.StatusNotFound)
	case name == "":
		_, _ = w.Write([]byte(role))
	case name != role:
		http.Error(w, "Not Found", http.StatusNotFound)
	default:
		c := s.instanceCredentials()
		w.Header().Set("Content-Type", "application/json")
		b, _ := json.Marshal(map[string]string{
			"AccessKeyId":     c.AccessKeyID,
			"AccessKeySecret": c.AccessKeySecret,
			"SecurityToken":   c.SecurityToken,
			"Expiration":      c.Expiration.UTC().Format("2006-01-02T15:04:05Z"),
			"LastUpdated":     m.issued.UTC().Format("2006-01-02T15:04:05Z"),
			"Code":            "Success",
		})
		_, _ = w.Write(b)
	}
}

// instanceCredentials returns the instance role's current credentials,
// issuing new ones once less than half of their lifetime is left.
func (s *Server) instanceCredentials() TemporaryCredentials {
	m := &s.instance
	m.mu.Lock()
	defer m.mu.Unlock()
	lifetime := s.cfg.TokenLifetime
	if lifetime <= 0 {
		lifetime = instanceTokenLifetime
	}
	now := time.Now()
	if m.current == nil || m.current.Expiration.Sub(now) < lifetime/2 {
		c := s.temp.issue("acs:ram::"+ram.Account+":role/"+s.cfg.InstanceRole, lifetime)
		m.current, m.issued = &c, now
	}
	return *m.current
}
