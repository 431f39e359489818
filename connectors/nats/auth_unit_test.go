package nats

import "testing"

func TestRedactURLs(t *testing.T) {
	for in, want := range map[string]string{
		"nats://127.0.0.1:4222":            "nats://127.0.0.1:4222",
		"nats://user:pa@ss@127.0.0.1:4222": "nats://***@127.0.0.1:4222",
		"tls://tok@a:1, nats://b:2":        "tls://***@a:1, nats://b:2",
		"u:p@host:4222":                    "***@host:4222",
	} {
		if got := redactURLs(in); got != want {
			t.Errorf("redactURLs(%q) = %q, want %q", in, got, want)
		}
	}
}
