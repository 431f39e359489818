package slsapi_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/connectors/sls/internal/slsapi"
	"github.com/slspipe/slspipe/emulator"
	"github.com/slspipe/slspipe/internal/metricstest"
	"github.com/slspipe/slspipe/internal/slstest"
)

const (
	project  = "demo"
	logstore = "app"
	roleARN  = "acs:ram::1234567890:role/slspipe"
	oidcARN  = "acs:ram::1234567890:oidc-provider/ack-rrsa"
)

// startEmulator runs an emulator with a logstore, a role, an OIDC provider
// and an instance role whose credentials live lifetime, over HTTP and
// HTTPS, and makes credentials-go (which builds its clients from
// http.DefaultTransport) trust its CA for the test.
func startEmulator(t *testing.T, lifetime time.Duration) *emulator.Server {
	t.Helper()
	srv, err := emulator.New(emulator.Config{
		Logstores:     []emulator.LogstoreSpec{{Project: project, Logstore: logstore, Shards: 2}},
		Roles:         []string{roleARN},
		OIDCProviders: []string{oidcARN},
		InstanceRole:  "slspipe-ecs",
		TokenLifetime: lifetime,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := srv.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if err := srv.StartTLS(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	slstest.TrustInDefaultTransport(t, srv.CACertificatePEM())
	return srv
}

func auth(srv *emulator.Server, cc config.SLSCredentials) config.SLSAuth {
	return config.SLSAuth{Endpoint: "http://" + srv.Addr(), Project: project, Credentials: cc}
}

// project returns the SLS project reached with cc's credentials.
func newProject(t *testing.T, a config.SLSAuth, reg prometheus.Registerer) *slsapi.Project {
	t.Helper()
	m, err := slsapi.NewCredentialMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := slsapi.NewCredentials(a, slsapi.CredentialOptions{Lookup: noEnv, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	ep, _ := slsapi.ParseEndpoint(a.Endpoint)
	hc, err := slsapi.NewHTTPClient(ep, slsapi.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := slsapi.NewProject(a, creds, hc, "")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func noEnv(string) (string, bool) { return "", false }

func tokenFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte(emulator.NewOIDCToken("system:serviceaccount:logs:slspipe", "https://oidc.example", time.Hour)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func oidcConfig(srv *emulator.Server, file string) config.SLSCredentials {
	return config.SLSCredentials{
		Provider: config.ProviderOIDC, RoleARN: roleARN, OIDCProviderARN: oidcARN, OIDCTokenFile: file,
		STSEndpoint: srv.TLSAddr(), Duration: config.Duration(time.Hour),
	}
}

// TestCredentialsRenewBeforeExpiry lists shards every 50 ms for two and a
// half lifetimes of each provider's temporary credentials: every call succeeds, none
// is refused (the credentials were renewed ahead of expiry), and the
// renewals show in the metric.
func TestCredentialsRenewBeforeExpiry(t *testing.T) {
	for _, tc := range []struct {
		name string
		cc   func(srv *emulator.Server) config.SLSCredentials
		want string
	}{
		{"ecs_ram_role", func(srv *emulator.Server) config.SLSCredentials {
			return config.SLSCredentials{Provider: config.ProviderECSRAMRole, MetadataEndpoint: "http://" + srv.Addr()}
		}, "ecs_ram_role"},
		{"oidc", func(srv *emulator.Server) config.SLSCredentials { return oidcConfig(srv, tokenFile(t)) }, "oidc"},
		{"assume_role", func(srv *emulator.Server) config.SLSCredentials {
			return config.SLSCredentials{Provider: config.ProviderAssumeRole, RoleARN: roleARN, BaseProvider: config.ProviderStatic,
				STSEndpoint: srv.TLSAddr(), Duration: config.Duration(time.Hour)}
		}, "assume_role"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const lifetime = 2 * time.Second
			srv := startEmulator(t, lifetime)
			a := auth(srv, tc.cc(srv))
			a.AccessKeyID, a.AccessKeySecret = config.NewSecret(emulator.DefaultAccessKeyID), config.NewSecret(emulator.DefaultAccessKeySecret)
			reg := prometheus.NewRegistry()
			p := newProject(t, a, reg)
			c := p.SDK()
			tokens := map[string]bool{}
			for end := time.Now().Add(5 * lifetime / 2); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
				if _, err := c.ListShards(project, logstore); err != nil {
					t.Fatalf("list shards: %v", err)
				}
				a, err := p.Creds.Current()
				if err != nil {
					t.Fatal(err)
				}
				if a.Provider != tc.want || a.SecurityToken == "" || !a.Expiry.After(time.Now()) {
					t.Fatalf("credentials from %s, token %t, expiry %s", a.Provider, a.SecurityToken != "", a.Expiry)
				}
				tokens[a.SecurityToken] = true
			}
			if len(tokens) < 3 {
				t.Errorf("%d distinct tokens over 2.5 lifetimes, want at least 3", len(tokens))
			}
			if n := metricstest.Sample(t, reg, "slspipe_sls_credentials_renewals_total", "provider", tc.want); n < 2 {
				t.Errorf("renewals = %v, want at least 2", n)
			}
			if n := metricstest.Sample(t, reg, "slspipe_sls_credentials_refused_total", "provider", tc.want); n != 0 {
				t.Errorf("refused = %v, want 0: credentials were not renewed ahead", n)
			}
		})
	}
}

// TestRefusedTokenIsRenewedAndSentAgain revokes every temporary credential
// under a running client: the next request is refused, signed again with
// new credentials and succeeds, counted as refused, not as failed.
func TestRefusedTokenIsRenewedAndSentAgain(t *testing.T) {
	srv := startEmulator(t, time.Minute)
	reg := prometheus.NewRegistry()
	p := newProject(t, auth(srv, config.SLSCredentials{Provider: config.ProviderECSRAMRole, MetadataEndpoint: "http://" + srv.Addr()}), reg)
	c := p.SDK()
	if _, err := c.ListShards(project, logstore); err != nil {
		t.Fatal(err)
	}
	before, _ := p.Creds.Current()
	srv.ExpireTemporaryCredentials()
	if err := p.Creds.Retry(func() error { _, err := c.ListShards(project, logstore); return err }); err != nil {
		t.Fatalf("after the token was revoked: %v", err)
	}
	after, _ := p.Creds.Current()
	if after.SecurityToken == before.SecurityToken {
		t.Fatal("the refused token is still in use")
	}
	if n := metricstest.Sample(t, reg, "slspipe_sls_credentials_refused_total", "provider", "ecs_ram_role"); n != 1 {
		t.Errorf("refused = %v, want 1", n)
	}
}

// TestExpiryOfFollowsTheLibrary pins what slspipe reads of credentials-go:
// the expiry it reports is the one the STS issued.
func TestExpiryOfFollowsTheLibrary(t *testing.T) {
	srv := startEmulator(t, 90*time.Minute)
	p := newProject(t, auth(srv, oidcConfig(srv, tokenFile(t))), nil)
	a, err := p.Creds.Current()
	if err != nil {
		t.Fatal(err)
	}
	want := time.Now().Add(90 * time.Minute)
	if d := a.Expiry.Sub(want); d < -5*time.Second || d > 5*time.Second {
		t.Fatalf("expiry %s, want about %s (the STS answer's)", a.Expiry, want)
	}
}

// TestCredentialErrorsNameTheProviderAndTheFix checks the failures a user
// meets first: each names the provider and what to change.
func TestCredentialErrorsNameTheProviderAndTheFix(t *testing.T) {
	srv := startEmulator(t, time.Hour)
	closed := "http://127.0.0.1:1"
	for _, tc := range []struct {
		name string
		cc   config.SLSCredentials
		want []string
	}{
		{"missing OIDC token file", oidcConfig(srv, "/nonexistent/token"),
			[]string{"credentials provider oidc", "oidc_token_file", "/nonexistent/token"}},
		{"unreachable metadata service", config.SLSCredentials{Provider: config.ProviderECSRAMRole, MetadataEndpoint: closed},
			[]string{"credentials provider ecs_ram_role", "metadata service at " + closed, "RAM role attached"}},
		{"role that cannot be assumed", config.SLSCredentials{Provider: config.ProviderAssumeRole, BaseProvider: config.ProviderStatic,
			RoleARN: "acs:ram::1234567890:role/nobody", STSEndpoint: srv.TLSAddr()},
			[]string{"credentials provider assume_role", "EntityNotExist.Role", "role/nobody", "role_arn"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := auth(srv, tc.cc)
			a.AccessKeyID, a.AccessKeySecret = config.NewSecret(emulator.DefaultAccessKeyID), config.NewSecret(emulator.DefaultAccessKeySecret)
			p := newProject(t, a, nil)
			_, err := p.Creds.Current()
			if err == nil {
				t.Fatal("credentials obtained")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), emulator.DefaultAccessKeySecret) {
				t.Error("the error shows the secret")
			}
		})
	}

	t.Run("expired static token", func(t *testing.T) {
		tc := srv.IssueTemporaryCredentials(roleARN, time.Hour)
		srv.ExpireTemporaryCredentials()
		a := auth(srv, config.SLSCredentials{Provider: config.ProviderStatic})
		a.AccessKeyID, a.AccessKeySecret, a.SecurityToken = config.NewSecret(tc.AccessKeyID), config.NewSecret(tc.AccessKeySecret), config.NewSecret(tc.SecurityToken)
		p := newProject(t, a, nil)
		c := p.SDK()
		err := p.Creds.Retry(func() error { _, err := c.ListShards(project, logstore); return err })
		var ce *slsapi.CredentialsError
		if !errors.As(err, &ce) {
			t.Fatalf("got %v, want a credentials error", err)
		}
		for _, w := range []string{"credentials provider static", "has expired", "cannot be renewed", "security_token"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not say %q", err, w)
			}
		}
	})
}
