package spl

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// pathStep is one step of a JSON path: a key, or an index when key is "".
type pathStep struct {
	key   string
	index int
}

// parseJSONPath parses the JSONPath subset $, .key, ['key'], ["key"], [n].
// It returns a message when the path is malformed.
func parseJSONPath(s string) ([]pathStep, string) {
	if !strings.HasPrefix(s, "$") {
		return nil, "it must start with $"
	}
	var steps []pathStep
	i := 1
	for i < len(s) {
		switch s[i] {
		case '.':
			j := i + 1
			for j < len(s) && s[j] != '.' && s[j] != '[' {
				j++
			}
			if j == i+1 {
				return nil, "empty key after '.' at " + strconv.Itoa(i+1)
			}
			steps = append(steps, pathStep{key: s[i+1 : j]})
			i = j
		case '[':
			j := strings.IndexByte(s[i:], ']')
			if j < 0 {
				return nil, "unclosed '['"
			}
			in := s[i+1 : i+j]
			i += j + 1
			if len(in) >= 2 && (in[0] == '\'' || in[0] == '"') && in[len(in)-1] == in[0] {
				steps = append(steps, pathStep{key: in[1 : len(in)-1]})
				continue
			}
			n, err := strconv.Atoi(in)
			if err != nil || n < 0 {
				return nil, "bad index [" + in + "]"
			}
			steps = append(steps, pathStep{index: n})
		default:
			return nil, "unexpected '" + s[i:i+1] + "' at " + strconv.Itoa(i+1)
		}
	}
	return steps, ""
}

// jsonAt returns the raw JSON value at path inside doc.
func jsonAt(doc string, path []pathStep) (json.RawMessage, bool) {
	cur := json.RawMessage(doc)
	for _, st := range path {
		next, ok := jsonStep(cur, st)
		if !ok {
			return nil, false
		}
		cur = next
	}
	if !json.Valid(cur) {
		return nil, false
	}
	return cur, true
}

func jsonStep(raw json.RawMessage, st pathStep) (json.RawMessage, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, false
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil, false
	}
	if st.key != "" && d == '{' {
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, false
			}
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				return nil, false
			}
			if k, _ := kt.(string); k == st.key {
				return v, true
			}
		}
		return nil, false
	}
	if st.key == "" && d == '[' {
		for n := 0; dec.More(); n++ {
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				return nil, false
			}
			if n == st.index {
				return v, true
			}
		}
	}
	return nil, false
}

// jsonScalar renders a scalar JSON value as text: a string unquoted, a
// number or boolean as written. Null, objects and arrays are not scalars.
func jsonScalar(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", false
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", false
		}
		return s, true
	case '{', '[', 'n':
		return "", false
	}
	return string(raw), true
}

// compactJSON renders a JSON value without insignificant whitespace.
func compactJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}

// jsonMembers calls fn with each member of the JSON object doc, in order,
// and reports whether doc is an object.
func jsonMembers(doc json.RawMessage, fn func(key string, raw json.RawMessage)) bool {
	dec := json.NewDecoder(bytes.NewReader(doc))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return false
	}
	type member struct {
		k string
		v json.RawMessage
	}
	var ms []member
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return false
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return false
		}
		ms = append(ms, member{kt.(string), v})
	}
	if _, err := dec.Token(); err != nil {
		return false
	}
	for _, m := range ms {
		fn(m.k, m.v)
	}
	return true
}
