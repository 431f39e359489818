package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/slspipe/slspipe/emulator"
	"github.com/slspipe/slspipe/internal/slstest"
)

// sendSigned sends body to the PutLogs route of an `slspipe emulator`
// process at addr with the headers h (already signed) and returns the
// status and errorCode.
func sendSigned(t *testing.T, addr, uri string, h map[string]string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://demo."+addr+uri, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	req.Host = h["Host"]
	resp, err := emulator.DialClient(addr).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var e struct{ ErrorCode, ErrorMessage string }
	if resp.StatusCode != http.StatusOK {
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatalf("%d answer %q is not an SLS error: %v", resp.StatusCode, raw, err)
		}
		t.Logf("%d %s: %s", resp.StatusCode, e.ErrorCode, e.ErrorMessage)
	}
	return resp.StatusCode, e.ErrorCode
}

// TestEmulatorSignaturesCoverTheBody sends the emulator process requests
// whose signature does not cover the body they carry, as someone replaying
// a captured request with another body would: a v4 request signed with the
// empty-body digest, and a v1 request signed without Content-MD5. Both are
// refused with the service's error, and nothing is written; the same body
// signed properly is accepted.
func TestEmulatorSignaturesCoverTheBody(t *testing.T) {
	addr := startEmulatorProcess(t, "demo/door:1")
	const uri = "/logstores/door/shards/lb"
	lg := &sls.LogGroup{Logs: []*sls.Log{{
		Time:     new(uint32(time.Now().Unix())),
		Contents: []*sls.LogContent{{Key: new("msg"), Value: new("forged")}},
	}}}
	body, err := lg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	headers := func() map[string]string {
		return map[string]string{
			"x-log-apiversion":  "0.6.0",
			"x-log-bodyrawsize": strconv.Itoa(len(body)),
			"Content-Type":      "application/x-protobuf",
			"Host":              "demo." + addr,
			"User-Agent":        "replayer",
		}
	}
	const id, secret = emulator.DefaultAccessKeyID, emulator.DefaultAccessKeySecret

	t.Run("v4 with the empty-body digest", func(t *testing.T) {
		h := headers()
		h["x-log-date"] = time.Now().UTC().Format("20060102T150405Z")
		// What the SDK sends for a body it does not hash (PutObject).
		if err := sls.NewSignerV4(id, secret, "cn-hangzhou").SignWithOption(http.MethodPost, uri, h, body, false); err != nil {
			t.Fatal(err)
		}
		if status, code := sendSigned(t, addr, uri, h, body); status != http.StatusBadRequest || code != "InvalidContentSha256" {
			t.Errorf("got %d %s, want 400 InvalidContentSha256", status, code)
		}
	})
	t.Run("v1 without Content-MD5", func(t *testing.T) {
		h := headers()
		h["Date"] = time.Now().UTC().Format(http.TimeFormat)
		// Signed as a request without a body: no Content-MD5.
		if err := sls.NewSignerV1(id, secret).Sign(http.MethodPost, uri, h, nil); err != nil {
			t.Fatal(err)
		}
		if status, code := sendSigned(t, addr, uri, h, body); status != http.StatusBadRequest || code != "MissingContentMD5" {
			t.Errorf("got %d %s, want 400 MissingContentMD5", status, code)
		}
	})
	logs, err := slstest.ReadAll(emulatorClient(addr), "demo", "door")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(logs[0]); n != 0 {
		t.Fatalf("%d log groups written by requests whose signature does not cover their body", n)
	}

	for _, v4 := range []bool{false, true} {
		h := headers()
		var err error
		if v4 {
			h["x-log-date"] = time.Now().UTC().Format("20060102T150405Z")
			err = sls.NewSignerV4(id, secret, "cn-hangzhou").Sign(http.MethodPost, uri, h, body)
		} else {
			h["Date"] = time.Now().UTC().Format(http.TimeFormat)
			err = sls.NewSignerV1(id, secret).Sign(http.MethodPost, uri, h, body)
		}
		if err != nil {
			t.Fatal(err)
		}
		if status, code := sendSigned(t, addr, uri, h, body); status != http.StatusOK {
			t.Fatalf("v4=%v: a request signed over its body got %d %s", v4, status, code)
		}
	}
}

// TestEmulatorFaultsAdminNeedsTheKey steers an `slspipe emulator` process's
// fault injector as a user does with curl, and as a web page in a browser
// on the same machine might try to: without the key, with a wrong one, from
// a page (a form post, a no-cors fetch), with a body that is not JSON or
// too large. Only the curl-like call with the key changes anything.
func TestEmulatorFaultsAdminNeedsTheKey(t *testing.T) {
	addr := startEmulatorProcess(t, "demo/door:1")
	url := "http://" + addr + "/_emulator/faults"
	fault := `{"match":{"kind":"read"},"count":20,"status":403}`
	call := func(method, body string, h map[string]string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var e struct{ ErrorCode string }
		_ = json.Unmarshal(raw, &e)
		return resp.StatusCode, e.ErrorCode
	}
	key := "Bearer " + emulator.DefaultAccessKeySecret
	refused := []struct {
		name   string
		method string
		body   string
		h      map[string]string
		status int
		code   string
	}{
		{"no key", http.MethodPost, fault, map[string]string{"Content-Type": "application/json"}, http.StatusUnauthorized, "Unauthorized"},
		{"wrong key", http.MethodPost, fault, map[string]string{"Authorization": "Bearer guess", "Content-Type": "application/json"}, http.StatusUnauthorized, "Unauthorized"},
		{"the access key id", http.MethodPost, fault, map[string]string{"Authorization": "Bearer " + emulator.DefaultAccessKeyID, "Content-Type": "application/json"}, http.StatusUnauthorized, "Unauthorized"},
		{"reading without the key", http.MethodGet, "", nil, http.StatusUnauthorized, "Unauthorized"},
		{"a form posted by a page", http.MethodPost, "match=read", map[string]string{
			"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://attacker.example", "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate",
		}, http.StatusForbidden, "Forbidden"},
		{"a no-cors fetch by a page", http.MethodPost, fault, map[string]string{
			"Content-Type": "text/plain;charset=UTF-8", "Origin": "http://attacker.example", "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors",
		}, http.StatusForbidden, "Forbidden"},
		{"a page that knows the key", http.MethodPost, fault, map[string]string{
			"Authorization": key, "Content-Type": "application/json", "Origin": "http://attacker.example",
		}, http.StatusForbidden, "Forbidden"},
		{"a same-origin page (DNS rebinding)", http.MethodPost, fault, map[string]string{
			"Authorization": key, "Content-Type": "application/json", "Sec-Fetch-Site": "same-origin",
		}, http.StatusForbidden, "Forbidden"},
		{"a body that is not JSON", http.MethodPost, fault, map[string]string{"Authorization": key, "Content-Type": "text/plain"}, http.StatusUnsupportedMediaType, "InvalidContentType"},
		{"a body too large", http.MethodPut, `{"faults":[` + strings.Repeat(" ", 2<<20) + `]}`, map[string]string{"Authorization": key, "Content-Type": "application/json"}, http.StatusRequestEntityTooLarge, "PostBodyTooLarge"},
	}
	for _, c := range refused {
		if status, code := call(c.method, c.body, c.h); status != c.status || code != c.code {
			t.Errorf("%s: got %d %s, want %d %s", c.name, status, code, c.status, c.code)
		}
	}

	state := func() int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var st struct{ Faults []json.RawMessage }
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET with the key: %d", resp.StatusCode)
		}
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			t.Fatal(err)
		}
		return len(st.Faults)
	}
	if n := state(); n != 0 {
		t.Fatalf("refused requests left %d faults planned", n)
	}
	if status, code := call(http.MethodPost, fault, map[string]string{"Authorization": key, "Content-Type": "application/json"}); status != http.StatusOK {
		t.Fatalf("curl with the key: %d %s", status, code)
	}
	if n := state(); n != 1 {
		t.Fatalf("%d faults planned after one was added", n)
	}
}
