package slsapi

import (
	"fmt"

	sdk "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/slspipe/slspipe/config"
)

// Credentials hands out the access key that requests are signed with. It
// implements the SDK's sls.CredentialsProvider, so the SDK client and the
// requests this package signs use the same key. It is safe for concurrent
// use.
type Credentials struct {
	static sdk.Credentials
}

// NewCredentials returns the credentials of auth: the configured access key,
// or the ALIBABA_CLOUD_* environment variables (looked up with lookup) for
// what the configuration leaves empty.
func NewCredentials(auth config.SLSAuth, lookup func(string) (string, bool)) (*Credentials, error) {
	id, secret, token := auth.Credentials(lookup)
	if !id.IsSet() || !secret.IsSet() {
		return nil, fmt.Errorf("project %s at %s: no access key (set access_key_id and access_key_secret or ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET)", auth.Project, auth.Endpoint)
	}
	return &Credentials{static: sdk.Credentials{
		AccessKeyID: id.Value(), AccessKeySecret: secret.Value(), SecurityToken: token.Value(),
	}}, nil
}

// GetCredentials implements sls.CredentialsProvider.
func (c *Credentials) GetCredentials() (sdk.Credentials, error) { return c.static, nil }
