package producer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/connectors/sls/internal/slsapi"
)

// endpoint is where PostLogStoreLogs requests go and how they are signed.
type endpoint struct {
	p        *slsapi.Project
	logstore string
}

// newEndpoint reads the credentials (through lookup) and prepares signing.
func newEndpoint(auth config.SLSAuth, logstore string, hc *http.Client, co slsapi.CredentialOptions, userAgent string) (*endpoint, error) {
	if _, err := slsapi.ParseEndpoint(auth.Endpoint); err != nil {
		return nil, err
	}
	if auth.Project == "" || logstore == "" {
		return nil, errors.New("project and logstore are required")
	}
	creds, err := slsapi.NewCredentials(auth, co)
	if err != nil {
		return nil, err
	}
	p, err := slsapi.NewProject(auth, creds, hc, userAgent)
	if err != nil {
		return nil, err
	}
	return &endpoint{p: p, logstore: logstore}, nil
}

// post sends one compressed LogGroup: to the shard whose range holds
// hashKey, or load-balanced when hashKey is empty. It returns nil only for
// a 200 answer; otherwise a *SendError.
//
// A request refused for an expired or invalid security token is signed
// again with renewed credentials and sent again (see slsapi.Credentials).
func (ep *endpoint) post(ctx context.Context, hashKey string, body []byte, rawSize int, compression string) error {
	uri := "/logstores/" + ep.logstore
	if hashKey != "" {
		uri += "/shards/route?key=" + url.QueryEscape(hashKey)
	}
	return ep.p.Creds.Retry(func() error {
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
	})
}

// shardRange is a readwrite shard's hash key range [begin, end), in
// lowercase 32-digit hex.
type shardRange struct {
	id         int
	begin, end string
}

// listShards returns the logstore's readwrite shards, sorted by range.
func (ep *endpoint) listShards(ctx context.Context) ([]shardRange, error) {
	var resp *http.Response
	err := ep.p.Creds.Retry(func() error {
		var serr *SendError
		resp, serr = ep.do(ctx, http.MethodGet, "/logstores/"+ep.logstore+"/shards", map[string]string{"x-log-bodyrawsize": "0"}, nil)
		if serr != nil {
			return serr
		}
		return nil
	})
	if err != nil {
		return nil, err
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
	req, err := ep.p.NewRequest(ctx, method, uri, h, body)
	if err != nil {
		return nil, ep.fail("", err)
	}
	resp, err := ep.p.HTTP.Do(req)
	if err != nil {
		return nil, ep.fail("", err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	ae := slsapi.ReadAPIError(resp)
	e := &SendError{
		Endpoint: ep.p.Endpoint.Raw, Project: ep.p.Name, Logstore: ep.logstore,
		Status: ae.Status, Code: ae.Code, Message: ae.Message, RequestID: ae.RequestID,
	}
	if ae.Code == http.StatusText(ae.Status) {
		e.Code = "" // no JSON answer: the status says it all
	}
	return nil, e
}

// fail wraps an error that happened before any answer.
func (ep *endpoint) fail(hashKey string, err error) *SendError {
	return &SendError{Endpoint: ep.p.Endpoint.Raw, Project: ep.p.Name, Logstore: ep.logstore, HashKey: hashKey, Err: err}
}
