package slsapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// ClientOptions are the HTTP settings of an endpoint beyond its address.
type ClientOptions struct {
	// CAFile is a PEM bundle of CAs trusted in addition to the system
	// roots, for HTTPS endpoints behind a private CA or a TLS-inspecting
	// proxy.
	CAFile string
	// Timeout bounds one request; 60 s when zero.
	Timeout time.Duration
}

// NewHTTPClient returns the HTTP client for ep. HTTPS verifies the server
// against the system roots and opts.CAFile. HTTPS_PROXY, HTTP_PROXY and
// NO_PROXY apply as usual, except to a local endpoint: every
// "<project>.<endpoint>" host is then dialled at the endpoint's address, so
// the project still travels in the Host header, and no proxy is used.
func NewHTTPClient(ep Endpoint, opts ClientOptions) (*http.Client, error) {
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     55 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	if opts.CAFile != "" {
		pool, err := certPool(opts.CAFile)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	if ep.Local() {
		addr := ep.DialAddr()
		suffix := "." + ep.Host
		hostSuffix := "." + hostOnly(ep.Host)
		var d net.Dialer
		tr.Proxy = nil
		tr.DialContext = func(ctx context.Context, network, target string) (net.Conn, error) {
			if target == ep.Host || strings.HasSuffix(target, suffix) || strings.HasSuffix(hostOnly(target), hostSuffix) {
				return d.DialContext(ctx, network, addr)
			}
			return d.DialContext(ctx, network, target)
		}
		if tr.TLSClientConfig == nil {
			tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		// The certificate names the endpoint, not "<project>.<endpoint>".
		tr.TLSClientConfig.ServerName = strings.Trim(hostOnly(ep.Host), "[]")
	}
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	return &http.Client{Transport: tr, Timeout: timeout}, nil
}

// certPool returns the system roots plus the certificates of the PEM file.
func certPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ca_file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("ca_file %s: no PEM certificate in it", path)
	}
	return pool, nil
}
