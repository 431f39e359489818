package nats

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/internal/redact"
)

// reconnectWait is the pause between reconnection attempts; the client
// reconnects forever, so an outage only stalls the pipeline.
const reconnectWait = 250 * time.Millisecond

// connOptions turns the connection settings into client options. Secrets
// go straight into the client; they never appear in errors or logs.
func connOptions(c config.NATSConn, name string) ([]natsgo.Option, error) {
	opts := []natsgo.Option{
		natsgo.Name(name),
		natsgo.MaxReconnects(-1),
		natsgo.ReconnectWait(reconnectWait),
		natsgo.ReconnectJitter(50*time.Millisecond, 250*time.Millisecond),
	}
	switch {
	case c.CredentialsFile != "":
		if _, err := os.Stat(c.CredentialsFile); err != nil {
			return nil, fmt.Errorf("credentials_file: %w", err)
		}
		opts = append(opts, natsgo.UserCredentials(c.CredentialsFile))
	case c.NKeySeedFile != "":
		opt, err := natsgo.NkeyOptionFromSeed(c.NKeySeedFile)
		if err != nil {
			// The client's error names the problem, never the seed.
			return nil, fmt.Errorf("nkey_seed_file %s: %w", c.NKeySeedFile, err)
		}
		opts = append(opts, opt)
	case c.Token.IsSet():
		opts = append(opts, natsgo.Token(c.Token.Value()))
	case c.User != "":
		opts = append(opts, natsgo.UserInfo(c.User, c.Password.Value()))
	}
	if c.TLS != nil || hasTLSScheme(c.URL) {
		cfg, err := tlsConfig(c.TLS)
		if err != nil {
			return nil, err
		}
		opts = append(opts, natsgo.Secure(cfg))
	}
	return opts, nil
}

func hasTLSScheme(urls string) bool {
	for _, u := range strings.Split(urls, ",") {
		u = strings.TrimSpace(u)
		if strings.HasPrefix(u, "tls://") || strings.HasPrefix(u, "wss://") {
			return true
		}
	}
	return false
}

// tlsConfig builds the client TLS configuration; t may be nil.
func tlsConfig(t *config.TLS) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if t == nil {
		return cfg, nil
	}
	cfg.InsecureSkipVerify = t.InsecureSkipVerify //nolint:gosec // an explicit, documented test setting
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls ca_file %s: no PEM certificate found", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls cert_file/key_file: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// connect dials the server. An unreachable server is an error here; once
// connected, the client reconnects on its own, forever.
func connect(ctx context.Context, c config.NATSConn, name string, extra ...natsgo.Option) (*natsgo.Conn, error) {
	opts, err := connOptions(c, name)
	if err != nil {
		return nil, fmt.Errorf("nats %s: %w", redact.URLs(c.URL), err)
	}
	opts = append(opts, extra...)
	if dl, ok := ctx.Deadline(); ok {
		opts = append(opts, natsgo.Timeout(time.Until(dl)))
	}
	nc, err := natsgo.Connect(c.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("nats: connect to %s: %w", redact.URLs(c.URL), err)
	}
	return nc, nil
}
