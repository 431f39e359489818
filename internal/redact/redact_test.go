package redact

import (
	"strings"
	"testing"
)

func TestURLs(t *testing.T) {
	for in, want := range map[string]string{
		"":                                     "",
		"nats://127.0.0.1:4222":                "nats://127.0.0.1:4222",
		"nats://user:pa@ss@127.0.0.1:4222":     "nats://<redacted>@127.0.0.1:4222",
		"tls://tok@a:1, nats://b:2":            "tls://<redacted>@a:1, nats://b:2",
		"nats://a:1, nats://u:p@b:2":           "nats://a:1, nats://<redacted>@b:2",
		"u:p@host:4222":                        "<redacted>@host:4222",
		"http://admin:hunter2@127.0.0.1:9100":  "http://<redacted>@127.0.0.1:9100",
		"https://u:pa/ss?x#y@cn.example.com":   "https://<redacted>@cn.example.com",
		"cn-hangzhou.log.aliyuncs.com":         "cn-hangzhou.log.aliyuncs.com",
		"http://cn-hangzhou.log.aliyuncs.com/": "http://cn-hangzhou.log.aliyuncs.com/",
	} {
		if got := URLs(in); got != want {
			t.Errorf("URLs(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzURL: whatever the input, what is kept before the placeholder is at
// most the scheme (and a list item's leading spaces), and what follows it is
// exactly the text from the last '@' on.
func FuzzURL(f *testing.F) {
	for _, s := range []string{"nats://u:p@h:1", "u@h", "x://@", "@", "a://b://c@d", "  tok@h", ":///@"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, u string) {
		got := URL(u)
		at := strings.LastIndexByte(u, '@')
		if at < 0 {
			if got != u {
				t.Fatalf("URL(%q) = %q, want it unchanged", u, got)
			}
			return
		}
		kept, ok := strings.CutSuffix(got, Placeholder+u[at:])
		if !ok || !strings.HasPrefix(u, kept) {
			t.Fatalf("URL(%q) = %q", u, got)
		}
		scheme := kept
		if i := strings.Index(kept, "://"); i >= 0 {
			scheme = kept[i+len("://"):]
		}
		if strings.Trim(scheme, " ") != "" {
			t.Fatalf("URL(%q) = %q keeps %q of the user information", u, got, scheme)
		}
	})
}
