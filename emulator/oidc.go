package emulator

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// oidcClaimSet is what the emulator reads of an OIDC token: a JWT whose
// payload names the subject, issuer, audience and expiry. The signature is
// not verified: the emulator holds no provider keys, and what it checks for
// is the token a workload would present (present, well-formed, current).
type oidcClaimSet struct {
	Subject  string          `json:"sub"`
	Issuer   string          `json:"iss"`
	Audience json.RawMessage `json:"aud"`
	Expiry   int64           `json:"exp"`
}

func (c oidcClaimSet) audience() []string {
	var one string
	if json.Unmarshal(c.Audience, &one) == nil {
		return []string{one}
	}
	var many []string
	_ = json.Unmarshal(c.Audience, &many)
	return many
}

// oidcClaims checks an OIDC token and returns its claims.
func (s *Server) oidcClaims(token string) (oidcClaimSet, error) {
	var c oidcClaimSet
	token = strings.TrimSpace(token)
	if token == "" {
		return c, errSTS(http.StatusBadRequest, "MissingOIDCToken", "OIDCToken is mandatory for this action.")
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return c, errSTS(http.StatusBadRequest, "AuthenticationFail.OIDCToken.Invalid", "The OIDC token is not a JWT.")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || json.Unmarshal(payload, &c) != nil {
		return c, errSTS(http.StatusBadRequest, "AuthenticationFail.OIDCToken.Invalid", "The OIDC token payload cannot be parsed.")
	}
	if c.Subject == "" || c.Issuer == "" {
		return c, errSTS(http.StatusBadRequest, "AuthenticationFail.OIDCToken.Invalid", "The OIDC token has no sub or iss claim.")
	}
	if c.Expiry != 0 && !time.Now().Before(time.Unix(c.Expiry, 0)) {
		return c, errSTS(http.StatusBadRequest, "AuthenticationFail.OIDCToken.Expired", "The OIDC token has expired.")
	}
	return c, nil
}

// NewOIDCToken returns an unsigned JWT with the given subject and issuer,
// valid for lifetime: what a Kubernetes service account token projected
// for RRSA looks like to the emulator's STS, for tests and demos.
func NewOIDCToken(subject, issuer string, lifetime time.Duration) string {
	enc := base64.RawURLEncoding
	head, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT"})
	body, _ := json.Marshal(map[string]any{"sub": subject, "iss": issuer, "aud": "sts.aliyuncs.com", "exp": time.Now().Add(lifetime).Unix()})
	return enc.EncodeToString(head) + "." + enc.EncodeToString(body) + "."
}
