package auth_test

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/slspipe/slspipe/emulator/internal/auth"
)

// fuzzURIs are request targets the SDKs send, signed as given.
var fuzzURIs = []string{
	"/logstores/ls/shards/lb",
	"/logstores/ls",
	"/logstores/ls/shards",
	escapedPullURI,
	"/logstores/ls/shards/route?key=0123456789abcdef0123456789abcdef",
	"/logstores/ls/consumergroups/cg?type=checkpoint&forceSuccess=true",
}

var fuzzMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete}

// FuzzVerify signs a request with the official SDK's signer over signed,
// carrying an extra signed header of any value, then presents it with the
// body sent, and, separately, with a forged Authorization header and
// forged digest headers. Whatever the input, Verify must not panic, must
// accept the request exactly when the body is the one signed (an SDK
// request is never refused, a replay with another body never accepted),
// and must never accept a forged signature or digest.
func FuzzVerify(f *testing.F) {
	pb := []byte("\x0a\x05hello")
	f.Add(false, uint8(0), uint8(0), "", pb, pb, "", "", "")
	f.Add(true, uint8(0), uint8(1), "v", pb, pb, "", "", "")
	f.Add(false, uint8(1), uint8(0), "", pb, []byte("\x0a\x05HELLO"), "", "", "")
	f.Add(true, uint8(1), uint8(0), "", pb, []byte{}, "", "", "")
	f.Add(false, uint8(2), uint8(3), " spaced value ", []byte(nil), []byte(nil), "LOG slspipe:abc", "", "")
	f.Add(true, uint8(3), uint8(0), "x", []byte(nil), pb, "SLS4-HMAC-SHA256 Credential=LTAItestkey/20260101/cn-hangzhou/sls/aliyun_v4_request,Signature=00", "", "")
	f.Add(true, uint8(0), uint8(1), "", pb, pb, "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "")
	f.Add(false, uint8(0), uint8(1), "", pb, pb, "", "", "D41D8CD98F00B204E9800998ECF8427E")
	f.Add(true, uint8(5), uint8(1), "é\t", pb, pb, "", "UNSIGNED-PAYLOAD", "")

	v := auth.NewVerifier(keys())
	f.Fuzz(func(t *testing.T, v4 bool, uriIdx, methodIdx uint8, extra string, signed, sent []byte, forgedAuthz, forgedSHA, forgedMD5 string) {
		uri := fuzzURIs[int(uriIdx)%len(fuzzURIs)]
		method := fuzzMethods[int(methodIdx)%len(fuzzMethods)]
		var h map[string]string
		var err error
		if v4 {
			h = headersV4(time.Now(), signed)
			h["x-log-fuzz"] = extra
			err = sls.NewSignerV4(testKeyID, testSecret, testRegion).Sign(method, uri, h, signed)
		} else {
			h = headersV1(time.Now(), signed)
			h["x-log-fuzz"] = extra
			err = sls.NewSignerV1(testKeyID, testSecret).Sign(method, uri, h, signed)
		}
		if err != nil {
			t.Skip() // the signer refuses it: nothing to present
		}
		request := func(h map[string]string) *http.Request {
			r, err := http.NewRequest(method, "http://"+h["Host"]+uri, bytes.NewReader(sent))
			if err != nil {
				t.Fatal(err)
			}
			for k, val := range h {
				r.Header[http.CanonicalHeaderKey(k)] = []string{val}
			}
			r.Host = h["Host"]
			return r
		}

		err = v.Verify(request(h), sent)
		same := bytes.Equal(signed, sent)
		switch {
		case same && err != nil:
			t.Fatalf("%s %s signed by the SDK over its own body refused: %v", method, uri, err)
		case !same && err == nil:
			t.Fatalf("%s %s signed over %q accepted with body %q", method, uri, signed, sent)
		}

		// Forged headers, each alone: never accepted unless they equal what
		// was signed (and the body is the one signed).
		for name, forged := range map[string]string{
			"Authorization":        forgedAuthz,
			"x-log-content-sha256": forgedSHA,
			"Content-MD5":          forgedMD5,
		} {
			if forged == "" || forged == h[name] {
				continue
			}
			fh := make(map[string]string, len(h))
			for k, val := range h {
				fh[k] = val
			}
			fh[name] = forged
			if err := v.Verify(request(fh), sent); err == nil {
				t.Fatalf("%s %s accepted with a forged %s %q", method, uri, name, forged)
			}
		}
	})
}
