package spl_test

import (
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/slspipe/slspipe/spl"
)

// The table test runs each statement on sampleRows and compares the rows
// kept, their fields and values with a reference written here by hand in
// plain Go, independently of the package's evaluator.

type rec = []spl.Field

// sampleRows cover numbers held as strings, non-numeric values, missing
// fields, empty values, JSON, CSV and access-log lines.
func sampleRows() []spl.Row {
	return []spl.Row{
		{Time: 1700000000, Topic: "nginx", Source: "10.0.0.1", Tags: []spl.Field{{Key: "host", Value: "web-1"}}, Fields: rec{
			{Key: "status", Value: "200"}, {Key: "uri", Value: "/api/users"}, {Key: "method", Value: "GET"},
			{Key: "bytes", Value: "512"}, {Key: "rt", Value: "0.012"}, {Key: "level", Value: "INFO"},
			{Key: "body", Value: `{"user":"ann","id":7,"ok":true,"tags":["a","b"],"meta":{"zone":"eu"},"none":null}`},
			{Key: "csv", Value: `a,"b,c",d`}, {Key: "line", Value: "10.0.0.1 GET /api/users 200"},
		}},
		{Time: 1700000001, Topic: "nginx", Source: "10.0.0.2", Tags: []spl.Field{{Key: "host", Value: "web-2"}}, Fields: rec{
			{Key: "status", Value: "500"}, {Key: "uri", Value: "/api/orders?id=42&x=1"}, {Key: "method", Value: "POST"},
			{Key: "bytes", Value: "20480"}, {Key: "rt", Value: "1.5"}, {Key: "level", Value: "ERROR"},
			{Key: "body", Value: `{"user":"bob","id":8,"err":"timeout"}`},
			{Key: "csv", Value: `x|y|z`}, {Key: "line", Value: "10.0.0.2 POST /api/orders 500"},
		}},
		{Time: 1700000002, Topic: "app", Source: "10.0.0.3", Fields: rec{
			{Key: "status", Value: "404"}, {Key: "uri", Value: "/static/a.css"}, {Key: "method", Value: "GET"},
			{Key: "bytes", Value: "-"}, {Key: "level", Value: "WARN"}, {Key: "body", Value: "not json"},
			{Key: "line", Value: "garbage"},
		}},
		{Time: 1700000003, Topic: "app", Source: "10.0.0.4", Fields: rec{
			{Key: "status", Value: "503"}, {Key: "uri", Value: "/API/Health"}, {Key: "bytes", Value: "0"},
			{Key: "rt", Value: "abc"}, {Key: "level", Value: "error"}, {Key: "empty", Value: ""},
		}},
		{Time: 1700000004, Topic: "", Source: "10.0.0.5", Fields: rec{
			{Key: "uri", Value: "/"}, {Key: "method", Value: "DELETE"}, {Key: "bytes", Value: "99999999999"},
			{Key: "rt", Value: "2e1"}, {Key: "a:b", Value: "colon"},
		}},
	}
}

// Reference helpers, independent of the package.
func val(r rec, k string) (string, bool) {
	for _, f := range r {
		if f.Key == k {
			return f.Value, true
		}
	}
	return "", false
}

func with(r rec, k, v string) rec {
	out := append(rec(nil), r...)
	for i := range out {
		if out[i].Key == k {
			out[i].Value = v
			return out
		}
	}
	return append(out, spl.Field{Key: k, Value: v})
}

func without(r rec, keys ...string) rec {
	var out rec
	for _, f := range r {
		drop := false
		for _, k := range keys {
			drop = drop || f.Key == k
		}
		if !drop {
			out = append(out, f)
		}
	}
	return out
}

func only(r rec, keys ...string) rec {
	var out rec
	for _, f := range r {
		for _, k := range keys {
			if f.Key == k {
				out = append(out, f)
				break
			}
		}
	}
	return out
}

func num(r rec, k string) (int64, bool) {
	v, ok := val(r, k)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}

// outcome is what the reference expects for one row.
type outcome struct {
	keep bool
	fail bool
	out  rec
}

func keep(r rec) outcome { return outcome{keep: true, out: r} }

var dropped = outcome{}
var failed = outcome{fail: true}

// keepIf keeps r unchanged when cond holds.
func keepIf(r rec, cond bool) outcome {
	if cond {
		return keep(r)
	}
	return dropped
}

type tableCase struct {
	stmt string
	ref  func(row spl.Row) outcome
}

func tableCases() []tableCase {
	return []tableCase{
		// where: string comparisons.
		{`*`, func(r spl.Row) outcome { return keep(r.Fields) }},
		{`* | where status = '200'`, func(r spl.Row) outcome { v, _ := val(r.Fields, "status"); return keepIf(r.Fields, v == "200") }},
		{`* | where status != '200'`, func(r spl.Row) outcome {
			v, ok := val(r.Fields, "status")
			return keepIf(r.Fields, ok && v != "200") // null is not != '200'
		}},
		{`* | where status <> '200'`, func(r spl.Row) outcome { v, ok := val(r.Fields, "status"); return keepIf(r.Fields, ok && v != "200") }},
		{`* | where status >= '500'`, func(r spl.Row) outcome { v, ok := val(r.Fields, "status"); return keepIf(r.Fields, ok && v >= "500") }},
		{`* | where bytes > '5'`, func(r spl.Row) outcome { // byte-wise: '512' > '5', '99999999999' > '5', '20480' < '5'
			v, ok := val(r.Fields, "bytes")
			return keepIf(r.Fields, ok && v > "5")
		}},
		{`* | where level = 'ERROR'`, func(r spl.Row) outcome { v, _ := val(r.Fields, "level"); return keepIf(r.Fields, v == "ERROR") }},
		{`* | where lower(level) = 'error'`, func(r spl.Row) outcome {
			v, _ := val(r.Fields, "level")
			return keepIf(r.Fields, strings.ToLower(v) == "error")
		}},
		{`* | where missing = 'x'`, func(r spl.Row) outcome { return dropped }},
		{`* | where missing is null`, func(r spl.Row) outcome { return keep(r.Fields) }},
		{`* | where rt is not null`, func(r spl.Row) outcome { _, ok := val(r.Fields, "rt"); return keepIf(r.Fields, ok) }},
		{`* | where empty = ''`, func(r spl.Row) outcome { v, ok := val(r.Fields, "empty"); return keepIf(r.Fields, ok && v == "") }},
		{`* | where not (status = '200')`, func(r spl.Row) outcome { v, ok := val(r.Fields, "status"); return keepIf(r.Fields, ok && v != "200") }},
		{`* | where status = '200' or method = 'DELETE'`, func(r spl.Row) outcome {
			s, _ := val(r.Fields, "status")
			m, _ := val(r.Fields, "method")
			return keepIf(r.Fields, s == "200" || m == "DELETE")
		}},
		{`* | where status = '500' and method = 'POST'`, func(r spl.Row) outcome {
			s, _ := val(r.Fields, "status")
			m, _ := val(r.Fields, "method")
			return keepIf(r.Fields, s == "500" && m == "POST")
		}},
		{`* | where missing = 'x' or status = '404'`, func(r spl.Row) outcome { // null or true is true
			s, _ := val(r.Fields, "status")
			return keepIf(r.Fields, s == "404")
		}},
		{`* | where not (missing = 'x')`, func(r spl.Row) outcome { return dropped }}, // not null is null
		{`* | where status in ('200', '404')`, func(r spl.Row) outcome {
			s, _ := val(r.Fields, "status")
			return keepIf(r.Fields, s == "200" || s == "404")
		}},
		{`* | where status not in ('200', '404')`, func(r spl.Row) outcome {
			s, ok := val(r.Fields, "status")
			return keepIf(r.Fields, ok && s != "200" && s != "404")
		}},
		{`* | where status between '400' and '500'`, func(r spl.Row) outcome {
			s, ok := val(r.Fields, "status")
			return keepIf(r.Fields, ok && s >= "400" && s <= "500")
		}},
		// like and regexp_like.
		{`* | where uri like '/api/%'`, func(r spl.Row) outcome {
			u, _ := val(r.Fields, "uri")
			return keepIf(r.Fields, strings.HasPrefix(u, "/api/"))
		}},
		{`* | where uri not like '/api/%'`, func(r spl.Row) outcome {
			u, ok := val(r.Fields, "uri")
			return keepIf(r.Fields, ok && !strings.HasPrefix(u, "/api/"))
		}},
		{`* | where uri like '%.css'`, func(r spl.Row) outcome {
			u, _ := val(r.Fields, "uri")
			return keepIf(r.Fields, strings.HasSuffix(u, ".css"))
		}},
		{`* | where method like 'G_T'`, func(r spl.Row) outcome {
			m, _ := val(r.Fields, "method")
			return keepIf(r.Fields, len(m) == 3 && m[0] == 'G' && m[2] == 'T')
		}},
		{`* | where uri like '/api/%' escape '!'`, func(r spl.Row) outcome {
			u, _ := val(r.Fields, "uri")
			return keepIf(r.Fields, strings.HasPrefix(u, "/api/"))
		}},
		{`* | where regexp_like(uri, '^/api/[a-z]+$')`, func(r spl.Row) outcome {
			u, _ := val(r.Fields, "uri")
			return keepIf(r.Fields, u == "/api/users")
		}},
		{`* | where regexp_like(uri, '(?i)^/api')`, func(r spl.Row) outcome {
			u, _ := val(r.Fields, "uri")
			return keepIf(r.Fields, strings.HasPrefix(strings.ToLower(u), "/api"))
		}},
		// Numeric comparisons through casts; failures and try_cast.
		{`* | where cast(status as bigint) >= 500`, func(r spl.Row) outcome {
			if _, ok := val(r.Fields, "status"); !ok {
				return dropped // cast(null) is null
			}
			n, _ := num(r.Fields, "status")
			return keepIf(r.Fields, n >= 500)
		}},
		{`* | where cast(status as bigint) between 400 and 499`, func(r spl.Row) outcome {
			n, ok := num(r.Fields, "status")
			return keepIf(r.Fields, ok && n >= 400 && n <= 499)
		}},
		{`* | where cast(bytes as bigint) > 1000`, func(r spl.Row) outcome {
			v, ok := val(r.Fields, "bytes")
			if !ok {
				return dropped
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return failed // '-' does not cast
			}
			return keepIf(r.Fields, n > 1000)
		}},
		{`* | where try_cast(bytes as bigint) > 1000`, func(r spl.Row) outcome {
			n, ok := num(r.Fields, "bytes")
			return keepIf(r.Fields, ok && n > 1000)
		}},
		{`* | where try_cast(rt as double) > 1`, func(r spl.Row) outcome {
			v, _ := val(r.Fields, "rt")
			f, err := strconv.ParseFloat(v, 64)
			return keepIf(r.Fields, err == nil && f > 1)
		}},
		{`* | where try_cast(rt as double) * 1000 >= 12`, func(r spl.Row) outcome {
			v, _ := val(r.Fields, "rt")
			f, err := strconv.ParseFloat(v, 64)
			return keepIf(r.Fields, err == nil && f*1000 >= 12)
		}},
		{`* | where try_cast(bytes as bigint) % 2 = 0`, func(r spl.Row) outcome {
			n, ok := num(r.Fields, "bytes")
			return keepIf(r.Fields, ok && n%2 == 0)
		}},
		{`* | where try_cast(bytes as bigint) / 0 > 1`, func(r spl.Row) outcome {
			if _, ok := num(r.Fields, "bytes"); ok {
				return failed
			}
			return dropped
		}},
		{`* | where cast(status as double) = 200`, func(r spl.Row) outcome { n, ok := num(r.Fields, "status"); return keepIf(r.Fields, ok && n == 200) }},
		{`* | where length(uri) > 10`, func(r spl.Row) outcome { u, _ := val(r.Fields, "uri"); return keepIf(r.Fields, len(u) > 10) }},
		{`* | where strpos(uri, 'api') = 2`, func(r spl.Row) outcome {
			u, _ := val(r.Fields, "uri")
			return keepIf(r.Fields, strings.Index(u, "api") == 1)
		}},
		{`* | where starts_with(uri, '/static')`, func(r spl.Row) outcome {
			u, _ := val(r.Fields, "uri")
			return keepIf(r.Fields, strings.HasPrefix(u, "/static"))
		}},
		{`* | where coalesce(method, 'NONE') = 'NONE'`, func(r spl.Row) outcome { _, ok := val(r.Fields, "method"); return keepIf(r.Fields, !ok) }},
		{`* | where "a:b" = 'colon'`, func(r spl.Row) outcome { v, _ := val(r.Fields, "a:b"); return keepIf(r.Fields, v == "colon") }},
		// Attributes of the log group and the time.
		{`* | where __topic__ = 'nginx'`, func(r spl.Row) outcome { return keepIf(r.Fields, r.Topic == "nginx") }},
		{`* | where "__tag__:host" = 'web-2'`, func(r spl.Row) outcome {
			h := ""
			for _, t := range r.Tags {
				if t.Key == "host" {
					h = t.Value
				}
			}
			return keepIf(r.Fields, h == "web-2")
		}},
		{`* | where __source__ like '10.0.0.%' and __time__ >= 1700000003`, func(r spl.Row) outcome {
			return keepIf(r.Fields, r.Time >= 1700000003)
		}},
		// extend: values, types, null removes, simultaneous evaluation.
		{`* | extend kind = 'web'`, func(r spl.Row) outcome { return keep(with(r.Fields, "kind", "web")) }},
		{`* | extend status = '0'`, func(r spl.Row) outcome { return keep(with(r.Fields, "status", "0")) }},
		{`* | extend n = try_cast(bytes as bigint) * 2`, func(r spl.Row) outcome {
			if n, ok := num(r.Fields, "bytes"); ok {
				return keep(with(r.Fields, "n", strconv.FormatInt(n*2, 10)))
			}
			return keep(r.Fields)
		}},
		{`* | extend ms = try_cast(rt as double) * 1000`, func(r spl.Row) outcome {
			v, _ := val(r.Fields, "rt")
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return keep(r.Fields)
			}
			s := strconv.FormatFloat(f*1000, 'f', -1, 64)
			if !strings.Contains(s, ".") {
				s += ".0"
			}
			return keep(with(r.Fields, "ms", s))
		}},
		{`* | extend ok = status = '200'`, func(r spl.Row) outcome {
			s, has := val(r.Fields, "status")
			if !has {
				return keep(r.Fields)
			}
			return keep(with(r.Fields, "ok", strconv.FormatBool(s == "200")))
		}},
		{`* | extend level = nullif(level, 'INFO')`, func(r spl.Row) outcome {
			if v, _ := val(r.Fields, "level"); v == "INFO" {
				return keep(without(r.Fields, "level"))
			}
			return keep(r.Fields)
		}},
		{`* | extend a = status, status = uri`, func(r spl.Row) outcome { // both read the input row
			out := r.Fields
			s, sok := val(r.Fields, "status")
			u, uok := val(r.Fields, "uri")
			if sok {
				out = with(out, "a", s)
			}
			if uok {
				out = with(out, "status", u)
			} else {
				out = without(out, "status")
			}
			return keep(out)
		}},
		{`* | extend m = lower(method) || ':' || uri`, func(r spl.Row) outcome {
			m, mok := val(r.Fields, "method")
			u, uok := val(r.Fields, "uri")
			if !mok || !uok {
				return keep(r.Fields)
			}
			return keep(with(r.Fields, "m", strings.ToLower(m)+":"+u))
		}},
		{`* | extend c = concat(method, '-', status)`, func(r spl.Row) outcome {
			m, mok := val(r.Fields, "method")
			s, sok := val(r.Fields, "status")
			if !mok || !sok {
				return keep(r.Fields)
			}
			return keep(with(r.Fields, "c", m+"-"+s))
		}},
		{`* | extend s = substr(uri, 2, 3)`, func(r spl.Row) outcome {
			u, _ := val(r.Fields, "uri")
			s := ""
			if len(u) >= 2 {
				s = u[1:min(len(u), 4)]
			}
			return keep(with(r.Fields, "s", s))
		}},
		{`* | extend p = split_part(uri, '/', 2)`, func(r spl.Row) outcome {
			u, _ := val(r.Fields, "uri")
			parts := strings.Split(u, "/")
			if len(parts) < 2 {
				return keep(r.Fields)
			}
			return keep(with(r.Fields, "p", parts[1]))
		}},
		{`* | extend q = url_extract_parameter(uri, 'id')`, func(r spl.Row) outcome {
			if u, _ := val(r.Fields, "uri"); strings.Contains(u, "id=42") {
				return keep(with(r.Fields, "q", "42"))
			}
			return keep(r.Fields)
		}},
		{`* | extend path = url_extract_path(uri)`, func(r spl.Row) outcome {
			u, _ := val(r.Fields, "uri")
			p, _, _ := strings.Cut(u, "?")
			return keep(with(r.Fields, "path", p))
		}},
		{`* | extend r = regexp_replace(uri, '[0-9]+', 'N')`, func(r spl.Row) outcome {
			u, _ := val(r.Fields, "uri")
			return keep(with(r.Fields, "r", regexp.MustCompile(`[0-9]+`).ReplaceAllString(u, "N")))
		}},
		{`* | extend ip = regexp_extract(line, '^(\d+\.\d+\.\d+\.\d+) ', 1)`, func(r spl.Row) outcome {
			l, _ := val(r.Fields, "line")
			if ip, _, ok := strings.Cut(l, " "); ok && strings.Count(ip, ".") == 3 {
				return keep(with(r.Fields, "ip", ip))
			}
			return keep(r.Fields)
		}},
		{`* | extend user = json_extract_scalar(body, '$.user'), zone = json_extract_scalar(body, '$.meta.zone')`, func(r spl.Row) outcome {
			out := r.Fields
			switch b, _ := val(r.Fields, "body"); {
			case strings.Contains(b, `"ann"`):
				out = with(with(out, "user", "ann"), "zone", "eu")
			case strings.Contains(b, `"bob"`):
				out = with(out, "user", "bob")
			}
			return keep(out)
		}},
		{`* | extend t = json_extract(body, '$.tags')`, func(r spl.Row) outcome {
			if b, _ := val(r.Fields, "body"); strings.Contains(b, `"tags"`) {
				return keep(with(r.Fields, "t", `["a","b"]`))
			}
			return keep(r.Fields)
		}},
		{`* | extend cls = case when cast(coalesce(status, '0') as bigint) >= 500 then 'server' when status like '4%' then 'client' else 'ok' end`, func(r spl.Row) outcome {
			s, _ := val(r.Fields, "status")
			n, _ := strconv.Atoi(s)
			cls := "ok"
			switch {
			case n >= 500:
				cls = "server"
			case strings.HasPrefix(s, "4"):
				cls = "client"
			}
			return keep(with(r.Fields, "cls", cls))
		}},
		{`* | extend big = if(try_cast(bytes as bigint) > 10000, 'yes', 'no')`, func(r spl.Row) outcome {
			n, ok := num(r.Fields, "bytes")
			return keep(with(r.Fields, "big", map[bool]string{true: "yes", false: "no"}[ok && n > 10000]))
		}},
		{`* | extend r2 = round(try_cast(rt as double), 1), a = abs(-3), f = floor(2.7)`, func(r spl.Row) outcome {
			out := r.Fields
			v, _ := val(r.Fields, "rt")
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				s := strconv.FormatFloat(math.Round(f*10)/10, 'f', -1, 64)
				if !strings.Contains(s, ".") {
					s += ".0"
				}
				out = with(out, "r2", s)
			}
			return keep(with(with(out, "a", "3"), "f", "2.0"))
		}},
		{`* | extend __time__ = __time__ + 60`, func(r spl.Row) outcome { return keep(r.Fields) }}, // time checked separately
		{`* | extend n = cast(bytes as bigint)`, func(r spl.Row) outcome {
			v, ok := val(r.Fields, "bytes")
			if !ok {
				return keep(r.Fields)
			}
			if _, err := strconv.ParseInt(v, 10, 64); err != nil {
				return failed
			}
			return keep(with(r.Fields, "n", v))
		}},
		// project, project-away, project-rename.
		{`* | project status, uri`, func(r spl.Row) outcome { return keep(only(r.Fields, "status", "uri")) }},
		{`* | project uri`, func(r spl.Row) outcome { return keep(only(r.Fields, "uri")) }},
		{`* | project missing`, func(r spl.Row) outcome { return keep(nil) }},
		{`* | project code = status, uri`, func(r spl.Row) outcome {
			out := only(r.Fields, "uri")
			if s, ok := val(r.Fields, "status"); ok {
				out = append(out, spl.Field{Key: "code", Value: s})
			}
			return keep(out)
		}},
		{`* | project -wildcard "b*"`, func(r spl.Row) outcome {
			var out rec
			for _, f := range r.Fields {
				if strings.HasPrefix(f.Key, "b") {
					out = append(out, f)
				}
			}
			return keep(out)
		}},
		{`* | project-away body, csv, line`, func(r spl.Row) outcome { return keep(without(r.Fields, "body", "csv", "line")) }},
		{`* | project-away -wildcard "*e*"`, func(r spl.Row) outcome {
			var out rec
			for _, f := range r.Fields {
				if !strings.Contains(f.Key, "e") {
					out = append(out, f)
				}
			}
			return keep(out)
		}},
		{`* | project-rename code = status, verb = method`, func(r spl.Row) outcome {
			out := append(rec(nil), r.Fields...)
			for i := range out {
				switch out[i].Key {
				case "status":
					out[i].Key = "code"
				case "method":
					out[i].Key = "verb"
				}
			}
			return keep(out)
		}},
		{`* | project-rename uri = status`, func(r spl.Row) outcome { // the old uri is replaced
			if _, ok := val(r.Fields, "status"); !ok {
				return keep(r.Fields)
			}
			var out rec
			for _, f := range r.Fields {
				switch f.Key {
				case "uri":
				case "status":
					out = append(out, spl.Field{Key: "uri", Value: f.Value})
				default:
					out = append(out, f)
				}
			}
			return keep(out)
		}},
		// parse-regexp, parse-json, parse-csv.
		{`* | parse-regexp line, '^(\S+) (\S+) (\S+) (\d+)$' as ip, verb, path, code`, func(r spl.Row) outcome {
			l, ok := val(r.Fields, "line")
			parts := strings.Split(l, " ")
			if !ok || len(parts) != 4 {
				return keep(r.Fields)
			}
			return keep(with(with(with(with(r.Fields, "ip", parts[0]), "verb", parts[1]), "path", parts[2]), "code", parts[3]))
		}},
		{`* | parse-regexp line, '(?P<addr>[\d.]+) (?P<verb>[A-Z]+)'`, func(r spl.Row) outcome {
			l, ok := val(r.Fields, "line")
			parts := strings.Split(l, " ")
			if !ok || len(parts) < 2 {
				return keep(r.Fields)
			}
			return keep(with(with(r.Fields, "addr", parts[0]), "verb", parts[1]))
		}},
		{`* | parse-regexp line, '\S+ (\S+)' as method`, func(r spl.Row) outcome { // overwrites method
			l, _ := val(r.Fields, "line")
			parts := strings.Split(l, " ")
			if len(parts) < 2 {
				return keep(r.Fields)
			}
			return keep(with(r.Fields, "method", parts[1]))
		}},
		{`* | parse-json body`, func(r spl.Row) outcome {
			switch b, _ := val(r.Fields, "body"); {
			case strings.Contains(b, `"ann"`):
				return keep(with(with(with(with(with(r.Fields, "user", "ann"), "id", "7"), "ok", "true"), "tags", `["a","b"]`), "meta", `{"zone":"eu"}`))
			case strings.Contains(b, `"bob"`):
				return keep(with(with(with(r.Fields, "user", "bob"), "id", "8"), "err", "timeout"))
			}
			return keep(r.Fields)
		}},
		{`* | parse-json -prefix='j_' -path='$.meta' body`, func(r spl.Row) outcome {
			if b, _ := val(r.Fields, "body"); strings.Contains(b, `"meta"`) {
				return keep(with(r.Fields, "j_zone", "eu"))
			}
			return keep(r.Fields)
		}},
		{`* | parse-csv csv as c1, c2, c3`, func(r spl.Row) outcome {
			switch c, _ := val(r.Fields, "csv"); c {
			case `a,"b,c",d`:
				return keep(with(with(with(r.Fields, "c1", "a"), "c2", "b,c"), "c3", "d"))
			case `x|y|z`:
				return keep(with(r.Fields, "c1", "x|y|z"))
			}
			return keep(r.Fields)
		}},
		{`* | parse-csv -delim='|' csv as c1, c2, c3`, func(r spl.Row) outcome {
			switch c, _ := val(r.Fields, "csv"); c {
			case `a,"b,c",d`:
				return keep(with(r.Fields, "c1", c))
			case `x|y|z`:
				return keep(with(with(with(r.Fields, "c1", "x"), "c2", "y"), "c3", "z"))
			}
			return keep(r.Fields)
		}},
		{`* | parse-csv -strict csv as c1, c2`, func(r spl.Row) outcome { // 3 and 1 values: neither matches
			return keep(r.Fields)
		}},
		// Pipelines of several instructions.
		{`* | where cast(status as bigint) >= 500 | project time_local, uri, status`, func(r spl.Row) outcome {
			n, ok := num(r.Fields, "status")
			if !ok || n < 500 {
				return dropped
			}
			return keep(only(r.Fields, "uri", "status"))
		}},
		{`* | parse-regexp line, '^\S+ (\S+)' as verb | where verb = 'POST' | project-away line, body, csv`, func(r spl.Row) outcome {
			l, _ := val(r.Fields, "line")
			parts := strings.Split(l, " ")
			if len(parts) < 2 || parts[1] != "POST" {
				return dropped
			}
			return keep(without(with(r.Fields, "verb", "POST"), "line", "body", "csv"))
		}},
		{`* | extend kb = try_cast(bytes as bigint) / 1024 | where kb >= 1 | project kb, uri;`, func(r spl.Row) outcome {
			n, ok := num(r.Fields, "bytes")
			if !ok || n/1024 < 1 {
				return dropped
			}
			return keep(append(only(r.Fields, "uri"), spl.Field{Key: "kb", Value: strconv.FormatInt(n/1024, 10)}))
		}},
		{`* | project-rename s = status | where s = '404' | extend s = upper(method)`, func(r spl.Row) outcome {
			if v, _ := val(r.Fields, "status"); v != "404" {
				return dropped
			}
			out := append(rec(nil), r.Fields...)
			for i := range out {
				if out[i].Key == "status" {
					out[i] = spl.Field{Key: "s", Value: "GET"}
				}
			}
			return keep(out)
		}},
		{"* -- all of it\n| where level in ('ERROR', 'error')\n| project level", func(r spl.Row) outcome {
			l, _ := val(r.Fields, "level")
			if l != "ERROR" && l != "error" {
				return dropped
			}
			return keep(only(r.Fields, "level"))
		}},
	}
}

func TestStatementsAgainstReference(t *testing.T) {
	cases := tableCases()
	if len(cases) < 60 {
		t.Fatalf("the table has %d statements; it must keep at least 60", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.stmt, func(t *testing.T) {
			prog, err := spl.Parse(tc.stmt)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			for i, in := range sampleRows() {
				want := tc.ref(in)
				row := in
				row.Fields = append(rec(nil), in.Fields...)
				kept, err := prog.Apply(&row)
				switch {
				case want.fail:
					var re *spl.RowError
					if err == nil || !asRowError(err, &re) {
						t.Errorf("row %d: want a row error, got kept=%v err=%v fields=%v", i, kept, err, row.Fields)
					}
					continue
				case err != nil:
					t.Errorf("row %d: unexpected error %v", i, err)
					continue
				case kept != want.keep:
					t.Errorf("row %d: kept = %v, want %v", i, kept, want.keep)
					continue
				}
				if !kept {
					continue
				}
				if len(row.Fields) == 0 && len(want.out) == 0 {
					continue
				}
				if !reflect.DeepEqual(row.Fields, want.out) {
					t.Errorf("row %d:\n got %v\nwant %v", i, row.Fields, want.out)
				}
			}
		})
	}
}

func asRowError(err error, target **spl.RowError) bool {
	re, ok := err.(*spl.RowError)
	*target = re
	return ok
}

func TestExtendSetsTime(t *testing.T) {
	prog, err := spl.Parse(`* | extend __time__ = __time__ + 60, __time_ns_part__ = 5 | project uri`)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range sampleRows() {
		row := in
		row.Fields = append(rec(nil), in.Fields...)
		if _, err := prog.Apply(&row); err != nil {
			t.Fatal(err)
		}
		if row.Time != in.Time+60 || row.TimeNs != 5 {
			t.Errorf("time = %d.%d, want %d.5", row.Time, row.TimeNs, in.Time+60)
		}
	}
}

// TestBadStatements: each statement is refused with its position.
func TestBadStatements(t *testing.T) {
	for _, tc := range []struct {
		stmt      string
		line, col int
		msg       string
	}{
		{`where a = 'b'`, 1, 1, "starts with *"},
		{`* | where status >= 500`, 1, 18, "'>=' cannot be applied to varchar, bigint"},
		{`* | where status = 500`, 1, 18, "cast the field"},
		{`* | where bytes + 1 > 2`, 1, 17, "'+' cannot be applied to varchar, bigint"},
		{`* | where a = 'x`, 1, 15, "unterminated string"},
		{`* | where uri`, 1, 11, "where needs a boolean condition, got varchar"},
		{`* | stats count(*) by uri`, 1, 5, "stats is not supported"},
		{`* | frobnicate x`, 1, 5, "unknown instruction frobnicate"},
		{`* | where nosuch(uri) = 'a'`, 1, 11, "function nosuch is not supported"},
		{`* | where lower(uri, 1) = 'a'`, 1, 11, "lower takes 1 argument, got 2"},
		{`* | where length(1) > 2`, 1, 18, "argument 1 of length must be varchar, got bigint"},
		{`* | where __tag__:host = 'a'`, 1, 11, "must be double-quoted"},
		{`* | where a == 'b'`, 1, 13, "'==' is not an SQL operator"},
		{`* | where regexp_like(a, '(')`, 1, 26, "bad regular expression"},
		{`* | where a like b`, 1, 18, "pattern of LIKE must be a string literal"},
		{`* | where cast(a as date) is null`, 1, 21, "unsupported type"},
		{`* | parse-regexp line, '(\S+) (\S+)' as a`, 1, 41, "2 capturing groups but 1 output"},
		{`* | parse-regexp line, '(\S+)'`, 1, 24, "name the output fields"},
		{`* | parse-csv line`, 1, 19, "needs its output fields"},
		{`* | parse-json -mode='x' body`, 1, 16, "parse-json has no option -mode"},
		{`* | extend __topic__ = 'x'`, 1, 12, "cannot write __topic__"},
		{`* | extend __time__ = 'x'`, 1, 23, "must be set to a bigint"},
		{`* | project a=b, a=c`, 1, 18, "renames two fields to a"},
		{`* | where a = 'b' c`, 1, 19, `unexpected "c" after the where instruction`},
		{`* | where a = 'b'; * | where b = 'c'`, 1, 20, "only one statement"},
		{"*\n| where a = 'b'\n| where status >= 1", 3, 16, "cannot be applied"},
		{`* | where a in ('x', 1)`, 1, 13, "IN cannot be applied to varchar, varchar, bigint"},
		{`* | extend x = case when a = 'b' then 1 else 'c' end`, 1, 16, "CASE branches have different types"},
		{`* | where a = 'b' and 'c'`, 1, 19, "'and' needs boolean operands"},
		{`* ` + strings.Repeat("| where a = 'b' ", 17), 1, 259, "at most 16 instructions"},
	} {
		_, err := spl.Parse(tc.stmt)
		var se *spl.Error
		if err == nil {
			t.Errorf("%q: parsed; want an error", tc.stmt)
			continue
		}
		se, ok := err.(*spl.Error)
		if !ok {
			t.Errorf("%q: error %T %v, want *spl.Error", tc.stmt, err, err)
			continue
		}
		if se.Line != tc.line || se.Column != tc.col || !strings.Contains(se.Msg, tc.msg) {
			t.Errorf("%q:\n got %d:%d %s\nwant %d:%d …%s…", tc.stmt, se.Line, se.Column, se.Msg, tc.line, tc.col, tc.msg)
		}
	}
}

func ExampleParse() {
	prog, err := spl.Parse(`* | where cast(status as bigint) >= 500 | project uri, status`)
	if err != nil {
		fmt.Println(err)
		return
	}
	row := spl.Row{Fields: []spl.Field{{Key: "status", Value: "503"}, {Key: "uri", Value: "/a"}, {Key: "ua", Value: "curl"}}}
	kept, _ := prog.Apply(&row)
	fmt.Println(kept, row.Fields)
	_, err = spl.Parse(`* | where status >= 500`)
	fmt.Println(err)
	// Output:
	// true [{status 503} {uri /a}]
	// line 1, column 18: '>=' cannot be applied to varchar, bigint: log fields are varchar; compare with a string ('500') or cast the field (cast(status as bigint))
}
