package faults

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestServeDecisions serves requests through Before, Wait and
// DropConnection the way the emulator does, and checks what an HTTP client
// observes.
func TestServeDecisions(t *testing.T) {
	in := New()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := in.Before(Op{Kind: Write, Project: "p", Logstore: "ls", Shard: -1})
		if err := d.Wait(r.Context()); err != nil {
			return
		}
		if d.Drop {
			if err := DropConnection(w); err != nil {
				t.Errorf("DropConnection: %v", err)
			}
			return
		}
		if d.Err != nil {
			w.WriteHeader(d.Err.Status)
			io.WriteString(w, d.Err.Code)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

	get := func() (int, string, error) {
		resp, err := client.Post(srv.URL, "application/x-protobuf", nil)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), err
	}

	mustAdd(t, in, DropConnections(1))
	if _, _, err := get(); err == nil {
		t.Fatal("dropped request got a response")
	}
	mustAdd(t, in, Throttle(Write, "ls", 1, ""))
	if status, body, err := get(); err != nil || status != http.StatusForbidden || body != CodeShardWriteQuotaExceed {
		t.Fatalf("throttled request: %d %q %v", status, body, err)
	}
	if status, body, err := get(); err != nil || status != http.StatusOK || body != "ok" {
		t.Fatalf("normal request: %d %q %v", status, body, err)
	}
}

func TestWaitHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (Decision{Delay: time.Hour}).Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait with a cancelled context: %v", err)
	}
	if err := (Decision{}).Wait(ctx); err != nil {
		t.Fatalf("Wait without delay: %v", err)
	}
	if err := (Decision{Delay: time.Millisecond}).Wait(context.Background()); err != nil {
		t.Fatalf("short Wait: %v", err)
	}
}
