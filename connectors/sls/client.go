package sls

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	sdk "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/internal/redact"
)

// sdkRetryTimeout bounds the SDK's own retries of one metadata call; the
// source's retry policy wraps it.
const sdkRetryTimeout = time.Second

// endpoint is a parsed SLS endpoint.
type endpoint struct {
	scheme string // "http" or "https"
	host   string // host[:port] as configured, without scheme
	raw    string // as configured, for messages
}

// parseEndpoint accepts "host[:port]" or "http(s)://host[:port]".
func parseEndpoint(s string) (endpoint, error) {
	ep := endpoint{scheme: "https", raw: s}
	rest := s
	switch {
	case strings.HasPrefix(s, "http://"):
		ep.scheme, rest = "http", strings.TrimPrefix(s, "http://")
	case strings.HasPrefix(s, "https://"):
		rest = strings.TrimPrefix(s, "https://")
	}
	rest = strings.TrimRight(rest, "/")
	if rest == "" || strings.ContainsAny(rest, "/?#@ ") {
		return endpoint{}, fmt.Errorf("endpoint %q: want host[:port], optionally with http:// or https://", redact.URL(s))
	}
	ep.host = rest
	return ep, nil
}

// local reports whether the endpoint is an IP address or localhost, which
// cannot carry the "<project>." prefix the service expects in the Host
// header; such endpoints get a transport that dials the address itself.
func (ep endpoint) local() bool {
	h := ep.host
	if hh, _, err := net.SplitHostPort(h); err == nil {
		h = hh
	}
	h = strings.Trim(h, "[]")
	return h == "localhost" || net.ParseIP(h) != nil
}

// dialAddr returns the host:port to connect to.
func (ep endpoint) dialAddr() string {
	if _, _, err := net.SplitHostPort(ep.host); err == nil {
		return ep.host
	}
	if ep.scheme == "http" {
		return net.JoinHostPort(strings.Trim(ep.host, "[]"), "80")
	}
	return net.JoinHostPort(strings.Trim(ep.host, "[]"), "443")
}

// newHTTPClient returns the HTTP client for ep. For a local endpoint every
// "<project>.<endpoint>" host is dialled at the endpoint's address, so the
// project still travels in the Host header; proxies are never used for it.
func newHTTPClient(ep endpoint) *http.Client {
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     55 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	if ep.local() {
		addr := ep.dialAddr()
		suffix := "." + ep.host
		var d net.Dialer
		tr.Proxy = nil
		tr.DialContext = func(ctx context.Context, network, target string) (net.Conn, error) {
			if target == ep.host || strings.HasSuffix(target, suffix) || strings.HasSuffix(hostOnly(target), "."+hostOnly(ep.host)) {
				return d.DialContext(ctx, network, addr)
			}
			return d.DialContext(ctx, network, target)
		}
	}
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}
}

func hostOnly(hp string) string {
	if h, _, err := net.SplitHostPort(hp); err == nil {
		return h
	}
	return hp
}

// client talks to one SLS project: the official SDK for metadata and
// consumer-group calls, and hand-made signed GETs for pulls.
type client struct {
	ep        endpoint
	project   string
	sdk       sdk.ClientInterface
	http      *http.Client
	signV4    bool
	region    string
	keyID     string
	keySecret string
	token     string
	userAgent string
}

// newClient builds the client for cfg. Secrets are read only here and
// only kept for signing.
func newClient(cfg config.SLSAuth, lookup func(string) (string, bool), hc *http.Client, userAgent string) (*client, error) {
	ep, err := parseEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	if cfg.Project == "" {
		return nil, errors.New("project is empty")
	}
	if lookup == nil {
		lookup = os.LookupEnv
	}
	id, secret, token := cfg.Credentials(lookup)
	if !id.IsSet() || !secret.IsSet() {
		return nil, fmt.Errorf("project %s at %s: no access key (set access_key_id and access_key_secret or ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET)", cfg.Project, ep.raw)
	}
	if hc == nil {
		hc = newHTTPClient(ep)
	}
	c := &client{
		ep: ep, project: cfg.Project, http: hc,
		signV4: cfg.SignatureVersion == "v4", region: cfg.Region,
		keyID: id.Value(), keySecret: secret.Value(), token: token.Value(),
		userAgent: userAgent,
	}
	sc := sdk.CreateNormalInterface(ep.scheme+"://"+ep.host, c.keyID, c.keySecret, c.token)
	if c.signV4 {
		if c.region == "" {
			return nil, errors.New("signature_version v4 needs region")
		}
		sc.SetAuthVersion(sdk.AuthV4)
		sc.SetRegion(c.region)
	}
	sc.SetHTTPClient(hc)
	sc.SetRetryTimeout(sdkRetryTimeout)
	if cl, ok := sc.(*sdk.Client); ok {
		// The SDK sets its request timeout on first use, in every call,
		// which races between concurrent first calls; set its default once.
		cl.RequestTimeOut = 60 * time.Second
	}
	if userAgent != "" {
		sc.SetUserAgent(userAgent)
	}
	c.sdk = sc
	return c, nil
}

// baseURL is the project's URL prefix: scheme://project.host.
func (c *client) baseURL() string { return c.ep.scheme + "://" + c.project + "." + c.ep.host }

// signedGet builds a signed GET request for uri (path and query), as the
// SDK signs them.
func (c *client) signedGet(ctx context.Context, uri string, extra map[string]string) (*http.Request, error) {
	h := map[string]string{
		"x-log-bodyrawsize": "0",
		"x-log-apiversion":  "0.6.0",
		"Host":              c.project + "." + c.ep.host,
	}
	if c.userAgent != "" {
		h["User-Agent"] = c.userAgent
	} else {
		h["User-Agent"] = sdk.DefaultLogUserAgent
	}
	if c.token != "" {
		h["x-acs-security-token"] = c.token
	}
	for k, v := range extra {
		h[k] = v
	}
	var err error
	if c.signV4 {
		h["x-log-date"] = time.Now().UTC().Format("20060102T150405Z")
		err = sdk.NewSignerV4(c.keyID, c.keySecret, c.region).Sign(http.MethodGet, uri, h, nil)
	} else {
		h["Date"] = time.Now().UTC().Format(http.TimeFormat)
		err = sdk.NewSignerV1(c.keyID, c.keySecret).Sign(http.MethodGet, uri, h, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("sign request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.baseURL()+uri, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range h {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	return req, nil
}

// shardsURI is the path of a logstore's shard resource.
func shardsURI(logstore string, shard int, q url.Values) string {
	return fmt.Sprintf("/logstores/%s/shards/%d?%s", url.PathEscape(logstore), shard, q.Encode())
}
