package emulator_test

import (
	"net/http"
	"testing"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/gogo/protobuf/proto"

	"github.com/slspipe/slspipe/emulator"
	"github.com/slspipe/slspipe/emulator/faults"
)

// TestWriteBodies posts a LogGroup in every compression the service takes,
// and malformed bodies, and checks what is stored.
func TestWriteBodies(t *testing.T) {
	srv := startEmulator(t, emulator.Config{
		Logstores: []emulator.LogstoreSpec{{Project: "demo", Logstore: "fuzz", Shards: 1}},
	})
	c := defaultClient(srv, signV1)
	hc := srv.HTTPClient()
	raw, err := proto.Marshal(makeGroup("body", 30))
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range compressTypes {
		status, code := postRaw(t, hc, srv.Addr(), typ, len(raw), compressAs(t, typ, raw))
		if status != http.StatusOK {
			t.Fatalf("valid %q body: %d %s", typ, status, code)
		}
	}
	begin, _ := c.GetCursor("demo", "fuzz", 0, "begin")
	b, _, err := c.GetLogsBytes("demo", "fuzz", 0, begin, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	gl, err := sls.LogsBytesDecode(b)
	if err != nil || len(gl.LogGroups) != len(compressTypes) {
		t.Fatalf("stored %d groups (%v), want %d", len(gl.LogGroups), err, len(compressTypes))
	}
	for i, g := range gl.LogGroups {
		got, _ := proto.Marshal(g)
		if string(got) != string(raw) {
			t.Fatalf("group %d (%q) differs from what was posted", i, compressTypes[i])
		}
	}

	lz := compressAs(t, "lz4", raw)
	for name, tc := range map[string]struct {
		typ     string
		rawSize int
		body    []byte
		code    string
	}{
		"lz4 short raw size":     {"lz4", len(raw) - 1, lz, "PostBodyUncompressError"},
		"lz4 long raw size":      {"lz4", len(raw) + 1, lz, "PostBodyUncompressError"},
		"lz4 truncated":          {"lz4", len(raw), lz[:len(lz)/2], "PostBodyUncompressError"},
		"lz4 raw size too large": {"lz4", 11 << 20, lz, "PostBodyTooLarge"},
		"zstd garbage":           {"zstd", len(raw), raw, "PostBodyUncompressError"},
		"deflate garbage":        {"deflate", len(raw), raw, "PostBodyUncompressError"},
		"unknown compression":    {"snappy", len(raw), raw, "PostBodyUncompressError"},
		"not a LogGroup":         {"", 5, []byte("hello"), "PostBodyInvalid"},
		"truncated LogGroup":     {"", len(raw) / 2, raw[:len(raw)/2], "PostBodyInvalid"},
	} {
		status, code := postRaw(t, hc, srv.Addr(), tc.typ, tc.rawSize, tc.body)
		if status != http.StatusBadRequest || code != tc.code {
			t.Errorf("%s: %d %s, want 400 %s", name, status, code, tc.code)
		}
	}
	if end, _ := c.GetCursor("demo", "fuzz", 0, "end"); cursorValue(t, end)-cursorValue(t, begin) != int64(len(compressTypes)) {
		t.Fatal("a rejected body was stored")
	}
}

// TestFaultsReachTheSDK checks injected throttling and server errors reach
// SDK callers with the service's status and code.
func TestFaultsReachTheSDK(t *testing.T) {
	srv := startEmulator(t, emulator.Config{
		Logstores: []emulator.LogstoreSpec{{Project: "demo", Logstore: "nginx", Shards: 1}},
	})
	c := defaultClient(srv, signV1)
	if _, err := srv.Faults().Add(faults.Throttle(faults.Write, "nginx", 1, "")); err != nil {
		t.Fatal(err)
	}
	wantSLSError(t, c.PutLogs("demo", "nginx", makeGroup("t", 1)), http.StatusForbidden, "ShardWriteQuotaExceed")
	if err := c.PutLogs("demo", "nginx", makeGroup("t", 1)); err != nil {
		t.Fatalf("write after the throttle was used up: %v", err)
	}
	if _, err := srv.Faults().Add(faults.Throttle(faults.Read, "nginx", 1, "")); err != nil {
		t.Fatal(err)
	}
	_, err := c.GetCursor("demo", "nginx", 0, "begin")
	wantSLSError(t, err, http.StatusForbidden, "ShardReadQuotaExceed")
	if _, err := srv.Faults().Add(faults.Throttle(faults.Meta, "nginx", 1, "")); err != nil {
		t.Fatal(err)
	}
	_, err = c.ListShards("demo", "nginx")
	var se *sls.Error
	if !asSLSError(err, &se) || se.HTTPCode != http.StatusForbidden {
		t.Fatalf("ListShards under a meta throttle: %v", err)
	}
}

func asSLSError(err error, target **sls.Error) bool {
	se, ok := err.(*sls.Error)
	if ok {
		*target = se
	}
	return ok
}
