package sls

import (
	"fmt"
	"net/http"
	"net/url"

	sdk "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/connectors/sls/internal/slsapi"
)

// client talks to one SLS project: the official SDK for metadata and
// consumer-group calls, and requests signed by slsapi for pulls.
type client struct {
	*slsapi.Project
	sdk sdk.ClientInterface
}

// newClient builds the client for cfg. hc, when nil, is the HTTP client
// for cfg's endpoint.
func newClient(cfg config.SLSAuth, co slsapi.CredentialOptions, hc *http.Client, userAgent string) (*client, error) {
	ep, err := slsapi.ParseEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	creds, err := slsapi.NewCredentials(cfg, co)
	if err != nil {
		return nil, err
	}
	if hc == nil {
		if hc, err = slsapi.NewHTTPClient(ep, slsapi.ClientOptions{CAFile: cfg.CAFile}); err != nil {
			return nil, err
		}
	}
	p, err := slsapi.NewProject(cfg, creds, hc, userAgent)
	if err != nil {
		return nil, err
	}
	return &client{Project: p, sdk: p.SDK()}, nil
}

// shardsURI is the path of a logstore's shard resource.
func shardsURI(logstore string, shard int, q url.Values) string {
	return fmt.Sprintf("/logstores/%s/shards/%d?%s", url.PathEscape(logstore), shard, q.Encode())
}
