package sls

import (
	"testing"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/engine"
)

var _ engine.Origins = (*Source)(nil)

// TestOriginNormalisesEndpoints: spellings of one endpoint give one origin,
// a region's intranet endpoint is its public one, and a change of endpoint,
// project or logstore gives another.
func TestOriginNormalisesEndpoints(t *testing.T) {
	origin := func(endpoint, project, logstore string) string {
		t.Helper()
		src, err := NewSource(config.SLSSource{
			SLSAuth: config.SLSAuth{Endpoint: endpoint, Project: project,
				AccessKeyID: config.NewSecret("id"), AccessKeySecret: config.NewSecret("secret")},
			Logstores: []string{logstore},
		})
		if err != nil {
			t.Fatal(err)
		}
		return src.Origin(logstore)
	}
	const want = "sls://cn-hangzhou.log.aliyuncs.com/proj/nginx"
	for _, ep := range []string{
		"cn-hangzhou.log.aliyuncs.com",
		"https://cn-hangzhou.log.aliyuncs.com",
		"https://cn-hangzhou.log.aliyuncs.com/",
		"http://cn-hangzhou.log.aliyuncs.com",
		"https://CN-Hangzhou.Log.Aliyuncs.com:443",
		"cn-hangzhou.log.aliyuncs.com.",
		"cn-hangzhou-intranet.log.aliyuncs.com",
		"http://cn-hangzhou-intranet.log.aliyuncs.com:80",
		"cn-hangzhou-share.log.aliyuncs.com",
	} {
		if got := origin(ep, "proj", "nginx"); got != want {
			t.Errorf("endpoint %s: origin %q, want %q", ep, got, want)
		}
	}
	for _, other := range []struct{ endpoint, project, logstore string }{
		{"cn-shanghai.log.aliyuncs.com", "proj", "nginx"},
		{"cn-hangzhou-finance.log.aliyuncs.com", "proj", "nginx"},
		{"cn-hangzhou.log.aliyuncs.com", "other", "nginx"},
		{"cn-hangzhou.log.aliyuncs.com", "proj", "access"},
		{"cn-hangzhou.log.aliyuncs.com:8443", "proj", "nginx"},
		{"log-global.aliyuncs.com", "proj", "nginx"},
	} {
		if got := origin(other.endpoint, other.project, other.logstore); got == want {
			t.Errorf("%+v has the origin of cn-hangzhou/proj/nginx", other)
		}
	}
	if got, want := origin("http://127.0.0.1:9100", "demo", "nginx"), "sls://127.0.0.1:9100/demo/nginx"; got != want {
		t.Errorf("emulator origin %q, want %q", got, want)
	}
	if got, want := origin("http://[::1]:80", "demo", "nginx"), "sls://[::1]/demo/nginx"; got != want {
		t.Errorf("IPv6 origin %q, want %q", got, want)
	}
}
