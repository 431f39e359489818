package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/slspipe/slspipe/internal/redact"
)

// formatDocs describes each format for the reference documentation.
var formatDocs = map[string]string{
	"name":     "lowercase letters, digits, `-` and `_`, starting with a letter or digit",
	"project":  "an SLS project name: 3–63 lowercase letters, digits and `-`, starting and ending with a letter or digit",
	"logstore": "an SLS logstore name: 2–63 lowercase letters, digits, `-` and `_`, starting and ending with a letter or digit",
	"endpoint": "`http://host[:port]`, `https://host[:port]`, or a bare host (https is assumed)",
	"nats-url": "one or more comma-separated `nats://`, `tls://`, `ws://` or `wss://` URLs",
	"subject":  "a NATS subject; `{{field}}` is replaced by that record field",
	"module":   "a `.wasm` file, relative to the pipeline file's directory; it must exist",
	"path":     "a file path, relative to the pipeline file's directory",
	"listen":   "`host:port`",
	"hashkey":  "1–32 hexadecimal digits",
	"group":    "a consumer group name: 2–63 lowercase letters, digits, `-` and `_`, starting and ending with a letter or digit",
	"stream":   "a JetStream name: no spaces, `.`, `*`, `>`, `/` or `\\`",
	"envname":  "an environment variable name",
}

var (
	nameRe     = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	projectRe  = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)
	logstoreRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,61}[a-z0-9]$`)
	hashKeyRe  = regexp.MustCompile(`^[0-9a-fA-F]{1,32}$`)
	streamRe   = regexp.MustCompile(`^[^\s.*>/\\]+$`)
)

// format checks text against a named syntax, reporting at n. Formats that
// normalise (endpoints, paths) store the result in v.
func (d *decoder) format(n *yaml.Node, format, text, path string, v reflect.Value) {
	if text == "" {
		return // emptiness is for required/check rules to judge
	}
	bad := func(want string) { d.errorf(n, "%sexpected %s, got %q", prefix(path), want, redact.URLs(text)) }
	switch format {
	case "name":
		if !nameRe.MatchString(text) {
			bad("a name of lowercase letters, digits, - and _ starting with a letter or digit")
		}
	case "project":
		if !projectRe.MatchString(text) {
			bad("an SLS project name (3-63 lowercase letters, digits and -)")
		}
	case "logstore":
		if !logstoreRe.MatchString(text) {
			bad("an SLS logstore name (2-63 lowercase letters, digits, - and _)")
		}
	case "group":
		if !logstoreRe.MatchString(text) {
			bad("a consumer group name (2-63 lowercase letters, digits, - and _)")
		}
	case "stream":
		if !streamRe.MatchString(text) {
			bad(`a JetStream name without spaces, ".", "*", ">", "/" or "\"`)
		}
	case "hashkey":
		if !hashKeyRe.MatchString(text) {
			bad("1 to 32 hexadecimal digits")
		}
	case "envname":
		if !validVarName(text) {
			bad("an environment variable name")
		}
	case "endpoint":
		norm, err := normalizeEndpoint(text)
		if err != nil {
			d.errorf(n, "%s%v", prefix(path), err)
			return
		}
		v.SetString(norm)
	case "nats-url":
		for _, u := range strings.Split(text, ",") {
			pu, err := url.Parse(strings.TrimSpace(u))
			if err != nil || pu.Host == "" || !contains([]string{"nats", "tls", "ws", "wss"}, pu.Scheme) {
				bad("a nats://host:port URL (or tls://, ws://, wss://)")
				return
			}
		}
	case "subject":
		if err := checkSubject(text); err != nil {
			d.errorf(n, "%s%v", prefix(path), err)
		}
	case "listen":
		host, port, err := net.SplitHostPort(text)
		if p, perr := strconv.Atoi(port); err != nil || perr != nil || p < 0 || p > 65535 {
			bad(`host:port such as 127.0.0.1:9464 (or "" to disable)`)
		}
		_ = host
	case "path", "module":
		abs := text
		if !filepath.IsAbs(abs) {
			abs = filepath.Join(d.baseDir, abs)
		}
		v.SetString(abs)
		if format != "module" {
			return
		}
		info, err := os.Stat(abs)
		switch {
		case err != nil && os.IsNotExist(err):
			d.errorf(n, "%smodule file %s does not exist", prefix(path), text)
		case err != nil:
			d.errorf(n, "%smodule file %s: %v", prefix(path), text, err)
		case info.IsDir():
			d.errorf(n, "%smodule file %s is a directory", prefix(path), text)
		}
	default:
		panic("config: unknown format " + format)
	}
}

func normalizeEndpoint(s string) (string, error) {
	raw := s
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		if u != nil && u.User != nil {
			return "", fmt.Errorf("expected an endpoint such as https://cn-hangzhou.log.aliyuncs.com or http://127.0.0.1:9100, got %q: an endpoint takes no user information (credentials go in access_key_id and access_key_secret)", redact.URL(raw))
		}
		return "", fmt.Errorf("expected an endpoint such as https://cn-hangzhou.log.aliyuncs.com or http://127.0.0.1:9100, got %q", redact.URL(raw))
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("endpoint %q has an invalid port", redact.URL(raw))
		}
	}
	return u.Scheme + "://" + u.Host, nil
}

// checkSubject validates a publish subject template: dot-separated tokens,
// no wildcards or whitespace, {{field}} placeholders well formed.
func checkSubject(t string) error {
	rest := t
	var plain strings.Builder
	for {
		i := strings.Index(rest, "{{")
		j := strings.Index(rest, "}}")
		if i < 0 {
			if j >= 0 {
				return fmt.Errorf("subject %q has }} without {{", t)
			}
			plain.WriteString(rest)
			break
		}
		end := strings.Index(rest[i+2:], "}}")
		if end < 0 || (j >= 0 && j < i) {
			return fmt.Errorf("subject %q has an unclosed {{", t)
		}
		field := strings.TrimSpace(rest[i+2 : i+2+end])
		if field == "" || strings.ContainsAny(field, "{} ") {
			return fmt.Errorf("subject %q has an empty or malformed {{field}}", t)
		}
		plain.WriteString(rest[:i])
		plain.WriteString("x")
		rest = rest[i+2+end+2:]
	}
	for _, tok := range strings.Split(plain.String(), ".") {
		switch {
		case tok == "":
			return fmt.Errorf("subject %q has an empty token (leading, trailing or double dot)", t)
		case tok == "*" || tok == ">":
			return fmt.Errorf("subject %q contains a wildcard; publish subjects must be literal", t)
		case strings.ContainsAny(tok, " \t\r\n"):
			return fmt.Errorf("subject %q contains whitespace", t)
		}
	}
	return nil
}
