package sls

import (
	"errors"
	"fmt"
	"testing"

	sdk "github.com/aliyun/aliyun-log-go-sdk"
)

func TestParseEndpoint(t *testing.T) {
	for _, tc := range []struct {
		in, scheme, host, dial string
		local                  bool
	}{
		{"http://127.0.0.1:9100", "http", "127.0.0.1:9100", "127.0.0.1:9100", true},
		{"localhost", "https", "localhost", "localhost:443", true},
		{"http://localhost", "http", "localhost", "localhost:80", true},
		{"cn-hangzhou.log.aliyuncs.com", "https", "cn-hangzhou.log.aliyuncs.com", "cn-hangzhou.log.aliyuncs.com:443", false},
		{"https://[::1]:8443/", "https", "[::1]:8443", "[::1]:8443", true},
	} {
		ep, err := parseEndpoint(tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if ep.scheme != tc.scheme || ep.host != tc.host || ep.local() != tc.local || ep.dialAddr() != tc.dial {
			t.Errorf("%s: got %s %s local=%v dial=%s", tc.in, ep.scheme, ep.host, ep.local(), ep.dialAddr())
		}
	}
	for _, bad := range []string{"", "http://", "http://a/b", "user@host"} {
		if _, err := parseEndpoint(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want errorClass
	}{
		{&apiError{Status: 403, Code: "ShardReadQuotaExceed"}, classThrottled},
		{&apiError{Status: 403, Code: "ReadQuotaExceed"}, classThrottled},
		{&apiError{Status: 403, Code: "Unauthorized"}, classFatal},
		{&apiError{Status: 401, Code: "SignatureNotMatch"}, classFatal},
		{&apiError{Status: 404, Code: "LogStoreNotExist"}, classFatal},
		{&apiError{Status: 400, Code: "InvalidCursor"}, classInvalidCursor},
		{&apiError{Status: 500, Code: "InternalServerError"}, classRetry},
		{&apiError{Status: 503, Code: "ServerBusy"}, classRetry},
		{fmt.Errorf("wrapped: %w", &sdk.Error{HTTPCode: 404, Code: "ProjectNotExist"}), classFatal},
		{&sdk.Error{HTTPCode: -1, Code: "ClientError", Message: "dial tcp: connection refused"}, classRetry},
		{errors.New("unexpected EOF"), classRetry},
	} {
		if got := classify(tc.err); got != tc.want {
			t.Errorf("classify(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestCursorNumbers(t *testing.T) {
	for _, n := range []int64{0, 1, 1795480605280708} {
		c := encodeCursorNum(n)
		got, err := decodeCursorNum(c)
		if err != nil || got != n {
			t.Fatalf("%d → %q → %d, %v", n, c, got, err)
		}
	}
	if _, err := decodeCursorNum("not base64!"); err == nil {
		t.Fatal("bad cursor decoded")
	}
}
