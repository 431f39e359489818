package auth

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/slspipe/slspipe/emulator/internal/apierr"
)

// The body checks are what makes a signature cover the body: without them a
// request captured on the way could be replayed with another body under the
// same signature. The SDKs always send what they check (Content-MD5 with
// every v1 body, the body's SHA-256 with every v4 request except PutObject,
// which the emulator does not serve).

// checkBodyV1 requires a Content-MD5 header with every non-empty body and
// compares it with the body: the v1 string to sign holds Content-MD5, not
// the body itself.
func checkBodyV1(r *http.Request, body []byte) error {
	if len(body) > 0 && r.Header.Get("Content-MD5") == "" {
		return apierr.New(http.StatusBadRequest, "MissingContentMD5",
			"Content-MD5 does not exist in http header when body is not empty.")
	}
	return checkContentMD5(r, body)
}

// checkBodyV4 returns the payload digest that goes into the v4 canonical
// request: the x-log-content-sha256 header, which must be the SHA-256 of
// the body received (an empty-body digest or UNSIGNED-PAYLOAD with a body
// is refused), or, when the header is absent, the digest of the body
// itself, so that the signature still covers it. A Content-MD5 header, when
// sent, must match too.
func checkBodyV4(r *http.Request, body []byte) (string, error) {
	sum := sha256.Sum256(body)
	actual := hex.EncodeToString(sum[:])
	sent := r.Header.Get("x-log-content-sha256")
	if sent != "" && !strings.EqualFold(sent, actual) {
		return "", apierr.New(http.StatusBadRequest, "InvalidContentSha256",
			"x-log-content-sha256 %s does not match the request body", sent)
	}
	if err := checkContentMD5(r, body); err != nil {
		return "", err
	}
	if sent == "" {
		return actual, nil
	}
	return sent, nil
}

// checkContentMD5 compares the Content-MD5 header, when sent, with the body.
// The SDKs send uppercase hex; the comparison ignores case because the
// signature already pins the exact spelling.
func checkContentMD5(r *http.Request, body []byte) error {
	sent := r.Header.Get("Content-MD5")
	if sent == "" {
		return nil
	}
	sum := md5.Sum(body)
	if !strings.EqualFold(sent, hex.EncodeToString(sum[:])) {
		return apierr.New(http.StatusBadRequest, "InvalidContentMD5",
			"Content-MD5 %s does not match the request body", sent)
	}
	return nil
}
