package auth

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"sort"
	"strings"

	"github.com/slspipe/slspipe/emulator/internal/apierr"
)

// verifyV1 checks "LOG <ak>:<signature>" (the part after "LOG ").
//
// The string to sign is
//
//	METHOD \n Content-MD5 \n Content-Type \n Date \n <canonical headers> \n <canonical resource>
//
// where the canonical headers are every x-log-* and x-acs-* header,
// lowercased, value-trimmed and sorted, as "k:v" lines, and the canonical
// resource is the escaped path plus, when the query is not empty, "?" and
// the decoded "k=v" pairs sorted by key and joined by "&".
func (v *Verifier) verifyV1(r *http.Request, body []byte, credential string) error {
	accessKeyID, sent, ok := strings.Cut(credential, ":")
	accessKeyID = strings.TrimSpace(accessKeyID)
	if !ok || accessKeyID == "" || sent == "" {
		return errMalformedAuthorization()
	}
	secret, err := v.secret(accessKeyID)
	if err != nil {
		return err
	}

	date := r.Header.Get("Date")
	if date == "" {
		return apierr.New(http.StatusBadRequest, "MissingDate", "Date does not exist in http header.")
	}
	t, perr := http.ParseTime(date)
	if perr != nil {
		return apierr.New(http.StatusBadRequest, "InvalidRequestTime",
			"Request time %s not follow RFC822 spec.", date)
	}
	if err := v.checkSkew(date, t); err != nil {
		return err
	}
	if err := checkBodyV1(r, body); err != nil {
		return err
	}

	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(stringToSignV1(r)))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if !equalSignature(sent, want) {
		return errSignatureNotMatch(sent)
	}
	return nil
}

// stringToSignV1 returns the v1 string to sign of r.
func stringToSignV1(r *http.Request) string {
	var w strings.Builder
	w.WriteString(r.Method)
	w.WriteString("\n")
	w.WriteString(r.Header.Get("Content-MD5"))
	w.WriteString("\n")
	w.WriteString(r.Header.Get("Content-Type"))
	w.WriteString("\n")
	w.WriteString(r.Header.Get("Date"))
	w.WriteString("\n")

	keys, values := signedHeaders(r.Header, func(k string) bool {
		return strings.HasPrefix(k, "x-log-") || strings.HasPrefix(k, "x-acs-")
	})
	for i, k := range keys {
		if i > 0 {
			w.WriteString("\n")
		}
		w.WriteString(k)
		w.WriteString(":")
		w.WriteString(strings.TrimSpace(values[k]))
	}
	w.WriteString("\n")

	w.WriteString(r.URL.EscapedPath())
	if r.URL.RawQuery == "" {
		return w.String()
	}
	query := r.URL.Query()
	qkeys := make([]string, 0, len(query))
	for k := range query {
		qkeys = append(qkeys, k)
	}
	sort.Strings(qkeys)
	w.WriteString("?")
	for i, k := range qkeys {
		if i > 0 {
			w.WriteString("&")
		}
		// Repeated keys are concatenated without a separator, as the Go
		// SDK signs them.
		for _, val := range query[k] {
			w.WriteString(k)
			w.WriteString("=")
			w.WriteString(val)
		}
	}
	return w.String()
}

// signedHeaders returns the sorted lowercase names of the headers of h that
// include selects, and their values (repeated headers joined by ",").
func signedHeaders(h http.Header, include func(lower string) bool) ([]string, map[string]string) {
	var keys []string
	values := make(map[string]string)
	for k, vals := range h {
		l := strings.ToLower(k)
		if !include(l) {
			continue
		}
		if _, seen := values[l]; !seen {
			keys = append(keys, l)
		}
		values[l] = strings.Join(vals, ",")
	}
	sort.Strings(keys)
	return keys, values
}
