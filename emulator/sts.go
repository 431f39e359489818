package emulator

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The emulator's STS: AssumeRole and AssumeRoleWithOIDC as the Security
// Token Service answers them, for the credential providers of slspipe (and
// of Alibaba Cloud's credentials libraries) under test. Requests are RPC
// style: POST / with the common parameters in the query and the action's
// in a form body; AssumeRole is signed (HMAC-SHA1 over the sorted,
// percent-encoded parameters), AssumeRoleWithOIDC is not, the OIDC token
// being the proof.

// STS limits on DurationSeconds.
const (
	minSessionDuration = 900 * time.Second
	maxSessionDuration = 12 * time.Hour
)

// stsError is an STS error answer.
type stsError struct {
	status        int
	code, message string
}

func (e *stsError) Error() string { return fmt.Sprintf("%d %s: %s", e.status, e.code, e.message) }

func errSTS(status int, code, format string, args ...any) *stsError {
	return &stsError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

// isSTSRequest tells an STS call (an RPC action in the query, unsigned by
// the SLS scheme) from an SLS API call.
func isSTSRequest(r *http.Request) bool {
	return (r.URL.Path == "/" || r.URL.Path == "") && r.URL.Query().Get("Action") != "" &&
		r.Header.Get("Authorization") == ""
}

// serveSTS answers one STS call.
func (s *Server) serveSTS(w http.ResponseWriter, r *http.Request, body []byte) {
	params, err := stsParams(r, body)
	if err == nil {
		var out any
		switch a := params.Get("Action"); a {
		case "AssumeRole":
			out, err = s.assumeRole(params)
		case "AssumeRoleWithOIDC":
			out, err = s.assumeRoleWithOIDC(params)
		default:
			err = errSTS(http.StatusBadRequest, "InvalidAction.NotFound", "Specified api is not found, please check your url and method: %s.", a)
		}
		if err == nil {
			b, _ := json.Marshal(out)
			w.Header().Set("Content-Type", "application/json;charset=utf-8")
			_, _ = w.Write(b)
			return
		}
	}
	se, ok := err.(*stsError)
	if !ok {
		se = errSTS(http.StatusInternalServerError, "InternalError", "The request processing has failed due to some unknown error.")
	}
	b, _ := json.Marshal(map[string]string{
		"RequestId": w.Header().Get("x-log-requestid"), "HostId": r.Host,
		"Code": se.code, "Message": se.message,
	})
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(se.status)
	_, _ = w.Write(b)
}

// stsParams merges the query and the form body.
func stsParams(r *http.Request, body []byte) (url.Values, error) {
	params := r.URL.Query()
	if len(body) > 0 {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, errSTS(http.StatusBadRequest, "InvalidParameter", "The request body is not a form: %v.", err)
		}
		for k, v := range form {
			params[k] = v
		}
	}
	return params, nil
}

// assumeRole issues credentials for RoleArn to the caller whose access key
// signed the request.
func (s *Server) assumeRole(p url.Values) (any, error) {
	if err := s.checkRPCSignature(p); err != nil {
		return nil, err
	}
	role, lifetime, err := s.roleAndDuration(p)
	if err != nil {
		return nil, err
	}
	return s.assumed(role, p.Get("RoleSessionName"), lifetime, nil), nil
}

// assumeRoleWithOIDC issues credentials for RoleArn to the holder of an
// OIDC token from a provider the emulator trusts.
func (s *Server) assumeRoleWithOIDC(p url.Values) (any, error) {
	provider := p.Get("OIDCProviderArn")
	if provider == "" {
		return nil, errSTS(http.StatusBadRequest, "MissingOIDCProviderArn", "OIDCProviderArn is mandatory for this action.")
	}
	trusted := false
	for _, o := range s.cfg.OIDCProviders {
		trusted = trusted || strings.EqualFold(o, provider)
	}
	if !trusted {
		return nil, errSTS(http.StatusNotFound, "EntityNotExist.OIDCProvider", "The specified OIDC provider does not exist: %s.", provider)
	}
	claims, err := s.oidcClaims(p.Get("OIDCToken"))
	if err != nil {
		return nil, err
	}
	role, lifetime, err := s.roleAndDuration(p)
	if err != nil {
		return nil, err
	}
	info := map[string]string{"Subject": claims.Subject, "Issuer": claims.Issuer, "ClientIds": strings.Join(claims.audience(), ",")}
	return s.assumed(role, p.Get("RoleSessionName"), lifetime, info), nil
}

// roleAndDuration finds RoleArn among the roles and checks DurationSeconds;
// the lifetime is Config.TokenLifetime when set.
func (s *Server) roleAndDuration(p url.Values) (string, time.Duration, error) {
	arn := p.Get("RoleArn")
	if arn == "" {
		return "", 0, errSTS(http.StatusBadRequest, "MissingRoleArn", "RoleArn is mandatory for this action.")
	}
	role := ""
	for _, r := range s.cfg.Roles {
		if strings.EqualFold(r, arn) {
			role = r
		}
	}
	if role == "" {
		return "", 0, errSTS(http.StatusNotFound, "EntityNotExist.Role", "The role not exists: %s.", arn)
	}
	if p.Get("RoleSessionName") == "" {
		return "", 0, errSTS(http.StatusBadRequest, "MissingRoleSessionName", "RoleSessionName is mandatory for this action.")
	}
	d := time.Hour
	if v := p.Get("DurationSeconds"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || time.Duration(n)*time.Second < minSessionDuration || time.Duration(n)*time.Second > maxSessionDuration {
			return "", 0, errSTS(http.StatusBadRequest, "InvalidParameter.DurationSeconds",
				"The Min/Max value of DurationSeconds is 15min/12hr.")
		}
		d = time.Duration(n) * time.Second
	}
	if s.cfg.TokenLifetime > 0 {
		d = s.cfg.TokenLifetime
	}
	return role, d, nil
}

// assumed issues the credentials and builds the answer.
func (s *Server) assumed(role, session string, lifetime time.Duration, oidc map[string]string) map[string]any {
	c := s.temp.issue(role, lifetime)
	out := map[string]any{
		"RequestId": newRequestID(),
		"AssumedRoleUser": map[string]string{
			"AssumedRoleId": c.AccessKeyID[len(temporaryPrefix):] + ":" + session,
			"Arn":           role + "/" + session,
		},
		"Credentials": map[string]string{
			"AccessKeyId":     c.AccessKeyID,
			"AccessKeySecret": c.AccessKeySecret,
			"SecurityToken":   c.SecurityToken,
			"Expiration":      c.Expiration.UTC().Format("2006-01-02T15:04:05Z"),
		},
	}
	if oidc != nil {
		out["OIDCTokenInfo"] = oidc
	}
	return out
}

// checkRPCSignature verifies an RPC-style signature: HMAC-SHA1, keyed with
// the secret and "&", over "POST&%2F&" and the percent-encoded, sorted
// parameters other than Signature.
func (s *Server) checkRPCSignature(p url.Values) error {
	id := p.Get("AccessKeyId")
	if id == "" {
		return errSTS(http.StatusBadRequest, "MissingAccessKeyId", "AccessKeyId is mandatory for this action.")
	}
	secret, ok := s.cfg.accessKeys()[id]
	if !ok {
		secret, ok = s.temp.secret(id)
		if ok {
			if err := s.temp.checkToken(id, p.Get("SecurityToken")); err != nil {
				return errSTS(http.StatusBadRequest, "InvalidSecurityToken.Expired", "Specified SecurityToken is expired or invalid.")
			}
		}
	}
	if !ok {
		return errSTS(http.StatusNotFound, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
	}
	keys := make([]string, 0, len(p))
	for k := range p {
		if k != "Signature" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	pairs := make([]string, len(keys))
	for i, k := range keys {
		pairs[i] = percentEncode(k) + "=" + percentEncode(p.Get(k))
	}
	toSign := "POST&" + percentEncode("/") + "&" + percentEncode(strings.Join(pairs, "&"))
	mac := hmac.New(sha1.New, []byte(secret+"&"))
	mac.Write([]byte(toSign))
	if !hmac.Equal([]byte(base64.StdEncoding.EncodeToString(mac.Sum(nil))), []byte(p.Get("Signature"))) {
		return errSTS(http.StatusBadRequest, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation.")
	}
	return nil
}

// percentEncode is RFC 3986 encoding as Alibaba Cloud's RPC signatures use
// it: unreserved characters stay, everything else is %XX.
func percentEncode(s string) string {
	e := url.QueryEscape(s)
	return strings.NewReplacer("+", "%20", "*", "%2A", "%7E", "~").Replace(e)
}
