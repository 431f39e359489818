package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/slspipe/slspipe/emulator/internal/apierr"
)

// v4 constants, as the SDKs sign them.
const (
	v4DateTimeLayout = "20060102T150405Z"
	v4Product        = "sls"
	v4Terminator     = "aliyun_v4_request"
	v4KeyPrefix      = "aliyun_v4"
	v4Algorithm      = "SLS4-HMAC-SHA256"
)

// v4Credential is the parsed v4 Authorization header.
type v4Credential struct {
	accessKeyID string
	date        string // yyyymmdd
	region      string
	signature   string // lowercase hex
}

// parseV4 parses "Credential=<ak>/<yyyymmdd>/<region>/sls/aliyun_v4_request,Signature=<hex>".
func parseV4(s string) (v4Credential, bool) {
	var c v4Credential
	var scope string
	for _, part := range strings.Split(s, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return c, false
		}
		switch k {
		case "Credential":
			scope = val
		case "Signature":
			c.signature = val
		}
	}
	fields := strings.Split(scope, "/")
	if len(fields) != 5 || fields[3] != v4Product || fields[4] != v4Terminator {
		return c, false
	}
	c.accessKeyID, c.date, c.region = fields[0], fields[1], fields[2]
	if c.accessKeyID == "" || len(c.date) != 8 || c.region == "" || c.signature == "" {
		return c, false
	}
	return c, true
}

// verifyV4 checks a "SLS4-HMAC-SHA256 …" Authorization header (the part
// after the algorithm name).
func (v *Verifier) verifyV4(r *http.Request, body []byte, header string) error {
	cred, ok := parseV4(header)
	if !ok {
		return errMalformedAuthorization()
	}
	secret, err := v.secret(cred.accessKeyID)
	if err != nil {
		return err
	}

	dateTime := r.Header.Get("x-log-date")
	if dateTime == "" {
		return apierr.New(http.StatusBadRequest, "MissingDate", "x-log-date does not exist in http header.")
	}
	t, perr := time.Parse(v4DateTimeLayout, dateTime)
	if perr != nil {
		return apierr.New(http.StatusBadRequest, "InvalidRequestTime",
			"Request time %s not follow ISO8601 spec.", dateTime)
	}
	if err := v.checkSkew(dateTime, t); err != nil {
		return err
	}
	// The scope date must be the request's date, or the signing key differs.
	if dateTime[:8] != cred.date {
		return errSignatureNotMatch(cred.signature)
	}

	payloadHash, err := checkBodyV4(r, body)
	if err != nil {
		return err
	}

	scope := cred.date + "/" + cred.region + "/" + v4Product + "/" + v4Terminator
	canonical := canonicalRequestV4(r, payloadHash)
	canonicalSum := sha256.Sum256([]byte(canonical))
	stringToSign := v4Algorithm + "\n" + dateTime + "\n" + scope + "\n" + hex.EncodeToString(canonicalSum[:])

	key := hmacSHA256([]byte(v4KeyPrefix+secret), cred.date)
	key = hmacSHA256(key, cred.region)
	key = hmacSHA256(key, v4Product)
	key = hmacSHA256(key, v4Terminator)
	want := hex.EncodeToString(hmacSHA256(key, stringToSign))
	if !equalSignature(cred.signature, want) {
		return errSignatureNotMatch(cred.signature)
	}
	return nil
}

// canonicalRequestV4 returns
//
//	METHOD \n escaped path \n canonical query \n canonical headers \n signed header names \n payload hash
//
// The canonical query takes the first value of each key, percent-encoded
// (space as %20), sorted by key, with an empty value written as the bare
// key. The signed headers are host, content-type, x-acs-* and x-log-* except
// x-log-meta-*, each written as "k:v\n".
func canonicalRequestV4(r *http.Request, payloadHash string) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteString("\n")
	b.WriteString(r.URL.EscapedPath())
	b.WriteString("\n")

	query := r.URL.Query()
	qkeys := make([]string, 0, len(query))
	for k := range query {
		qkeys = append(qkeys, k)
	}
	sort.Strings(qkeys)
	for i, k := range qkeys {
		if i > 0 {
			b.WriteString("&")
		}
		b.WriteString(k)
		if vals := query[k]; len(vals) > 0 && vals[0] != "" {
			b.WriteString("=")
			b.WriteString(strings.ReplaceAll(url.QueryEscape(vals[0]), "+", "%20"))
		}
	}
	b.WriteString("\n")

	keys, values := signedHeaders(r.Header, func(k string) bool {
		if strings.HasPrefix(k, "x-log-meta-") {
			return false
		}
		return strings.HasPrefix(k, "x-log-") || strings.HasPrefix(k, "x-acs-") || k == "content-type"
	})
	// The server sees Host as a request field, not as a header.
	if r.Host != "" {
		keys = append(keys, "host")
		values["host"] = r.Host
		sort.Strings(keys)
	}
	for _, k := range keys {
		b.WriteString(k)
		b.WriteString(":")
		b.WriteString(values[k])
		b.WriteString("\n")
	}
	b.WriteString("\n")
	b.WriteString(strings.Join(keys, ";"))
	b.WriteString("\n")
	b.WriteString(payloadHash)
	return b.String()
}

func hmacSHA256(key []byte, msg string) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(msg))
	return mac.Sum(nil)
}
