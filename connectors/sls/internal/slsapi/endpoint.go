package slsapi

import (
	"fmt"
	"net"
	"strings"

	"github.com/slspipe/slspipe/internal/redact"
)

// Endpoint is a parsed SLS endpoint: "host[:port]", optionally with
// "http://" or "https://" (the default).
type Endpoint struct {
	Scheme string // "http" or "https"
	Host   string // host[:port] as configured, without scheme
	Raw    string // as configured, for messages
}

// ParseEndpoint parses s.
func ParseEndpoint(s string) (Endpoint, error) {
	ep := Endpoint{Scheme: "https", Raw: s}
	rest := s
	switch {
	case strings.HasPrefix(s, "http://"):
		ep.Scheme, rest = "http", strings.TrimPrefix(s, "http://")
	case strings.HasPrefix(s, "https://"):
		rest = strings.TrimPrefix(s, "https://")
	}
	rest = strings.TrimRight(rest, "/")
	if rest == "" || strings.ContainsAny(rest, "/?#@ ") {
		return Endpoint{}, fmt.Errorf("endpoint %q: want host[:port], optionally with http:// or https://", redact.URL(s))
	}
	ep.Host = rest
	return ep, nil
}

// URL is the endpoint as the SDK takes it: scheme://host.
func (ep Endpoint) URL() string { return ep.Scheme + "://" + ep.Host }

// ProjectHost is the Host header of requests for project: the service
// reads the project from it.
func (ep Endpoint) ProjectHost(project string) string { return project + "." + ep.Host }

// ProjectURL is the URL prefix of project's requests.
func (ep Endpoint) ProjectURL(project string) string {
	return ep.Scheme + "://" + ep.ProjectHost(project)
}

// Local reports whether the endpoint is an IP address or localhost, which
// cannot carry the "<project>." prefix the service expects in the Host
// header; such endpoints get a transport that dials the address itself.
func (ep Endpoint) Local() bool {
	h := hostOnly(ep.Host)
	h = strings.Trim(h, "[]")
	return h == "localhost" || net.ParseIP(h) != nil
}

// DialAddr returns the host:port to connect to.
func (ep Endpoint) DialAddr() string {
	if _, _, err := net.SplitHostPort(ep.Host); err == nil {
		return ep.Host
	}
	port := "443"
	if ep.Scheme == "http" {
		port = "80"
	}
	return net.JoinHostPort(strings.Trim(ep.Host, "[]"), port)
}

func hostOnly(hp string) string {
	if h, _, err := net.SplitHostPort(hp); err == nil {
		return h
	}
	return hp
}
