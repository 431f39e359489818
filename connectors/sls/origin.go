package sls

import (
	"net"
	"strings"

	"github.com/slspipe/slspipe/connectors/sls/internal/slsapi"
)

// Origin implements [engine.Origins]: the cursors of a logstore are
// positions in that logstore of the project at the endpoint's region,
// named "sls://<host>/<project>/<logstore>".
//
// # Notes
//
//   - The host is normalised so that spellings of one endpoint match: the
//     scheme and a default port are dropped, case is folded, and a region's
//     intranet or share endpoint ("cn-hangzhou-intranet.log.aliyuncs.com")
//     is its public one ("cn-hangzhou.log.aliyuncs.com"), since both serve
//     the same projects. Any other host (an IP address, a proxy, the global
//     acceleration endpoint) is taken as it is: switching between such
//     spellings of the same data means resetting the positions.
func (s *Source) Origin(logstore string) string {
	return "sls://" + originHost(s.c.Endpoint) + "/" + s.cfg.Project + "/" + logstore
}

// regionAliases are the suffixes of a region label that name another
// network path to the same region: "<region>-intranet.log.aliyuncs.com".
var regionAliases = []string{"-intranet", "-share"}

const serviceDomain = ".log.aliyuncs.com"

// originHost returns the normalised host[:port] of ep.
func originHost(ep slsapi.Endpoint) string {
	host, port := strings.ToLower(ep.Host), ""
	if h, p, err := net.SplitHostPort(host); err == nil {
		host, port = h, p
	}
	host = strings.TrimSuffix(host, ".")
	if (ep.Scheme == "https" && port == "443") || (ep.Scheme == "http" && port == "80") {
		port = ""
	}
	if region, ok := strings.CutSuffix(host, serviceDomain); ok && port == "" {
		for _, alias := range regionAliases {
			region = strings.TrimSuffix(region, alias)
		}
		host = region + serviceDomain
	}
	host = strings.Trim(host, "[]")
	switch {
	case port != "":
		return net.JoinHostPort(host, port)
	case strings.Contains(host, ":"):
		return "[" + host + "]" // an IPv6 address
	}
	return host
}
