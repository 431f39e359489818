// Package redact hides credentials in what slspipe prints: the user
// information of URLs (user:password@ or token@), in errors, logs,
// validate's output and the dev command's messages.
package redact

import "strings"

// Placeholder replaces what is hidden. The configuration's secret fields
// print the same text.
const Placeholder = "<redacted>"

// URL returns u with its user information replaced by Placeholder:
// "nats://bob:pw@host:4222" becomes "nats://<redacted>@host:4222". The
// scheme, host and port stay, so a message still says which server it is
// about.
//
// # Notes
//
//   - u need not parse as a URL: a password holding an unescaped '/', '?'
//     or '@' is still hidden, because everything between the scheme and the
//     last '@' is replaced. That errs towards hiding too much (an '@' in a
//     path) rather than printing part of a password.
//   - A string without '@' is returned unchanged.
func URL(u string) string {
	at := strings.LastIndexByte(u, '@')
	if at < 0 {
		return u
	}
	start := 0
	if i := strings.Index(u, "://"); i >= 0 && i < at {
		start = i + len("://")
	}
	// Leading spaces of a list item stay where they were.
	for start < at && u[start] == ' ' {
		start++
	}
	return u[:start] + Placeholder + u[at:]
}

// URLs applies URL to every item of a comma-separated list of URLs, the
// form of a NATS server list.
func URLs(list string) string {
	if !strings.Contains(list, "@") {
		return list
	}
	parts := strings.Split(list, ",")
	for i, p := range parts {
		parts[i] = URL(p)
	}
	return strings.Join(parts, ",")
}
