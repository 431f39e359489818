package nats

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/connectors/nats/natsserver"
)

// authCase is a server set-up and the client settings that get in.
type authCase struct {
	name   string
	server func(t *testing.T, o *server.Options)
	client func(t *testing.T, c *config.NATSConn)
}

func authCases(t *testing.T) []authCase {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return []authCase{
		{
			name:   "token",
			server: func(_ *testing.T, o *server.Options) { o.Authorization = "tok-123" },
			client: func(_ *testing.T, c *config.NATSConn) { c.Token = config.NewSecret("tok-123") },
		},
		{
			name:   "user and password",
			server: func(_ *testing.T, o *server.Options) { o.Username, o.Password = "u", "p4ss" },
			client: func(_ *testing.T, c *config.NATSConn) { c.User, c.Password = "u", config.NewSecret("p4ss") },
		},
		func() authCase {
			kp, err := nkeys.CreateUser()
			if err != nil {
				t.Fatal(err)
			}
			pub, _ := kp.PublicKey()
			seed, _ := kp.Seed()
			path := write("user.nk", seed)
			return authCase{
				name:   "nkey seed file",
				server: func(_ *testing.T, o *server.Options) { o.Nkeys = []*server.NkeyUser{{Nkey: pub}} },
				client: func(_ *testing.T, c *config.NATSConn) { c.NKeySeedFile = path },
			}
		}(),
		func() authCase {
			operator, _ := nkeys.CreateOperator()
			opub, _ := operator.PublicKey()
			oc := jwt.NewOperatorClaims(opub)
			account, _ := nkeys.CreateAccount()
			apub, _ := account.PublicKey()
			ac := jwt.NewAccountClaims(apub)
			ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
			ajwt, err := ac.Encode(operator)
			if err != nil {
				t.Fatal(err)
			}
			sys, _ := nkeys.CreateAccount()
			spub, _ := sys.PublicKey()
			sjwt, err := jwt.NewAccountClaims(spub).Encode(operator)
			if err != nil {
				t.Fatal(err)
			}
			user, _ := nkeys.CreateUser()
			upub, _ := user.PublicKey()
			useed, _ := user.Seed()
			ujwt, err := jwt.NewUserClaims(upub).Encode(account)
			if err != nil {
				t.Fatal(err)
			}
			creds, err := jwt.FormatUserConfig(ujwt, useed)
			if err != nil {
				t.Fatal(err)
			}
			path := write("user.creds", creds)
			return authCase{
				name: "credentials file",
				server: func(t *testing.T, o *server.Options) {
					resolver := &server.MemAccResolver{}
					for pub, claims := range map[string]string{apub: ajwt, spub: sjwt} {
						if err := resolver.Store(pub, claims); err != nil {
							t.Fatal(err)
						}
					}
					o.SystemAccount = spub
					o.TrustedOperators = []*jwt.OperatorClaims{oc}
					o.AccountResolver = resolver
				},
				client: func(_ *testing.T, c *config.NATSConn) { c.CredentialsFile = path },
			}
		}(),
		func() authCase {
			certPEM, keyPEM := selfSigned(t)
			certFile, keyFile := write("server.pem", certPEM), write("server.key", keyPEM)
			return authCase{
				name: "tls with a private CA",
				server: func(t *testing.T, o *server.Options) {
					cert, err := tls.LoadX509KeyPair(certFile, keyFile)
					if err != nil {
						t.Fatal(err)
					}
					o.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
					o.TLS, o.TLSTimeout = true, 5
				},
				client: func(_ *testing.T, c *config.NATSConn) {
					c.URL = strings.Replace(c.URL, "nats://", "tls://", 1)
					c.TLS = &config.TLS{CAFile: certFile}
				},
			}
		}(),
	}
}

// selfSigned returns a certificate for 127.0.0.1 that is its own CA.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

func TestSinkAuthentication(t *testing.T) {
	for _, tc := range authCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, natsserver.Options{Configure: func(o *server.Options) { tc.server(t, o) }})
			cfg := sinkConfig(srv.URL())
			cfg.Stream, cfg.CreateStream = "LOGS", true
			tc.client(t, &cfg.NATSConn)
			s := newSink(t, cfg)
			c := newConfirmations()
			_ = s.Write(context.Background(), records(0, 10, "h"), c)
			c.wait(t, 10)
			if ok, _ := c.counts(); ok != 10 {
				t.Fatalf("confirmed %d of 10 (%v)", ok, c.firstErr())
			}

			// The same server refuses a client without the credentials.
			bare := sinkConfig(srv.URL())
			if tc.name == "tls with a private CA" {
				bare.URL = cfg.URL // TLS is required; without the CA the certificate is unknown
			}
			if _, err := NewSink(context.Background(), bare, WithLogger(quiet)); err == nil {
				t.Fatal("a client without credentials connected")
			}
		})
	}
}

func TestWrongTokenErrorDoesNotLeakIt(t *testing.T) {
	srv := startServer(t, natsserver.Options{Configure: func(o *server.Options) { o.Authorization = "right-token" }})
	cfg := sinkConfig(srv.URL())
	cfg.Token = config.NewSecret("wrong-token-xyz")
	_, err := NewSink(context.Background(), cfg, WithLogger(quiet))
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Fatalf("NewSink = %v, want an authorization error", err)
	}
	if strings.Contains(err.Error(), "wrong-token-xyz") {
		t.Fatalf("error %q leaks the token", err)
	}
}
