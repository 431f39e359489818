package producer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	sdk "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/internal/redact"
)

// apiVersion is the x-log-apiversion the service expects.
const apiVersion = "0.6.0"

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = 64 << 10

// endpoint is where PostLogStoreLogs requests go and how they are signed.
type endpoint struct {
	hc        *http.Client
	display   string // the endpoint as configured, for messages
	baseURL   string // scheme://project.host
	host      string // project.host, the Host header
	project   string
	logstore  string
	userAgent string
	token     string
	v4        bool
	v1Signer  *sdk.SignerV1
	v4Signer  *sdk.SignerV4
}

// newEndpoint reads the credentials (through lookup) and prepares signing.
// Secrets stay inside the signers and the token header.
func newEndpoint(auth config.SLSAuth, logstore string, hc *http.Client, lookup func(string) (string, bool), userAgent string) (*endpoint, error) {
	scheme, host := "https", strings.TrimRight(auth.Endpoint, "/")
	switch {
	case strings.HasPrefix(host, "http://"):
		scheme, host = "http", strings.TrimPrefix(host, "http://")
	case strings.HasPrefix(host, "https://"):
		host = strings.TrimPrefix(host, "https://")
	}
	if host == "" || strings.ContainsAny(host, "/?#@ ") {
		return nil, fmt.Errorf("endpoint %q: want host[:port], optionally with http:// or https://", redact.URL(auth.Endpoint))
	}
	if auth.Project == "" || logstore == "" {
		return nil, errors.New("project and logstore are required")
	}
	id, secret, token := auth.Credentials(lookup)
	if !id.IsSet() || !secret.IsSet() {
		return nil, fmt.Errorf("project %s at %s: no access key (set access_key_id and access_key_secret or ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET)", auth.Project, auth.Endpoint)
	}
	if userAgent == "" {
		userAgent = sdk.DefaultLogUserAgent
	}
	ep := &endpoint{
		hc: hc, display: auth.Endpoint,
		baseURL: scheme + "://" + auth.Project + "." + host, host: auth.Project + "." + host,
		project: auth.Project, logstore: logstore, userAgent: userAgent, token: token.Value(),
	}
	switch auth.SignatureVersion {
	case "", "v1":
		ep.v1Signer = sdk.NewSignerV1(id.Value(), secret.Value())
	case "v4":
		if auth.Region == "" {
			return nil, errors.New("signature_version v4 needs region")
		}
		ep.v4, ep.v4Signer = true, sdk.NewSignerV4(id.Value(), secret.Value(), auth.Region)
	default:
		return nil, fmt.Errorf("signature_version %q: want v1 or v4", auth.SignatureVersion)
	}
	return ep, nil
}

// post sends one compressed LogGroup: to the shard whose range holds
// hashKey, or load-balanced when hashKey is empty. It returns nil only for
// a 200 answer; otherwise a *SendError.
func (ep *endpoint) post(ctx context.Context, hashKey string, body []byte, rawSize int, compression string) error {
	uri := "/logstores/" + ep.logstore
	if hashKey != "" {
		uri += "/shards/route?key=" + url.QueryEscape(hashKey)
	}
	h := map[string]string{
		"x-log-bodyrawsize":  strconv.Itoa(rawSize),
		"x-log-compresstype": compression,
		"Content-Type":       "application/x-protobuf",
	}
	resp, err := ep.do(ctx, http.MethodPost, uri, h, body)
	if err != nil {
		err.HashKey = hashKey
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return nil
}

// shardRange is a readwrite shard's hash key range [begin, end), in
// lowercase 32-digit hex.
type shardRange struct {
	id         int
	begin, end string
}

// listShards returns the logstore's readwrite shards, sorted by range.
func (ep *endpoint) listShards(ctx context.Context) ([]shardRange, error) {
	resp, serr := ep.do(ctx, http.MethodGet, "/logstores/"+ep.logstore+"/shards", map[string]string{"x-log-bodyrawsize": "0"}, nil)
	if serr != nil {
		return nil, serr
	}
	defer resp.Body.Close()
	var shards []struct {
		ID     int    `json:"shardID"`
		Status string `json:"status"`
		Begin  string `json:"inclusiveBeginKey"`
		End    string `json:"exclusiveEndKey"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&shards); err != nil {
		return nil, ep.fail("", fmt.Errorf("list shards: %w", err))
	}
	var out []shardRange
	for _, s := range shards {
		if s.Status != "readwrite" {
			continue
		}
		b, okb := normalizeKey(s.Begin)
		e, oke := normalizeKey(s.End)
		if !okb || !oke {
			return nil, ep.fail("", fmt.Errorf("list shards: shard %d has range [%q, %q)", s.ID, s.Begin, s.End))
		}
		out = append(out, shardRange{id: s.ID, begin: b, end: e})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].begin < out[j].begin })
	return out, nil
}

// do sends a signed request and returns the response of a 200 answer,
// whose body the caller closes.
func (ep *endpoint) do(ctx context.Context, method, uri string, h map[string]string, body []byte) (*http.Response, *SendError) {
	h["x-log-apiversion"] = apiVersion
	h["Host"] = ep.host
	h["User-Agent"] = ep.userAgent
	if ep.token != "" {
		h["x-acs-security-token"] = ep.token
	}
	var err error
	if ep.v4 {
		h["x-log-date"] = time.Now().UTC().Format("20060102T150405Z")
		err = ep.v4Signer.Sign(method, uri, h, body)
	} else {
		h["Date"] = time.Now().UTC().Format(http.TimeFormat)
		err = ep.v1Signer.Sign(method, uri, h, body)
	}
	if err != nil {
		return nil, ep.fail("", fmt.Errorf("sign request: %w", err))
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, ep.baseURL+uri, rd)
	if err != nil {
		return nil, ep.fail("", err)
	}
	for k, v := range h {
		switch k {
		case "Host", "Content-Length": // carried by the request itself
		default:
			req.Header.Set(k, v)
		}
	}
	req.Host = ep.host
	resp, err := ep.hc.Do(req)
	if err != nil {
		return nil, ep.fail("", err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &SendError{
		Endpoint: ep.display, Project: ep.project, Logstore: ep.logstore,
		Status: resp.StatusCode, RequestID: resp.Header.Get("x-log-requestid"),
	}
	var answer struct {
		Code    string `json:"errorCode"`
		Message string `json:"errorMessage"`
	}
	if json.Unmarshal(raw, &answer) == nil && answer.Code != "" {
		e.Code, e.Message = answer.Code, answer.Message
	} else {
		e.Message = strings.TrimSpace(string(raw))
	}
	return nil, e
}

// fail wraps an error that happened before any answer.
func (ep *endpoint) fail(hashKey string, err error) *SendError {
	return &SendError{Endpoint: ep.display, Project: ep.project, Logstore: ep.logstore, HashKey: hashKey, Err: err}
}
