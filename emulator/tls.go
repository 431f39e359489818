package emulator

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"time"
)

// HTTPS: the emulator can serve the same API over TLS as well, with a
// certificate for 127.0.0.1, ::1 and localhost signed by a CA it creates
// at start, so that clients are tested against HTTPS endpoints as deployed
// (system roots, a CA bundle, an https STS endpoint) without a real
// certificate.

// localCA is a CA and the server certificate it signed.
type localCA struct {
	certPEM []byte // the CA certificate, PEM
	server  tls.Certificate
}

func newLocalCA() (*localCA, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "slspipe emulator local CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(30 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(30 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		// sls-emulator.test and its subdomains name the emulator where a
		// test needs a host name that is not local (through a proxy, say):
		// the SDK puts the project in front of the endpoint.
		DNSNames:    []string{"localhost", "sls-emulator.test", "*.sls-emulator.test"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	return &localCA{
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		server:  tls.Certificate{Certificate: [][]byte{leafDER, caDER}, PrivateKey: key},
	}, nil
}

// StartTLS also serves the API over HTTPS on addr (port 0 picks a free
// one) until Close, with a certificate for 127.0.0.1, ::1, localhost and
// [*.]sls-emulator.test signed by the emulator's own CA (see CACertificatePEM). It may be called
// once, before or after Start.
func (s *Server) StartTLS(ctx context.Context, addr string) error {
	ca, err := newLocalCA()
	if err != nil {
		return fmt.Errorf("create the emulator's certificate: %w", err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{ca.server}, MinVersion: tls.VersionTLS12},
	}
	s.mu.Lock()
	switch {
	case s.closed:
		err = errors.New("emulator is closed")
	case s.tlsSrv != nil:
		err = errors.New("emulator already serves TLS")
	}
	if err != nil {
		s.mu.Unlock()
		ln.Close()
		return err
	}
	s.tlsSrv, s.tlsAddr, s.ca = hs, ln.Addr().String(), ca
	s.mu.Unlock()
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		if err := hs.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("emulator stopped serving TLS", "addr", ln.Addr().String(), "err", err)
		}
	}()
	return nil
}

// TLSAddr returns the address StartTLS listens on, or "".
func (s *Server) TLSAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tlsAddr
}

// CACertificatePEM returns the PEM certificate of the CA that signed the
// HTTPS certificate, for clients to trust (a ca_file, SSL_CERT_FILE); nil
// before StartTLS.
func (s *Server) CACertificatePEM() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ca == nil {
		return nil
	}
	return s.ca.certPEM
}
