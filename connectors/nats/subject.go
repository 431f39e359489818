package nats

import (
	"fmt"
	"strings"
	"sync"

	"github.com/slspipe/slspipe/engine"
)

// subjectTemplate is a publish subject with {{field}} placeholders,
// compiled once.
//
// # Notes
//
//   - A record whose Subject is set (by a serializer) is published there;
//     the template is not used.
//   - A placeholder takes the value of the record's first field of that
//     name. A record without the field, or with an empty value, is an
//     error for that record: it is never published to a guessed subject.
//   - Bytes that cannot appear in a subject token (whitespace, control
//     characters, '*', '>') become '_'. A '.' in a value is kept and makes
//     more tokens (host "a.example.com" in logs.{{host}} gives
//     logs.a.example.com).
type subjectTemplate struct {
	raw    string
	static string        // the subject when parts is empty
	parts  []subjectPart // literals and field references, in order
	mu     sync.Mutex    // guards cache
	cache  map[string]string
}

type subjectPart struct {
	literal string
	field   string // a placeholder when not empty
}

// subjectCacheSize bounds the interned subjects of a template.
const subjectCacheSize = 4096

func compileSubject(t string) (*subjectTemplate, error) {
	st := &subjectTemplate{raw: t}
	if !strings.Contains(t, "{{") {
		if t == "" {
			return nil, fmt.Errorf("subject is empty")
		}
		st.static = t
		return st, nil
	}
	rest := t
	for rest != "" {
		i := strings.Index(rest, "{{")
		if i < 0 {
			st.parts = append(st.parts, subjectPart{literal: rest})
			break
		}
		if i > 0 {
			st.parts = append(st.parts, subjectPart{literal: rest[:i]})
		}
		j := strings.Index(rest[i:], "}}")
		if j < 0 {
			return nil, fmt.Errorf("subject %q has an unclosed {{", t)
		}
		name := strings.TrimSpace(rest[i+2 : i+j])
		if name == "" {
			return nil, fmt.Errorf("subject %q has an empty {{}}", t)
		}
		st.parts = append(st.parts, subjectPart{field: name})
		rest = rest[i+j+2:]
	}
	st.cache = make(map[string]string)
	return st, nil
}

// subject returns the subject for r; buf is scratch space, returned grown.
func (st *subjectTemplate) subject(r *engine.Record, buf []byte) (string, []byte, error) {
	if r.Subject != "" {
		return r.Subject, buf, nil
	}
	if st.parts == nil {
		return st.static, buf, nil
	}
	buf = buf[:0]
	for _, p := range st.parts {
		if p.field == "" {
			buf = append(buf, p.literal...)
			continue
		}
		v, ok := r.Get(p.field)
		if !ok || len(v) == 0 {
			return "", buf, fmt.Errorf("record has no value for field %q of subject template %q", p.field, st.raw)
		}
		for _, c := range v {
			if c <= ' ' || c == '*' || c == '>' || c == 0x7f {
				c = '_'
			}
			buf = append(buf, c)
		}
	}
	st.mu.Lock()
	s, ok := st.cache[string(buf)]
	if !ok {
		s = string(buf)
		if len(st.cache) < subjectCacheSize {
			st.cache[s] = s
		}
	}
	st.mu.Unlock()
	return s, buf, nil
}

// wildcard returns a subject filter capturing every subject the template
// can produce: its literal tokens before the first placeholder, then '>'
// (values may hold dots, so later tokens cannot be pinned).
func (st *subjectTemplate) wildcard() string {
	if st.parts == nil {
		return st.static
	}
	lit := st.parts[0].literal
	if i := strings.LastIndexByte(lit, '.'); i >= 0 {
		return lit[:i+1] + ">"
	}
	return ">"
}
