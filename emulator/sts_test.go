package emulator_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/aliyun/credentials-go/credentials/providers"

	"github.com/slspipe/slspipe/emulator"
	"github.com/slspipe/slspipe/internal/slstest"
)

const testRole = "acs:ram::1234567890:role/reader"

// startSTS starts an emulator with a role, an OIDC provider and an instance
// role, serving HTTPS too, and makes credentials-go trust its CA.
func startSTS(t *testing.T, lifetime time.Duration) *emulator.Server {
	t.Helper()
	srv := startEmulator(t, emulator.Config{
		Logstores:     []emulator.LogstoreSpec{{Project: "p", Logstore: "l", Shards: 1}},
		Roles:         []string{testRole},
		OIDCProviders: []string{"acs:ram::1234567890:oidc-provider/ack"},
		InstanceRole:  "ecs-reader",
		TokenLifetime: lifetime,
	})
	if err := srv.StartTLS(context.Background(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	slstest.TrustInDefaultTransport(t, srv.CACertificatePEM())
	return srv
}

// TestSTSAnswersCredentialsGo drives the emulator's STS with Alibaba
// Cloud's own credentials library: AssumeRole (signed) and
// AssumeRoleWithOIDC give credentials the SLS API accepts; a wrong secret,
// an unknown role and an expired OIDC token get STS's error codes.
func TestSTSAnswersCredentialsGo(t *testing.T) {
	srv := startSTS(t, 0)
	assume := func(secret, role string) (*providers.Credentials, error) {
		base, _ := providers.NewStaticAKCredentialsProviderBuilder().WithAccessKeyId(emulator.DefaultAccessKeyID).WithAccessKeySecret(secret).Build()
		p, err := providers.NewRAMRoleARNCredentialsProviderBuilder().WithCredentialsProvider(base).
			WithRoleArn(role).WithStsEndpoint(srv.TLSAddr()).Build()
		if err != nil {
			t.Fatal(err)
		}
		return p.GetCredentials()
	}
	c, err := assume(emulator.DefaultAccessKeySecret, testRole)
	if err != nil {
		t.Fatalf("AssumeRole: %v", err)
	}
	if !strings.HasPrefix(c.AccessKeyId, "STS.") || c.SecurityToken == "" {
		t.Fatalf("AssumeRole gave %s, token %t", c.AccessKeyId, c.SecurityToken != "")
	}
	client := sls.CreateNormalInterface(srv.Addr(), c.AccessKeyId, c.AccessKeySecret, c.SecurityToken)
	client.SetHTTPClient(srv.HTTPClient())
	if _, err := client.ListShards("p", "l"); err != nil {
		t.Fatalf("SLS with the assumed role's credentials: %v", err)
	}
	for _, tc := range []struct{ secret, role, code string }{
		{"wrong", testRole, "SignatureDoesNotMatch"},
		{emulator.DefaultAccessKeySecret, "acs:ram::1234567890:role/nobody", "EntityNotExist.Role"},
	} {
		if _, err := assume(tc.secret, tc.role); err == nil || !strings.Contains(err.Error(), `"Code":"`+tc.code+`"`) {
			t.Errorf("AssumeRole %s with secret %s: %v, want %s", tc.role, tc.secret, err, tc.code)
		}
	}

	oidc := func(token string) (*providers.Credentials, error) {
		p, err := providers.NewOIDCCredentialsProviderBuilder().WithRoleArn(testRole).
			WithOIDCProviderARN("acs:ram::1234567890:oidc-provider/ack").WithOIDCToken(token).
			WithSTSEndpoint(srv.TLSAddr()).Build()
		if err != nil {
			t.Fatal(err)
		}
		return p.GetCredentials()
	}
	if _, err := oidc(emulator.NewOIDCToken("system:serviceaccount:a:b", "https://oidc", time.Hour)); err != nil {
		t.Fatalf("AssumeRoleWithOIDC: %v", err)
	}
	if _, err := oidc(emulator.NewOIDCToken("system:serviceaccount:a:b", "https://oidc", -time.Minute)); err == nil ||
		!strings.Contains(err.Error(), "AuthenticationFail.OIDCToken.Expired") {
		t.Errorf("AssumeRoleWithOIDC with an expired token: %v", err)
	}
}

// TestMetadataServiceAnswersCredentialsGo reaches the metadata service the
// way slspipe points credentials-go at it (as an HTTP proxy for
// 100.100.100.200), with IMDSv2 tokens, and checks the refusals of the
// SLS API for expired and unknown security tokens.
func TestMetadataServiceAnswersCredentialsGo(t *testing.T) {
	srv := startSTS(t, 2*time.Second)
	p, err := providers.NewECSRAMRoleCredentialsProviderBuilder().WithDisableIMDSv1(true).
		WithHttpOptions(&providers.HttpOptions{Proxy: "http://" + srv.Addr()}).Build()
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.GetCredentials()
	if err != nil {
		t.Fatalf("ecs_ram_role: %v", err)
	}
	client := sls.CreateNormalInterface(srv.Addr(), c.AccessKeyId, c.AccessKeySecret, c.SecurityToken)
	client.SetHTTPClient(srv.HTTPClient())
	if _, err := client.ListShards("p", "l"); err != nil {
		t.Fatalf("SLS with the instance role's credentials: %v", err)
	}
	srv.ExpireTemporaryCredentials()
	_, err = client.ListShards("p", "l")
	if se, ok := err.(*sls.Error); !ok || se.HTTPCode != 401 || se.Code != "Unauthorized" || se.Message != "The security token you provided has expired." {
		t.Fatalf("expired token: %v", err)
	}
	forged := sls.CreateNormalInterface(srv.Addr(), c.AccessKeyId, c.AccessKeySecret, "CAIS-forged")
	forged.SetHTTPClient(srv.HTTPClient())
	if _, err := forged.ListShards("p", "l"); err == nil || !strings.Contains(err.Error(), "The security token you provided is invalid.") {
		t.Fatalf("unknown token: %v", err)
	}

	get := func(path string, h map[string]string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+srv.Addr()+path, nil)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/latest/meta-data/ram/security-credentials/", nil); code != 200 || body != "ecs-reader" {
		t.Errorf("role name: %d %q", code, body)
	}
	if code, _ := get("/latest/meta-data/ram/security-credentials/other", nil); code != 404 {
		t.Errorf("another role: %d, want 404", code)
	}
	if code, _ := get("/latest/meta-data/ram/security-credentials/ecs-reader", map[string]string{"X-aliyun-ecs-metadata-token": "bogus"}); code != 401 {
		t.Errorf("bogus IMDSv2 token: %d, want 401", code)
	}
}
