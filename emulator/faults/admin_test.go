package faults

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const testAdminToken = "admin-test-token"

func adminCall(t *testing.T, srv *httptest.Server, method, path, body string, wantStatus int, out any) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != wantStatus {
		t.Fatalf("%s %s: status %d (%s), want %d", method, path, resp.StatusCode, raw, wantStatus)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
}

func TestAdminHandler(t *testing.T) {
	in := New()
	srv := httptest.NewServer(in.AdminHandler(testAdminToken))
	defer srv.Close()

	// Replace the plan: a seeded 503 rate on writes, a throttle of reads on
	// one logstore, a latency, and quotas.
	var st State
	adminCall(t, srv, http.MethodPut, "/_emulator/faults", `{
		"seed": 42,
		"faults": [
			{"match": {"kind": "read", "logstore": "ls"}, "count": 2, "status": 403},
			{"match": {"kind": "write"}, "probability": 0.5, "status": 503},
			{"match": {"kind": "meta"}, "delay": "250ms"}
		],
		"quotas": {"shardWriteQPS": 500}
	}`, http.StatusOK, &st)
	if st.Seed != 42 || len(st.Faults) != 3 || st.Quotas.ShardWriteQPS != 500 {
		t.Fatalf("state after PUT: %+v", st)
	}
	if st.Faults[0].Match.Kind != Read || st.Faults[2].Delay != Duration(250*time.Millisecond) {
		t.Fatalf("faults decoded wrongly: %+v", st.Faults)
	}

	d := in.Before(readOp("ls", 0))
	if d.Err == nil || d.Err.Code != CodeShardReadQuotaExceed {
		t.Fatalf("planned throttle not applied: %+v", d)
	}
	if d := in.Before(Op{Kind: Meta, Shard: -1}); d.Delay != 250*time.Millisecond {
		t.Fatalf("planned latency not applied: %+v", d)
	}

	// GET shows hits and counters.
	adminCall(t, srv, http.MethodGet, "/_emulator/faults", "", http.StatusOK, &st)
	if st.Faults[0].Hits != 1 || st.Stats.Injected != 2 || st.Stats.ByCode[CodeShardReadQuotaExceed] != 1 {
		t.Fatalf("state after two requests: %+v", st)
	}

	// POST adds one fault; DELETE ?id removes it.
	var added struct{ ID int }
	adminCall(t, srv, http.MethodPost, "/", `{"drop": true, "count": 1}`, http.StatusOK, &added)
	if added.ID == 0 {
		t.Fatal("POST returned no id")
	}
	adminCall(t, srv, http.MethodGet, "/", "", http.StatusOK, &st)
	if n := len(st.Faults); n != 4 || st.Faults[3].ID != added.ID || !st.Faults[3].Drop {
		t.Fatalf("plan after POST: %+v", st.Faults)
	}
	adminCall(t, srv, http.MethodDelete, "/?id="+itoa(added.ID), "", http.StatusOK, &st)
	if len(st.Faults) != 3 {
		t.Fatalf("plan after DELETE id: %+v", st.Faults)
	}
	adminCall(t, srv, http.MethodDelete, "/?id="+itoa(added.ID), "", http.StatusNotFound, nil)

	// Bad requests are refused with SLS-style errors and change nothing.
	var e struct{ ErrorCode, ErrorMessage string }
	adminCall(t, srv, http.MethodPost, "/", `{"status": 503,`, http.StatusBadRequest, &e)
	if e.ErrorCode != "PostBodyInvalid" {
		t.Fatalf("truncated JSON: %+v", e)
	}
	adminCall(t, srv, http.MethodPost, "/", `{"statuss": 503}`, http.StatusBadRequest, &e)
	adminCall(t, srv, http.MethodPost, "/", `{"count": 3}`, http.StatusBadRequest, &e)
	if e.ErrorCode != "ParameterInvalid" || !strings.Contains(e.ErrorMessage, "no effect") {
		t.Fatalf("fault without effect: %+v", e)
	}
	adminCall(t, srv, http.MethodPut, "/", `{"faults": [{"match": {"kind": "bogus"}, "status": 500}]}`, http.StatusBadRequest, &e)
	adminCall(t, srv, http.MethodPatch, "/", ``, http.StatusMethodNotAllowed, &e)
	adminCall(t, srv, http.MethodGet, "/", "", http.StatusOK, &st)
	if len(st.Faults) != 3 {
		t.Fatalf("a refused request changed the plan: %+v", st.Faults)
	}

	// DELETE without id resets everything.
	st = State{}
	adminCall(t, srv, http.MethodDelete, "/", "", http.StatusOK, &st)
	if len(st.Faults) != 0 || st.Stats.Injected != 0 || st.Quotas != (Quotas{}) {
		t.Fatalf("state after reset: %+v", st)
	}
	if d := in.Before(writeOp("a", 0)); d != (Decision{}) {
		t.Fatalf("request after reset: %+v", d)
	}
}

func TestDurationJSON(t *testing.T) {
	var f Fault
	if err := json.Unmarshal([]byte(`{"delay": 1500}`), &f); err != nil {
		t.Fatal(err)
	}
	if time.Duration(f.Delay) != 1500*time.Millisecond {
		t.Fatalf("numeric delay read as %v", time.Duration(f.Delay))
	}
	if err := json.Unmarshal([]byte(`{"delay": "soon"}`), &f); err == nil {
		t.Fatal("bad duration accepted")
	}
	b, err := json.Marshal(Fault{Delay: Duration(2 * time.Second), Status: 503})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"delay":"2s"`) || strings.Contains(string(b), `"kind"`) {
		t.Fatalf("marshalled %s", b)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestAdminHandlerGuard: the handler serves only a caller with a token,
// never what a web page sends, and bounds bodies before reading them.
func TestAdminHandlerGuard(t *testing.T) {
	in := New()
	fault := `{"drop": true, "count": 1}`
	for _, c := range []struct {
		name    string
		handler http.Handler
		method  string
		body    string
		h       map[string]string
		status  int
		code    string
	}{
		{"no tokens configured", in.AdminHandler(), http.MethodGet, "", map[string]string{"Authorization": "Bearer "}, http.StatusUnauthorized, "Unauthorized"},
		{"no Authorization", in.AdminHandler(testAdminToken), http.MethodGet, "", nil, http.StatusUnauthorized, "Unauthorized"},
		{"basic instead of bearer", in.AdminHandler(testAdminToken), http.MethodGet, "", map[string]string{"Authorization": "Basic " + testAdminToken}, http.StatusUnauthorized, "Unauthorized"},
		{"a prefix of the token", in.AdminHandler(testAdminToken), http.MethodGet, "", map[string]string{"Authorization": "Bearer admin"}, http.StatusUnauthorized, "Unauthorized"},
		{"Origin", in.AdminHandler(testAdminToken), http.MethodGet, "", map[string]string{"Authorization": "Bearer " + testAdminToken, "Origin": "null"}, http.StatusForbidden, "Forbidden"},
		{"Sec-Fetch-Site same-site", in.AdminHandler(testAdminToken), http.MethodDelete, "", map[string]string{"Authorization": "Bearer " + testAdminToken, "Sec-Fetch-Site": "same-site"}, http.StatusForbidden, "Forbidden"},
		{"form body", in.AdminHandler(testAdminToken), http.MethodPost, fault, map[string]string{"Authorization": "Bearer " + testAdminToken, "Content-Type": "application/x-www-form-urlencoded"}, http.StatusUnsupportedMediaType, "InvalidContentType"},
		{"no Content-Type", in.AdminHandler(testAdminToken), http.MethodPut, `{}`, map[string]string{"Authorization": "Bearer " + testAdminToken}, http.StatusUnsupportedMediaType, "InvalidContentType"},
		{"declared too large", in.AdminHandler(testAdminToken), http.MethodPut, `{"faults":[` + strings.Repeat(" ", maxAdminBody) + `]}`, map[string]string{"Authorization": "Bearer " + testAdminToken, "Content-Type": "application/json"}, http.StatusRequestEntityTooLarge, "PostBodyTooLarge"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(c.method, "/", strings.NewReader(c.body))
			for k, v := range c.h {
				req.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			c.handler.ServeHTTP(w, req)
			var e struct{ ErrorCode string }
			_ = json.Unmarshal(w.Body.Bytes(), &e)
			if w.Code != c.status || e.ErrorCode != c.code {
				t.Fatalf("got %d %s (%s), want %d %s", w.Code, e.ErrorCode, w.Body, c.status, c.code)
			}
		})
	}
	// A body of unknown length (chunked) is cut at the limit while read.
	req := httptest.NewRequest(http.MethodPut, "/", io.MultiReader(strings.NewReader(`{"faults":[`), strings.NewReader(strings.Repeat(" ", 2*maxAdminBody))))
	req.ContentLength = -1
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	w := httptest.NewRecorder()
	in.AdminHandler(testAdminToken).ServeHTTP(w, req)
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked body past the limit: %d %s", w.Code, w.Body)
	}
	if len(in.Faults()) != 0 {
		t.Fatalf("a refused request changed the plan: %+v", in.Faults())
	}
}
