package slsapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	sdk "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/slspipe/slspipe/config"
)

// APIVersion is the x-log-apiversion the service expects.
const APIVersion = "0.6.0"

// sdkRetryTimeout bounds the SDK's own retries of one call; callers wrap
// it in their retry policy.
const sdkRetryTimeout = time.Second

// Project is one SLS project reached through one endpoint: how its requests
// are addressed and signed. It is safe for concurrent use.
type Project struct {
	Endpoint Endpoint
	Name     string
	Creds    *Credentials
	HTTP     *http.Client
	// UserAgent of every request; the SDK's default when empty.
	UserAgent string
	v4        bool
	region    string
}

// NewProject checks auth's project and signature settings and returns the
// project reached through hc with creds.
func NewProject(auth config.SLSAuth, creds *Credentials, hc *http.Client, userAgent string) (*Project, error) {
	ep, err := ParseEndpoint(auth.Endpoint)
	if err != nil {
		return nil, err
	}
	if auth.Project == "" {
		return nil, errors.New("project is empty")
	}
	p := &Project{Endpoint: ep, Name: auth.Project, Creds: creds, HTTP: hc, UserAgent: userAgent, region: auth.Region}
	switch auth.SignatureVersion {
	case "", "v1":
	case "v4":
		if auth.Region == "" {
			return nil, errors.New("signature_version v4 needs region")
		}
		p.v4 = true
	default:
		return nil, fmt.Errorf("signature_version %q: want v1 or v4", auth.SignatureVersion)
	}
	return p, nil
}

// SDK returns an official SDK client for the project's endpoint, signing
// with the same credentials and signature version, through the same HTTP
// client. Its own retries are bounded to about a second.
func (p *Project) SDK() sdk.ClientInterface {
	c := sdk.CreateNormalInterfaceV2(p.Endpoint.URL(), p.Creds)
	if p.v4 {
		c.SetAuthVersion(sdk.AuthV4)
		c.SetRegion(p.region)
	}
	c.SetHTTPClient(p.HTTP)
	c.SetRetryTimeout(sdkRetryTimeout)
	if cl, ok := c.(*sdk.Client); ok {
		// The SDK sets its request timeout on first use, in every call,
		// which races between concurrent first calls; set its default once.
		cl.RequestTimeOut = 60 * time.Second
	}
	if p.UserAgent != "" {
		c.SetUserAgent(p.UserAgent)
	}
	return c
}

// NewRequest returns a signed request for uri (path and query) of the
// project, as the SDK signs them. h holds the request's own headers
// (x-log-bodyrawsize, Content-Type, Accept…) and receives the signing ones.
func (p *Project) NewRequest(ctx context.Context, method, uri string, h map[string]string, body []byte) (*http.Request, error) {
	cred, err := p.Creds.GetCredentials()
	if err != nil {
		return nil, err
	}
	h["x-log-apiversion"] = APIVersion
	h["Host"] = p.Endpoint.ProjectHost(p.Name)
	if p.UserAgent != "" {
		h["User-Agent"] = p.UserAgent
	} else {
		h["User-Agent"] = sdk.DefaultLogUserAgent
	}
	if cred.SecurityToken != "" {
		h["x-acs-security-token"] = cred.SecurityToken
	}
	if p.v4 {
		h["x-log-date"] = time.Now().UTC().Format("20060102T150405Z")
		err = sdk.NewSignerV4(cred.AccessKeyID, cred.AccessKeySecret, p.region).Sign(method, uri, h, body)
	} else {
		h["Date"] = time.Now().UTC().Format(http.TimeFormat)
		err = sdk.NewSignerV1(cred.AccessKeyID, cred.AccessKeySecret).Sign(method, uri, h, body)
	}
	if err != nil {
		return nil, fmt.Errorf("sign request: %w", err)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.Endpoint.ProjectURL(p.Name)+uri, rd)
	if err != nil {
		return nil, err
	}
	for k, v := range h {
		switch k {
		case "Host", "Content-Length": // carried by the request itself
		default:
			req.Header.Set(k, v)
		}
	}
	req.Host = h["Host"]
	return req, nil
}
