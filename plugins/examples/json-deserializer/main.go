// Command json-deserializer is a deserialize module: it replaces the field holding a
// JSON object (config `field`, default `content`) by the object's members, in order, at
// the same position among the record's other fields. Strings are unquoted, null becomes
// an empty value, nested objects and arrays stay compact JSON text and other scalars
// keep their JSON spelling. A record whose field is missing or is not a JSON object is
// an error outcome naming the problem.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	slspipe "github.com/slspipe/slspipe/plugins/sdk/go"
)

var field = []byte("content")

func init() {
	slspipe.HandleInit(func(cfg slspipe.Config) error {
		if v, ok := cfg.Get("field"); ok {
			if v == "" {
				return errors.New("json-deserializer: config field must not be empty")
			}
			field = []byte(v)
		}
		return nil
	})
	slspipe.Handle(process)
}

func process(in *slspipe.Batch, out *slspipe.Output) error {
	var members [][2][]byte
	for i := 0; i < in.Len(); i++ {
		r := in.Record(i)
		at := -1
		for j := 0; j < r.NumFields(); j++ {
			if k, _ := r.Field(j); bytes.Equal(k, field) {
				at = j
				break
			}
		}
		if at < 0 {
			out.Error(i, fmt.Sprintf("json-deserializer: record has no field %q", field))
			continue
		}
		_, src := r.Field(at)
		var err error
		members, err = parseObject(members[:0], src)
		if err != nil {
			out.Error(i, fmt.Sprintf("json-deserializer: field %q: %v", field, err))
			continue
		}
		out.Emit(r.Sec, r.Nsec)
		for j := 0; j < r.NumFields(); j++ {
			if j == at {
				for _, m := range members {
					out.Field(m[0], m[1])
				}
				continue
			}
			out.Field(r.Field(j))
		}
		out.OK(i, 0)
	}
	return nil
}

// parseObject appends the members of the JSON object src to dst, in order. Strings
// without escapes are returned in place, so their bytes are not copied.
func parseObject(dst [][2][]byte, src []byte) ([][2][]byte, error) {
	p := scanner{s: src}
	p.space()
	if !p.eat('{') {
		return dst, errors.New("not a JSON object")
	}
	p.space()
	if p.eat('}') {
		return dst, p.end()
	}
	for {
		p.space()
		key, err := p.str()
		if err != nil {
			return dst, fmt.Errorf("object key: %v", err)
		}
		p.space()
		if !p.eat(':') {
			return dst, p.fail("expected ':' after key %q", key)
		}
		p.space()
		val, err := p.value()
		if err != nil {
			return dst, fmt.Errorf("value of %q: %v", key, err)
		}
		dst = append(dst, [2][]byte{key, val})
		p.space()
		if p.eat(',') {
			continue
		}
		if p.eat('}') {
			return dst, p.end()
		}
		return dst, p.fail("expected ',' or '}' after the value of %q", key)
	}
}

// scanner reads JSON from s; at is the next byte.
type scanner struct {
	s  []byte
	at int
}

func (p *scanner) fail(format string, args ...any) error {
	return fmt.Errorf(format+" at byte %d", append(args, p.at)...)
}

func (p *scanner) space() {
	for p.at < len(p.s) && (p.s[p.at] == ' ' || p.s[p.at] == '\t' || p.s[p.at] == '\n' || p.s[p.at] == '\r') {
		p.at++
	}
}

func (p *scanner) eat(c byte) bool {
	if p.at < len(p.s) && p.s[p.at] == c {
		p.at++
		return true
	}
	return false
}

func (p *scanner) end() error {
	p.space()
	if p.at != len(p.s) {
		return p.fail("data after the object")
	}
	return nil
}

// str reads a string; escaped strings are decoded by encoding/json, the rare case.
func (p *scanner) str() ([]byte, error) {
	if !p.eat('"') {
		return nil, p.fail("expected a string")
	}
	start, escaped := p.at, false
	for ; p.at < len(p.s); p.at++ {
		switch c := p.s[p.at]; {
		case c == '\\':
			escaped = true
			p.at++
		case c == '"':
			raw := p.s[start:p.at]
			p.at++
			if !escaped {
				return raw, nil
			}
			var v string
			if err := json.Unmarshal(p.s[start-1:p.at], &v); err != nil {
				return nil, err
			}
			return []byte(v), nil
		case c < 0x20:
			return nil, p.fail("control character in string")
		}
	}
	return nil, p.fail("unterminated string")
}

// value reads one value: strings unquoted, null as empty, nested objects and arrays as
// compact JSON text, numbers and booleans as written.
func (p *scanner) value() ([]byte, error) {
	if p.at >= len(p.s) {
		return nil, p.fail("missing value")
	}
	start := p.at
	switch c := p.s[p.at]; {
	case c == '"':
		return p.str()
	case c == '{' || c == '[':
		if err := p.skipNested(); err != nil {
			return nil, err
		}
		var b bytes.Buffer
		if err := json.Compact(&b, p.s[start:p.at]); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	case c == '-' || (c >= '0' && c <= '9'):
		for p.at < len(p.s) && strings.IndexByte("0123456789+-.eE", p.s[p.at]) >= 0 {
			p.at++
		}
		if _, err := strconv.ParseFloat(string(p.s[start:p.at]), 64); err != nil {
			return nil, p.fail("bad number %q", p.s[start:p.at])
		}
		return p.s[start:p.at], nil
	}
	for _, lit := range []string{"true", "false", "null"} {
		if bytes.HasPrefix(p.s[p.at:], []byte(lit)) {
			p.at += len(lit)
			if lit == "null" {
				return []byte{}, nil
			}
			return p.s[start:p.at], nil
		}
	}
	return nil, p.fail("invalid value")
}

// skipNested moves past a nested object or array, minding strings.
func (p *scanner) skipNested() error {
	depth := 0
	for ; p.at < len(p.s); p.at++ {
		switch p.s[p.at] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				p.at++
				return nil
			}
		case '"':
			if _, err := p.str(); err != nil {
				return err
			}
			p.at--
		}
	}
	return p.fail("unterminated object or array")
}

func main() {}
