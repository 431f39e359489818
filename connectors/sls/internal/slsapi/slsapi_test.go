package slsapi

import (
	"errors"
	"fmt"
	"testing"
	"time"

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
		ep, err := ParseEndpoint(tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if ep.Scheme != tc.scheme || ep.Host != tc.host || ep.Local() != tc.local || ep.DialAddr() != tc.dial {
			t.Errorf("%s: got %s %s local=%v dial=%s", tc.in, ep.Scheme, ep.Host, ep.Local(), ep.DialAddr())
		}
	}
	for _, bad := range []string{"", "http://", "http://a/b", "user@host"} {
		if _, err := ParseEndpoint(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want Class
	}{
		{&APIError{Status: 403, Code: "ShardReadQuotaExceed"}, Throttled},
		{&APIError{Status: 403, Code: "ReadQuotaExceed"}, Throttled},
		{&APIError{Status: 403, Code: "ExceedQuota"}, Throttled},
		{&APIError{Status: 429, Code: "TooManyRequests"}, Throttled},
		{&APIError{Status: 403, Code: "Unauthorized"}, Fatal},
		{&APIError{Status: 401, Code: "SignatureNotMatch"}, Fatal},
		{&APIError{Status: 404, Code: "LogStoreNotExist"}, Fatal},
		{&APIError{Status: 400, Code: "InvalidCursor"}, InvalidCursor},
		{&APIError{Status: 500, Code: "InternalServerError"}, Retry},
		{&APIError{Status: 503, Code: "ServerBusy"}, Retry},
		{fmt.Errorf("wrapped: %w", &sdk.Error{HTTPCode: 404, Code: "ProjectNotExist"}), Fatal},
		{&sdk.Error{HTTPCode: -1, Code: "ClientError", Message: "dial tcp: connection refused"}, Retry},
		{errors.New("unexpected EOF"), Retry},
	} {
		if got := Classify(tc.err); got != tc.want {
			t.Errorf("Classify(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

// TestBackoffStaysInItsUpperHalf checks the bounds every retry relies on:
// the wait doubles from Base, never exceeds Max, and never falls below half
// of the nominal wait.
func TestBackoffStaysInItsUpperHalf(t *testing.T) {
	b := Backoff{Base: 100 * time.Millisecond, Max: time.Second}
	for n, nominal := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		nominal *= time.Millisecond
		for range 50 {
			d := b.Delay(n)
			if d < nominal/2 || d > nominal {
				t.Fatalf("Delay(%d) = %s, want within [%s, %s]", n, d, nominal/2, nominal)
			}
		}
	}
}
