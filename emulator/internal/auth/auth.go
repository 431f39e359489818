// Package auth verifies the request signatures of the SLS API the way the
// service does, so that the official SDKs (Go, Node and others) are accepted
// with their own signers and a wrong key or secret is refused with the
// service's error codes.
//
// Two schemes are supported:
//
//   - v1, "Authorization: LOG <ak>:<base64 hmac-sha1>", the default of every
//     SDK, dated by the Date header;
//   - v4, "Authorization: SLS4-HMAC-SHA256 Credential=<ak>/<yyyymmdd>/<region>/sls/aliyun_v4_request,Signature=<hex>",
//     dated by the x-log-date header.
//
// Body digests (Content-MD5 for v1, x-log-content-sha256 for v4) are checked
// against the body actually received, and a v1 body without Content-MD5 is
// refused, so a request altered on the way, or replayed with another body,
// is refused even when its signature matches the headers.
package auth

import (
	"crypto/hmac"
	"net/http"
	"strings"
	"time"

	"github.com/slspipe/slspipe/emulator/internal/apierr"
)

// MaxClockSkew is how far a request's date may be from the server clock
// before it is refused with RequestTimeExpired, as the service does.
const MaxClockSkew = 15 * time.Minute

// Scheme prefixes of the Authorization header.
const (
	schemeV1 = "LOG "
	schemeV4 = "SLS4-HMAC-SHA256 "
)

// Verifier checks request signatures against a fixed set of access keys.
// It is safe for concurrent use.
type Verifier struct {
	secrets map[string]string // access key id → secret
	now     func() time.Time
	// temporary, when set, knows the secrets of temporary (STS) access
	// keys; see WithTemporaryKeys.
	temporary func(accessKeyID string) (string, bool)
}

// NewVerifier returns a Verifier that accepts requests signed by any of keys,
// a map from access key id to access key secret. The map is copied.
func NewVerifier(keys map[string]string) *Verifier {
	secrets := make(map[string]string, len(keys))
	for id, secret := range keys {
		secrets[id] = secret
	}
	return &Verifier{secrets: secrets, now: time.Now}
}

// WithTemporaryKeys makes v also accept the access keys that secret knows
// (the emulator's STS-issued keys, which come and go). Call it before v is
// used.
func (v *Verifier) WithTemporaryKeys(secret func(accessKeyID string) (string, bool)) *Verifier {
	v.temporary = secret
	return v
}

// Verify checks the signature of r, whose complete body is body (as received,
// before any decompression). It returns nil when the request is
// authentic, and otherwise an *apierr.Error carrying the service's status and
// code:
//
//   - 401 Unauthorized: no Authorization header, or one that cannot be parsed;
//   - 401 InvalidAccessKeyId: the access key id is unknown;
//   - 400 MissingDate, InvalidRequestTime, RequestTimeExpired: the request
//     date is absent, malformed, or more than MaxClockSkew from now;
//   - 400 MissingContentMD5: a v1 request has a body but no Content-MD5;
//   - 400 InvalidContentMD5, InvalidContentSha256: the body digest header
//     does not match the body (a v4 empty-body digest with a body included);
//   - 401 SignatureNotMatch: the signature is wrong.
//
// Verify does not judge an STS security token (x-acs-security-token): it is
// covered by the signature like every other x-acs-* header, and the server
// checks it against the credentials it issued before calling Verify.
//
// # Notes
//
// The returned error never contains the access key secret.
func (v *Verifier) Verify(r *http.Request, body []byte) error {
	authz := r.Header.Get("Authorization")
	switch {
	case authz == "":
		return apierr.New(http.StatusUnauthorized, "Unauthorized",
			"the request is not signed: the Authorization header is missing")
	case strings.HasPrefix(authz, schemeV1):
		return v.verifyV1(r, body, authz[len(schemeV1):])
	case strings.HasPrefix(authz, schemeV4):
		return v.verifyV4(r, body, authz[len(schemeV4):])
	default:
		return errMalformedAuthorization()
	}
}

// AccessKeyID returns the access key id r is signed with, or "" when r is
// not signed or its Authorization header cannot be parsed. It checks
// nothing: call it after Verify accepted r, to know who is calling.
func AccessKeyID(r *http.Request) string {
	authz := r.Header.Get("Authorization")
	switch {
	case strings.HasPrefix(authz, schemeV1):
		id, _, _ := strings.Cut(authz[len(schemeV1):], ":")
		return strings.TrimSpace(id)
	case strings.HasPrefix(authz, schemeV4):
		if cred, ok := parseV4(authz[len(schemeV4):]); ok {
			return cred.accessKeyID
		}
	}
	return ""
}

// secret returns the secret of accessKeyID or InvalidAccessKeyId.
func (v *Verifier) secret(accessKeyID string) (string, error) {
	secret, ok := v.secrets[accessKeyID]
	if !ok && v.temporary != nil {
		secret, ok = v.temporary(accessKeyID)
	}
	if !ok {
		return "", apierr.New(http.StatusUnauthorized, "InvalidAccessKeyId",
			"AccessKeyId %s is not exist", accessKeyID)
	}
	return secret, nil
}

// checkSkew refuses a request dated more than MaxClockSkew from now.
func (v *Verifier) checkSkew(raw string, t time.Time) error {
	now := v.now()
	if d := now.Sub(t); d > MaxClockSkew || d < -MaxClockSkew {
		return apierr.New(http.StatusBadRequest, "RequestTimeExpired",
			"Request time %s has been expired while server time is %s.",
			raw, now.UTC().Format(http.TimeFormat))
	}
	return nil
}

func errMalformedAuthorization() *apierr.Error {
	return apierr.New(http.StatusUnauthorized, "Unauthorized",
		"the Authorization header is malformed")
}

func errSignatureNotMatch(sent string) *apierr.Error {
	return apierr.New(http.StatusUnauthorized, "SignatureNotMatch",
		"signature %s not match", sent)
}

// equalSignature compares signatures in constant time.
func equalSignature(sent, want string) bool {
	return hmac.Equal([]byte(sent), []byte(want))
}
