package auth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/slspipe/slspipe/emulator/internal/apierr"
	"github.com/slspipe/slspipe/emulator/internal/auth"
)

const (
	testEndpoint = "sls.test" // any name: the test transport dials the server
	testProject  = "proj"
	testKeyID    = "LTAItestkey"
	testSecret   = "s3cr3t-value-never-echoed"
	testRegion   = "cn-hangzhou"
)

// verifyingServer is an HTTP server on 127.0.0.1 that verifies every request
// and answers like the service: the verification error as an SLS error body,
// or a minimal success response for the API called.
type verifyingServer struct {
	srv    *httptest.Server
	client *http.Client

	mu      sync.Mutex
	results []error // Verify result of each request, in arrival order
}

func newVerifyingServer(t *testing.T, keys map[string]string) *verifyingServer {
	t.Helper()
	v := auth.NewVerifier(keys)
	vs := &verifyingServer{}
	vs.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		verr := v.Verify(r, body)
		vs.mu.Lock()
		vs.results = append(vs.results, verr)
		vs.mu.Unlock()
		w.Header().Set("x-log-requestid", "TESTREQUEST")
		if verr != nil {
			var ae *apierr.Error
			if !errors.As(verr, &ae) {
				t.Errorf("Verify returned %T, want *apierr.Error", verr)
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(ae.Status)
			json.NewEncoder(w).Encode(map[string]string{"errorCode": ae.Code, "errorMessage": ae.Message})
			return
		}
		switch r.URL.Query().Get("type") {
		case "logs":
			w.Header().Set("x-log-cursor", r.URL.Query().Get("cursor"))
			w.Header().Set("x-log-count", "0")
			w.Header().Set("x-log-bodyrawsize", "0")
			w.WriteHeader(http.StatusOK)
		case "cursor":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"cursor":"MA=="}`)
		default:
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `[]`)
		}
	}))
	t.Cleanup(vs.srv.Close)
	addr := vs.srv.Listener.Addr().String()
	vs.client = &http.Client{Transport: &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}}
	return vs
}

// last returns the Verify result of the latest request.
func (vs *verifyingServer) last(t *testing.T) error {
	t.Helper()
	vs.mu.Lock()
	defer vs.mu.Unlock()
	if len(vs.results) == 0 {
		t.Fatal("the server received no request")
	}
	return vs.results[len(vs.results)-1]
}

// sdkClient returns an official SDK client that reaches vs.
func (vs *verifyingServer) sdkClient(keyID, secret, token string, v4 bool) *sls.Client {
	c := sls.CreateNormalInterface(testEndpoint, keyID, secret, token).(*sls.Client)
	c.SetHTTPClient(vs.client)
	c.SetRetryTimeout(5 * time.Second)
	if v4 {
		c.SetAuthVersion(sls.AuthV4)
		c.SetRegion(testRegion)
	}
	return c
}

// reply is what a hand-built request got back.
type reply struct {
	status  int
	code    string
	message string
}

// send signs nothing itself: headers must already carry the signature.
func (vs *verifyingServer) send(t *testing.T, method, uri string, headers map[string]string, body []byte) reply {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+testProject+"."+testEndpoint+uri, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Add(k, v)
	}
	resp, err := vs.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	rep := reply{status: resp.StatusCode}
	if resp.StatusCode != http.StatusOK {
		var e struct{ ErrorCode, ErrorMessage string }
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatalf("error body %q is not SLS JSON: %v", raw, err)
		}
		rep.code, rep.message = e.ErrorCode, e.ErrorMessage
	}
	return rep
}

func keys() map[string]string { return map[string]string{testKeyID: testSecret} }

// headersV1 returns the headers the SDK sets before a v1 signature.
func headersV1(date time.Time, body []byte) map[string]string {
	h := map[string]string{
		"x-log-apiversion":  "0.6.0",
		"x-log-bodyrawsize": "0",
		"User-Agent":        "golang-sdk-v0.1.0",
		"Host":              testProject + "." + testEndpoint,
		"Date":              date.UTC().Format(http.TimeFormat),
	}
	if body != nil {
		h["Content-Type"] = "application/x-protobuf"
		h["x-log-bodyrawsize"] = "42"
		h["x-log-compresstype"] = "lz4"
	}
	return h
}

// headersV4 returns the headers the SDK sets before a v4 signature.
func headersV4(date time.Time, body []byte) map[string]string {
	h := map[string]string{
		"x-log-apiversion":  "0.6.0",
		"x-log-bodyrawsize": "0",
		"User-Agent":        "golang-sdk-v0.1.0",
		"Host":              testProject + "." + testEndpoint,
		"x-log-date":        date.UTC().Format("20060102T150405Z"),
	}
	if body != nil {
		h["Content-Type"] = "application/x-protobuf"
		h["x-log-bodyrawsize"] = "42"
	}
	return h
}

func signV1(t *testing.T, secret, method, uri string, h map[string]string, body []byte) {
	t.Helper()
	if err := sls.NewSignerV1(testKeyID, secret).Sign(method, uri, h, body); err != nil {
		t.Fatal(err)
	}
}

func signV4(t *testing.T, secret, method, uri string, h map[string]string, body []byte) {
	t.Helper()
	if err := sls.NewSignerV4(testKeyID, secret, testRegion).Sign(method, uri, h, body); err != nil {
		t.Fatal(err)
	}
}

var escapedPullURI = "/logstores/ls/shards/0?type=logs&cursor=" + url.QueryEscape("MTQ0NzI5OTYwNjg5NjYzMjM1Ng==") +
	"&count=100&query=" + url.QueryEscape(`* | where msg = 'a b&c=d/é+%' and n > 1`)

func TestV1AcceptsSDKSignatures(t *testing.T) {
	vs := newVerifyingServer(t, keys())
	body := []byte("\x0a\x05hello-protobuf-ish")
	cases := []struct {
		name   string
		method string
		uri    string
		body   []byte
	}{
		{"GET with escaped query values", http.MethodGet, escapedPullURI, nil},
		{"GET without query", http.MethodGet, "/logstores/ls/shards", nil},
		{"POST with body", http.MethodPost, "/logstores/ls/shards/route?key=" + "0123456789abcdef0123456789abcdef", body},
		{"POST with empty query as the Node SDK sends it", http.MethodPost, "/logstores/ls/shards/lb?", body},
		{"repeated and empty query keys", http.MethodGet, "/logstores/ls?type=log&topic=&line=1&line=2", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := headersV1(time.Now(), tc.body)
			signV1(t, testSecret, tc.method, tc.uri, h, tc.body)
			if rep := vs.send(t, tc.method, tc.uri, h, tc.body); rep.status != http.StatusOK {
				t.Fatalf("signed request refused: %+v", rep)
			}
		})
	}
}

func TestV1Rejects(t *testing.T) {
	vs := newVerifyingServer(t, keys())
	body := []byte("\x0a\x05payload")
	const uri = "/logstores/ls"

	t.Run("wrong secret", func(t *testing.T) {
		h := headersV1(time.Now(), body)
		signV1(t, "not-the-secret", http.MethodPost, uri, h, body)
		rep := vs.send(t, http.MethodPost, uri, h, body)
		assertError(t, rep, http.StatusUnauthorized, "SignatureNotMatch")
	})
	t.Run("unknown access key id", func(t *testing.T) {
		h := headersV1(time.Now(), body)
		if err := sls.NewSignerV1("LTAIunknown", testSecret).Sign(http.MethodPost, uri, h, body); err != nil {
			t.Fatal(err)
		}
		rep := vs.send(t, http.MethodPost, uri, h, body)
		assertError(t, rep, http.StatusUnauthorized, "InvalidAccessKeyId")
	})
	t.Run("body changed after signing", func(t *testing.T) {
		h := headersV1(time.Now(), body)
		signV1(t, testSecret, http.MethodPost, uri, h, body)
		rep := vs.send(t, http.MethodPost, uri, h, []byte("\x0a\x05PAYLOAD"))
		assertError(t, rep, http.StatusBadRequest, "InvalidContentMD5")
	})
	t.Run("body without Content-MD5", func(t *testing.T) {
		// Signed as a request without a body, then sent with one: the
		// signature covers no digest of it.
		h := headersV1(time.Now(), body)
		signV1(t, testSecret, http.MethodPost, uri, h, nil)
		rep := vs.send(t, http.MethodPost, uri, h, body)
		assertError(t, rep, http.StatusBadRequest, "MissingContentMD5")
	})
	t.Run("query value changed after signing", func(t *testing.T) {
		h := headersV1(time.Now(), nil)
		signV1(t, testSecret, http.MethodGet, escapedPullURI, h, nil)
		tampered := strings.Replace(escapedPullURI, "count=100", "count=1000", 1)
		rep := vs.send(t, http.MethodGet, tampered, h, nil)
		assertError(t, rep, http.StatusUnauthorized, "SignatureNotMatch")
	})
	t.Run("signed header changed after signing", func(t *testing.T) {
		h := headersV1(time.Now(), body)
		signV1(t, testSecret, http.MethodPost, uri, h, body)
		h["x-log-bodyrawsize"] = "43"
		rep := vs.send(t, http.MethodPost, uri, h, body)
		assertError(t, rep, http.StatusUnauthorized, "SignatureNotMatch")
	})
	t.Run("date too old", func(t *testing.T) {
		h := headersV1(time.Now().Add(-20*time.Minute), nil)
		signV1(t, testSecret, http.MethodGet, uri, h, nil)
		rep := vs.send(t, http.MethodGet, uri, h, nil)
		assertError(t, rep, http.StatusBadRequest, "RequestTimeExpired")
	})
	t.Run("date in the future", func(t *testing.T) {
		h := headersV1(time.Now().Add(20*time.Minute), nil)
		signV1(t, testSecret, http.MethodGet, uri, h, nil)
		rep := vs.send(t, http.MethodGet, uri, h, nil)
		assertError(t, rep, http.StatusBadRequest, "RequestTimeExpired")
	})
	t.Run("date within the allowed skew", func(t *testing.T) {
		h := headersV1(time.Now().Add(-10*time.Minute), nil)
		signV1(t, testSecret, http.MethodGet, uri, h, nil)
		if rep := vs.send(t, http.MethodGet, uri, h, nil); rep.status != http.StatusOK {
			t.Fatalf("request dated 10 minutes ago refused: %+v", rep)
		}
	})
	t.Run("missing Authorization", func(t *testing.T) {
		h := headersV1(time.Now(), nil)
		rep := vs.send(t, http.MethodGet, uri, h, nil)
		assertError(t, rep, http.StatusUnauthorized, "Unauthorized")
	})
	for _, garbled := range []string{"LOG " + testKeyID, "LOG :abc", "Basic dXNlcjpwYXNz", "SLS4-HMAC-SHA256 Signature=abc"} {
		t.Run("garbled Authorization "+garbled, func(t *testing.T) {
			h := headersV1(time.Now(), nil)
			h["Authorization"] = garbled
			rep := vs.send(t, http.MethodGet, uri, h, nil)
			assertError(t, rep, http.StatusUnauthorized, "Unauthorized")
		})
	}
}

func TestV4AcceptsSDKSignatures(t *testing.T) {
	vs := newVerifyingServer(t, keys())
	body := []byte("\x0a\x05hello")
	cases := []struct {
		name   string
		method string
		uri    string
		body   []byte
	}{
		{"GET with escaped query values", http.MethodGet, escapedPullURI, nil},
		{"GET with an empty query value", http.MethodGet, "/logstores/ls/shards/0?type=cursor&from=begin&processor=", nil},
		{"POST with body", http.MethodPost, "/logstores/ls/shards/lb", body},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := headersV4(time.Now(), tc.body)
			signV4(t, testSecret, tc.method, tc.uri, h, tc.body)
			if rep := vs.send(t, tc.method, tc.uri, h, tc.body); rep.status != http.StatusOK {
				t.Fatalf("signed request refused: %+v", rep)
			}
		})
	}
}

func TestV4Rejects(t *testing.T) {
	vs := newVerifyingServer(t, keys())
	body := []byte("\x0a\x05payload")
	const uri = "/logstores/ls/shards/lb"

	t.Run("wrong secret", func(t *testing.T) {
		h := headersV4(time.Now(), body)
		signV4(t, "not-the-secret", http.MethodPost, uri, h, body)
		assertError(t, vs.send(t, http.MethodPost, uri, h, body), http.StatusUnauthorized, "SignatureNotMatch")
	})
	t.Run("body changed after signing", func(t *testing.T) {
		h := headersV4(time.Now(), body)
		signV4(t, testSecret, http.MethodPost, uri, h, body)
		assertError(t, vs.send(t, http.MethodPost, uri, h, []byte("\x0a\x05PAYLOAD")), http.StatusBadRequest, "InvalidContentSha256")
	})
	t.Run("empty-body digest with a body", func(t *testing.T) {
		// What the SDK sends for a body it does not hash (PutObject, which
		// the emulator does not serve): the signature covers no body.
		h := headersV4(time.Now(), body)
		if err := sls.NewSignerV4(testKeyID, testSecret, testRegion).SignWithOption(http.MethodPost, uri, h, body, false); err != nil {
			t.Fatal(err)
		}
		assertError(t, vs.send(t, http.MethodPost, uri, h, body), http.StatusBadRequest, "InvalidContentSha256")
	})
	t.Run("UNSIGNED-PAYLOAD", func(t *testing.T) {
		h := headersV4(time.Now(), body)
		h["x-log-content-sha256"] = "UNSIGNED-PAYLOAD"
		signV4(t, testSecret, http.MethodPost, uri, h, body)
		assertError(t, vs.send(t, http.MethodPost, uri, h, body), http.StatusBadRequest, "InvalidContentSha256")
	})
	t.Run("sent to another host", func(t *testing.T) {
		h := headersV4(time.Now(), nil)
		h["Host"] = "otherproject." + testEndpoint
		signV4(t, testSecret, http.MethodGet, uri, h, nil)
		assertError(t, vs.send(t, http.MethodGet, uri, h, nil), http.StatusUnauthorized, "SignatureNotMatch")
	})
	t.Run("date too old", func(t *testing.T) {
		h := headersV4(time.Now().Add(-16*time.Minute), nil)
		signV4(t, testSecret, http.MethodGet, uri, h, nil)
		assertError(t, vs.send(t, http.MethodGet, uri, h, nil), http.StatusBadRequest, "RequestTimeExpired")
	})
	t.Run("unknown access key id", func(t *testing.T) {
		h := headersV4(time.Now(), nil)
		if err := sls.NewSignerV4("LTAIunknown", testSecret, testRegion).Sign(http.MethodGet, uri, h, nil); err != nil {
			t.Fatal(err)
		}
		assertError(t, vs.send(t, http.MethodGet, uri, h, nil), http.StatusUnauthorized, "InvalidAccessKeyId")
	})
}

// TestSDKClient drives the unmodified SDK client through its real request
// path (v1, v4, with and without an STS token) and checks both the requests
// that must pass and the errors the client reports for a wrong secret.
func TestSDKClient(t *testing.T) {
	vs := newVerifyingServer(t, keys())
	for _, mode := range []struct {
		name  string
		v4    bool
		token string
	}{{"v1", false, ""}, {"v1 with STS token", false, "CAIS-sts-token+/="}, {"v4", true, ""}, {"v4 with STS token", true, "CAIS-sts-token"}} {
		t.Run(mode.name, func(t *testing.T) {
			c := vs.sdkClient(testKeyID, testSecret, mode.token, mode.v4)
			if _, err := c.ListShards(testProject, "ls"); err != nil {
				t.Fatalf("ListShards: %v", err)
			}
			if _, err := c.GetCursor(testProject, "ls", 0, "begin"); err != nil {
				t.Fatalf("GetCursor: %v", err)
			}
			_, _, err := c.PullLogsV2(&sls.PullLogRequest{
				Project: testProject, Logstore: "ls", ShardID: 0, Cursor: "MTA=", LogGroupMaxCount: 10,
				Query: `* | where msg = 'a b&c' and size > 10`,
			})
			if err != nil {
				t.Fatalf("PullLogsV2 with query: %v", err)
			}
			lg := &sls.LogGroup{Topic: proto("t"), Logs: []*sls.Log{{
				Time:     proto(uint32(time.Now().Unix())),
				Contents: []*sls.LogContent{{Key: proto("k"), Value: proto("v")}},
			}}}
			if err := c.PutLogs(testProject, "ls", lg); err != nil {
				t.Fatalf("PutLogs: %v", err)
			}
			if err := c.CreateConsumerGroup(testProject, "ls", sls.ConsumerGroup{ConsumerGroupName: "cg", Timeout: 60}); err != nil {
				t.Fatalf("CreateConsumerGroup: %v", err)
			}

			bad := vs.sdkClient(testKeyID, "wrong-secret", mode.token, mode.v4)
			_, err = bad.ListShards(testProject, "ls")
			var se *sls.Error
			if !errors.As(err, &se) || se.HTTPCode != http.StatusUnauthorized || se.Code != "SignatureNotMatch" {
				t.Fatalf("ListShards with a wrong secret: got %v, want 401 SignatureNotMatch", err)
			}
			if strings.Contains(se.Message, "wrong-secret") || strings.Contains(se.Message, testSecret) {
				t.Fatalf("error message reveals a secret: %q", se.Message)
			}
		})
	}
}

func TestSDKClientUnknownKey(t *testing.T) {
	vs := newVerifyingServer(t, keys())
	c := vs.sdkClient("LTAIstranger", testSecret, "", false)
	_, err := c.ListShards(testProject, "ls")
	var se *sls.Error
	if !errors.As(err, &se) || se.HTTPCode != http.StatusUnauthorized || se.Code != "InvalidAccessKeyId" {
		t.Fatalf("got %v, want 401 InvalidAccessKeyId", err)
	}
	if !errors.As(vs.last(t), new(*apierr.Error)) {
		t.Fatalf("server recorded %v", vs.last(t))
	}
}

func assertError(t *testing.T, rep reply, status int, code string) {
	t.Helper()
	if rep.status != status || rep.code != code {
		t.Fatalf("got %d %s (%q), want %d %s", rep.status, rep.code, rep.message, status, code)
	}
	if strings.Contains(rep.message, testSecret) {
		t.Fatalf("error message reveals the secret: %q", rep.message)
	}
}

func proto[T any](v T) *T { return &v }

// benchRequest returns a signed request ready for Verify.
func benchRequest(b *testing.B, v4 bool, body []byte) *http.Request {
	b.Helper()
	method, uri := http.MethodGet, escapedPullURI
	if body != nil {
		method, uri = http.MethodPost, "/logstores/ls/shards/route?key=0123456789abcdef0123456789abcdef"
	}
	var h map[string]string
	var err error
	if v4 {
		h = headersV4(time.Now(), body)
		err = sls.NewSignerV4(testKeyID, testSecret, testRegion).Sign(method, uri, h, body)
	} else {
		h = headersV1(time.Now(), body)
		err = sls.NewSignerV1(testKeyID, testSecret).Sign(method, uri, h, body)
	}
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest(method, "http://"+testProject+"."+testEndpoint+uri, bytes.NewReader(body))
	for k, v := range h {
		if k == "Host" {
			continue // httptest.NewRequest set r.Host from the URL
		}
		r.Header.Set(k, v)
	}
	return r
}

func BenchmarkVerify(b *testing.B) {
	v := auth.NewVerifier(keys())
	body := bytes.Repeat([]byte("0123456789abcdef"), 64<<10/16)
	for _, bc := range []struct {
		name string
		v4   bool
		body []byte
	}{{"v1/GET", false, nil}, {"v1/POST-64KiB", false, body}, {"v4/GET", true, nil}, {"v4/POST-64KiB", true, body}} {
		b.Run(bc.name, func(b *testing.B) {
			r := benchRequest(b, bc.v4, bc.body)
			b.SetBytes(int64(len(bc.body)))
			for b.Loop() {
				if err := v.Verify(r, bc.body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
