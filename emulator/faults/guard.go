package faults

import (
	"crypto/subtle"
	"fmt"
	"mime"
	"net/http"
	"strings"
)

// adminGuard is the door of the admin handler: it refuses requests a web
// page could send, requests without a token, and bodies that are not small
// JSON, before next sees them.
type adminGuard struct {
	tokens [][]byte
	next   http.Handler
}

func (g adminGuard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// First, so that no page learns even whether its guess of a token was
	// right.
	if origin := r.Header.Get("Origin"); origin != "" {
		writeAdminError(w, http.StatusForbidden, "Forbidden", "requests from web pages are refused (Origin "+origin+")")
		return
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "none" {
		writeAdminError(w, http.StatusForbidden, "Forbidden", "requests from web pages are refused (Sec-Fetch-Site "+site+")")
		return
	}
	if !g.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="slspipe emulator"`)
		writeAdminError(w, http.StatusUnauthorized, "Unauthorized",
			"the emulator's admin endpoints need \"Authorization: Bearer <access key secret>\"")
		return
	}
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		ct := r.Header.Get("Content-Type")
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			writeAdminError(w, http.StatusUnsupportedMediaType, "InvalidContentType",
				fmt.Sprintf("Content-Type %q is unsupported: send application/json", ct))
			return
		}
		if r.ContentLength > maxAdminBody {
			writeAdminError(w, http.StatusRequestEntityTooLarge, "PostBodyTooLarge",
				fmt.Sprintf("body of %d bytes exceeds %d bytes", r.ContentLength, maxAdminBody))
			return
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxAdminBody)
	g.next.ServeHTTP(w, r)
}

// authorized reports whether r carries one of the tokens, comparing each in
// constant time.
func (g adminGuard) authorized(r *http.Request) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	token = strings.TrimSpace(token)
	match := 0
	for _, t := range g.tokens {
		match |= subtle.ConstantTimeCompare([]byte(token), t)
	}
	return match == 1
}
