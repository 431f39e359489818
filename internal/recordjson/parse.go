package recordjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/slspipe/slspipe/engine"
)

// Parse reads one JSON object into r, the inverse of Append: "__time__"
// and "__time_ns__" set the record's time, "__topic__" and "__source__" its
// topic and source, "__tag__:key" appends a tag, and every other member
// appends a field, in order. String values are unquoted, null becomes the
// empty string, and other values keep their compact JSON text. Members that
// are absent leave r as it was, so a caller can start from defaults.
//
// # Notes
//
// The object must be the whole input: anything after it is an error.
func Parse(r *engine.Record, data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("not a JSON object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("bad object key: %w", err)
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("bad value of %q: %w", key, err)
		}
		val, err := text(raw)
		if err != nil {
			return fmt.Errorf("bad value of %q: %w", key, err)
		}
		switch {
		case key == "__time__":
			sec, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				return fmt.Errorf("__time__ %q: want Unix seconds", val)
			}
			r.Time.Sec = sec
		case key == "__time_ns__":
			ns, err := strconv.ParseUint(val, 10, 32)
			if err != nil || ns >= 1e9 {
				return fmt.Errorf("__time_ns__ %q: want nanoseconds below 1e9", val)
			}
			r.Time.Nsec = uint32(ns)
		case key == "__topic__":
			r.Topic = val
		case key == "__source__":
			r.Source = val
		case strings.HasPrefix(key, "__tag__:"):
			r.Tags = append(r.Tags, engine.Field{Key: []byte(key[len("__tag__:"):]), Value: []byte(val)})
		default:
			r.Fields = append(r.Fields, engine.Field{Key: []byte(key), Value: []byte(val)})
		}
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("unterminated object: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// text returns a JSON string's contents, null as "", and any other value
// as its compact JSON text.
func text(raw json.RawMessage) (string, error) {
	switch raw[0] {
	case '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case 'n':
		return "", nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return "", err
	}
	return b.String(), nil
}
